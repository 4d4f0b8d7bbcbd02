"""Which training-set columns are model inputs, and how they are typed for the models."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from features.engagement import DAYS_SINCE_TOUCH_CAP
from features.snapshot import EVENT_MEASURES, FEATURE_GROUPS
from features.usage import DAYS_SINCE_LOGIN_CAP

LABEL = "churned_within_horizon"
CATEGORICAL = tuple(c for group in FEATURE_GROUPS.values() for c, kind in group.items()
                    if kind == "str")


#: A per-event feature: ``event_<event>_<measure>``, the event a slot number or a name.
_PER_EVENT = re.compile(r"^event_(.+?)_(" + "|".join(EVENT_MEASURES) + ")$")


def per_event_parts(column: str) -> tuple[str, str] | None:
    """(event, measure) of a per-event feature name, None for any other column."""
    found = _PER_EVENT.match(column)
    return (found.group(1), found.group(2)) if found else None


def per_event_columns(frame: pd.DataFrame, measure: str | None = None) -> list[str]:
    """The per-event feature columns of ``frame`` (of one ``measure``, e.g. ``30d``)."""
    return [c for c in frame.columns if (parts := per_event_parts(c))
            and measure in (None, parts[1])]


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """Snapshot features present in ``frame``, in catalogue order; per-event features
    (named by slot or by event) where the catalogue puts their group."""
    per_event = per_event_columns(frame)
    columns = []
    for name, group in FEATURE_GROUPS.items():
        if name == "account_event_mix":
            columns.extend(per_event)
        else:
            columns.extend(c for c in group if c in frame.columns)
    return columns


#: Days-since features capped at the account's age and a ceiling.
RECENCY_CAPS = {"days_since_last_login": DAYS_SINCE_LOGIN_CAP,
                "days_since_last_cs_touch": DAYS_SINCE_TOUCH_CAP}


def recency_measured(frame: pd.DataFrame, column: str) -> bool:
    """Whether a ``RECENCY_CAPS`` feature measures anything: some account is below its
    tenure (capped at the ceiling). Where the export records no login (or no routine CS
    touch), every account shows its capped tenure, which says nothing the event would."""
    if column not in frame:
        return False
    since = pd.to_numeric(frame[column], errors="coerce")
    if "tenure_days" not in frame:
        return since.nunique(dropna=True) > 1
    ceiling = np.minimum(pd.to_numeric(frame["tenure_days"], errors="coerce"),
                         RECENCY_CAPS[column])
    return bool((since < ceiling).any())


def login_measured(frame: pd.DataFrame) -> bool:
    """Whether ``days_since_last_login`` measures logins (``recency_measured``)."""
    return recency_measured(frame, "days_since_last_login")


def unmeasured_recency(frame: pd.DataFrame) -> set[str]:
    """The ``RECENCY_CAPS`` features of ``frame`` that measure nothing."""
    return {c for c in RECENCY_CAPS if c in frame and not recency_measured(frame, c)}


_RISKIER_WHEN_HIGHER = ("days_since_last_login", "error_rate_30d", "failed_payments_90d",
                        "late_payments_90d", "open_tickets", "open_high_priority_tickets",
                        "tickets_30d", "days_since_last_cs_touch")
_SAFER_WHEN_HIGHER = ("active_users_7d", "active_users_30d", "dau_mau_ratio",
                      "active_users_per_seat", "events_7d", "events_30d",
                      "events_per_active_user_30d", "core_feature_breadth_30d",
                      "core_events_per_active_user_30d", "usage_velocity_30d",
                      "events_wow_change", "active_users_wow_change", "active_users_mom_change",
                      "avg_csat_90d", "nps_latest", "nps_trend", "mrr_change_90d",
                      "mrr_change_90d_pct", "cs_touches_30d", "cs_touches_90d",
                      "cs_meetings_90d", "executive_contacts_180d")

#: The way a feature moves risk in customer-success practice: +1 riskier as it grows, -1
#: safer. A reason against this reading ("Last CSM touch 3 days ago" raising the risk) is
#: faithful to the model, which may use the feature as a stand-in for something else, but a
#: CSM cannot act on it, so reasons leave it out (models.scoring.reasons). Per-event and
#: context features have no fixed direction.
RISK_DIRECTION: dict[str, int] = {**dict.fromkeys(_RISKIER_WHEN_HIGHER, 1),
                                  **dict.fromkeys(_SAFER_WHEN_HIGHER, -1)}


def typical_values(values: pd.DataFrame) -> pd.Series:
    """The median of each ``RISK_DIRECTION`` feature of ``values``: the typical account a
    reason is read against."""
    columns = [c for c in RISK_DIRECTION if c in values]
    return values[columns].apply(pd.to_numeric, errors="coerce").astype(float).median()


def informative_columns(frame: pd.DataFrame,
                        columns: list[str]) -> tuple[list[str], list[str]]:
    """(kept, dropped): a column with fewer than two distinct values (empty or constant)
    teaches a model nothing and would break its fit, so it is left out; so is a days-since
    feature the export does not measure (``unmeasured_recency``: no login, no routine CS
    touch), so that no model speaks of logins or touches that never happened."""
    unmeasured = unmeasured_recency(frame)
    kept = [c for c in columns if c not in unmeasured and frame[c].nunique(dropna=True) >= 2]
    return kept, [c for c in columns if c not in kept]


def model_matrix(frame: pd.DataFrame, columns: list[str],
                 categories: dict[str, list[str]]) -> pd.DataFrame:
    """Features typed for XGBoost: numbers as float, strings as categories fixed at training.

    A category unseen at training becomes missing instead of a new code.
    """
    matrix = pd.DataFrame(index=frame.index)
    for column in columns:
        if column in categories:
            matrix[column] = pd.Categorical(frame[column].astype("object"),
                                            categories=categories[column])
        else:
            matrix[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return matrix


def learn_categories(frame: pd.DataFrame, columns: list[str]) -> dict[str, list[str]]:
    """Sorted category values of the categorical feature columns seen in training."""
    return {c: sorted(frame[c].dropna().astype(str).unique()) for c in columns
            if c in CATEGORICAL}


def model_input(frame: pd.DataFrame) -> pd.DataFrame:
    """The feature columns as the registered model's signature declares them: numbers as
    float64 (nullable), categories as strings. Use it before calling the pyfunc model."""
    columns = feature_columns(frame)
    typed = frame[columns].copy()
    for column in columns:
        if column in CATEGORICAL:
            typed[column] = typed[column].astype("object")
        else:
            typed[column] = pd.to_numeric(typed[column], errors="coerce").astype("float64")
    return typed
