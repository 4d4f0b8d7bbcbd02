"""Activation and time to value: whether a new account has started to use the product the
way accounts that stay do, how long that takes, and which new accounts need onboarding.

An account is *activated* when, in 30 days, it performs each activation event at least its
threshold number of times. The definition comes from the scoring YAML (``activation``) or,
where it names no events, from the data: among accounts about a month old (tenure 30-36
days) that did not churn within the horizon, the ``DEFAULT_EVENTS`` tracked events most of
them used (logins and errors aside: they say nothing about value), each at the count three
in four of those that used it reached.

*Time to value* is the tenure of an account's first weekly as-of date at which it was
activated (to the week); per signup month, the share activated within 30, 60 and 90 days
and the median time. The *onboarding queue* is the accounts between 30 and 60 days old
(``onboarding_days``) that are not activated, with what they miss.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from features.event_vocabulary import event_feature_names

#: Events a definition learned from the data holds.
DEFAULT_EVENTS = 3
#: The share of an event's users at or above its learned threshold is 1 minus this.
THRESHOLD_QUANTILE = 0.25
#: The tenure (days) of the accounts a default definition is learned from.
LEARNED_AT_TENURE = (30, 37)
QUEUE_COLUMNS = ["account_id", "csm_owner", "tenure_days", "arr", "missing"]


class ActivationConfig(BaseModel):
    """Which events, how often in 30 days, and at what age an unactivated account is
    queued for onboarding; no events: learned from the data."""

    events: dict[str, float] = Field(default_factory=dict)
    onboarding_days: tuple[int, int] = (30, 60)


def _column(event: str, names: list[str]) -> str:
    """The 30-day count column of a tracked event name."""
    readable = dict(zip(names, event_feature_names(names), strict=True))
    return f"event_{readable.get(event, event)}_30d"


def activation_definition(training: pd.DataFrame, tracked_events: list[str], *,
                          config: ActivationConfig | None = None,
                          ignore: set[str] = frozenset()) -> pd.DataFrame:
    """``event, min_events_30d, source`` (``configured`` or ``learned``): the configured
    events, else learned from the month-old accounts that stayed (``ignore``: names never
    chosen, e.g. logins and errors)."""
    config = config or ActivationConfig()
    if config.events:
        return pd.DataFrame({"event": list(config.events),
                             "min_events_30d": list(config.events.values()),
                             "source": "configured"})
    low, high = LEARNED_AT_TENURE
    stayed = training[training["tenure_days"].between(low, high - 1)
                      & (training["churned_within_horizon"] == 0)]
    rows = []
    for event in tracked_events:
        column = _column(event, tracked_events)
        if event in ignore or column not in stayed or stayed.empty:
            continue
        counts = pd.to_numeric(stayed[column], errors="coerce").fillna(0)
        used = counts[counts > 0]
        if len(used):
            rows.append({"event": event, "share_using": len(used) / len(counts),
                         "min_events_30d": float(max(1.0, np.floor(
                             used.quantile(THRESHOLD_QUANTILE))))})
    learned = pd.DataFrame(rows, columns=["event", "share_using", "min_events_30d"])
    learned = learned.sort_values("share_using", ascending=False).head(DEFAULT_EVENTS)
    return learned[["event", "min_events_30d"]].assign(source="learned").reset_index(
        drop=True)


def activated(frame: pd.DataFrame, definition: pd.DataFrame,
              tracked_events: list[str]) -> np.ndarray:
    """Whether each row's last 30 days meet every activation threshold (False for an event
    the row does not count; no definition: nobody)."""
    if definition.empty:
        return np.zeros(len(frame), dtype=bool)
    result = np.ones(len(frame), dtype=bool)
    for event, threshold in zip(definition["event"], definition["min_events_30d"],
                                strict=True):
        column = _column(event, tracked_events)
        counts = (pd.to_numeric(frame[column], errors="coerce").fillna(0).to_numpy(float)
                  if column in frame else np.zeros(len(frame)))
        result &= counts >= threshold
    return result


def time_to_value(training: pd.DataFrame, definition: pd.DataFrame,
                  tracked_events: list[str], signup: pd.Series) -> pd.DataFrame:
    """Per signup month (``signup``: each account's first day): accounts followed for 90
    days, the share activated within 30, 60 and 90 days, and the median days to value."""
    rows = training[training["tenure_days"] <= 90].assign(
        is_activated=lambda f: activated(f, definition, tracked_events))
    first = rows[rows["is_activated"]].groupby("account_id")["tenure_days"].min()
    followed = training.groupby("account_id")["tenure_days"].max()
    accounts = pd.DataFrame({"followed": followed[followed >= 90]})
    accounts["days_to_value"] = first.reindex(accounts.index)
    accounts["cohort"] = pd.to_datetime(signup.reindex(accounts.index)).dt.to_period("M")
    accounts = accounts.dropna(subset=["cohort"])
    table = accounts.groupby("cohort").agg(
        accounts=("followed", "size"),
        activated_30d=("days_to_value", lambda d: float((d <= 30).mean())),
        activated_60d=("days_to_value", lambda d: float((d <= 60).mean())),
        activated_90d=("days_to_value", lambda d: float(d.notna().mean())),
        median_days_to_value=("days_to_value", "median")).reset_index()
    table["cohort"] = table["cohort"].astype(str)
    return table


def onboarding_queue(snapshot: pd.DataFrame, scores: pd.DataFrame,
                     definition: pd.DataFrame, tracked_events: list[str],
                     config: ActivationConfig | None = None) -> pd.DataFrame:
    """The accounts ``onboarding_days`` old and not activated (``snapshot``: the day's
    features, per-event columns readable), largest ARR first, with what they miss."""
    config = config or ActivationConfig()
    low, high = config.onboarding_days
    young = snapshot[snapshot["tenure_days"].between(low, high)]
    young = young[~activated(young, definition, tracked_events)]
    gaps = []
    for event, threshold in zip(definition["event"], definition["min_events_30d"],
                                strict=True):
        column = _column(event, tracked_events)
        counts = (pd.to_numeric(young[column], errors="coerce").fillna(0).astype(int)
                  if column in young else pd.Series(0, index=young.index))
        gaps.append(np.where(counts < threshold,
                             f"{event} " + counts.astype(str) + f" of {threshold:.0f}", ""))
    missing = (["; ".join(g for g in row if g) + " in 30 days"
                for row in zip(*gaps, strict=True)] if gaps
               else ["no activation events defined"] * len(young))
    queue = young[["account_id", "tenure_days"]].assign(missing=missing).merge(
        scores[[c for c in ("account_id", "csm_owner", "arr") if c in scores]],
        on="account_id", how="left")
    for column in QUEUE_COLUMNS:
        if column not in queue:
            queue[column] = np.nan
    return queue[QUEUE_COLUMNS].sort_values(["arr", "account_id"], ascending=[False, True],
                                            ignore_index=True)


def activation_check(training: pd.DataFrame, definition: pd.DataFrame,
                     tracked_events: list[str], tenure: tuple[int, int] = (56, 63)
                     ) -> dict[str, float]:
    """Whether the definition means something: among accounts about two months old with a
    known outcome, the churn within the horizon of the activated and of the others."""
    rows = training[training["tenure_days"].between(*tenure)]
    if "label_complete" in rows:
        rows = rows[rows["label_complete"].astype(bool)]
    is_activated = activated(rows, definition, tracked_events)
    churn = rows["churned_within_horizon"].to_numpy(float)
    return {"accounts": len(rows), "activated_share": float(is_activated.mean())
            if len(rows) else np.nan,
            "churn_activated": float(churn[is_activated].mean()) if is_activated.any()
            else np.nan,
            "churn_not_activated": float(churn[~is_activated].mean())
            if (~is_activated).any() else np.nan}
