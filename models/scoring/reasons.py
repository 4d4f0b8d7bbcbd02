"""Reasons a CSM can read: the features that moved an account's churn score the most.

Reasons come from exact contributions to the classifier's margin (log-odds: TreeSHAP for
XGBoost, coefficient times centred value for the logistic model), so for
every account ``base_value + sum(all contributions) == margin``; the top reasons plus
``other_effect`` (everything not shown) add up to the same margin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from features.event_vocabulary import event_feature_names
from models.inputs import RISK_DIRECTION, per_event_parts, typical_values


def _signed_percent(v: float) -> str:
    return f"{'rose' if v > 0 else 'fell'} {abs(v):.0%}"


def _count(v: float, noun: str, plural: str | None = None) -> str:
    return f"{v:.0f} {noun if round(v) == 1 else plural or noun + 's'}"


#: feature -> sentence for its value (the value is never missing when called)
SENTENCES: dict[str, Callable[[object], str]] = {
    "active_users_7d": lambda v: f"{_count(v, 'active user')} in the last 7 days",
    "active_users_30d": lambda v: f"{_count(v, 'active user')} in the last 30 days",
    "dau_mau_ratio": lambda v: f"Daily/monthly active users at {v:.0%}",
    "active_users_per_seat": lambda v: f"{v:.0%} of paid seats active in the last 30 days",
    "events_7d": lambda v: f"{_count(v, 'product event')} in the last 7 days",
    "events_30d": lambda v: f"{_count(v, 'product event')} in the last 30 days",
    "events_per_active_user_30d": lambda v: f"{v:.1f} events per active user in 30 days",
    "core_feature_breadth_30d": lambda v: f"Uses {v:.0%} of the core features",
    "core_events_per_active_user_30d":
        lambda v: f"{v:.1f} core-feature actions per active user in 30 days",
    "days_since_last_login": lambda v: f"Last login {_count(v, 'day')} ago",
    "usage_velocity_30d": lambda v: f"Usage {_signed_percent(v)} over the last 30 days",
    "events_wow_change": lambda v: f"Usage {_signed_percent(v)} week over week",
    "active_users_wow_change": lambda v: f"Active users {_signed_percent(v)} week over week",
    "active_users_mom_change": lambda v: f"Active users {_signed_percent(v)} over the last 30 "
                                         "days",
    "error_rate_30d": lambda v: f"{v:.1%} of product events were errors in 30 days",
    "plan": lambda v: f"On the {v} plan",
    "billing_period": lambda v: f"Billed {v}",
    "seats": lambda v: f"{_count(v, 'paid seat')}",
    "mrr": lambda v: f"MRR ${v:,.0f}",
    "mrr_change_90d": lambda v: f"MRR {'grew' if v > 0 else 'shrank'} by ${abs(v):,.0f} "
                                "over 90 days" if v else "MRR unchanged over 90 days",
    "mrr_change_90d_pct": lambda v: f"MRR {_signed_percent(v)} over 90 days",
    "days_to_renewal": lambda v: f"Renewal in {_count(v, 'day')}",
    "tenure_days": lambda v: f"Customer for {_count(v, 'day')}",
    "segment": lambda v: f"{v} account",
    "industry": lambda v: f"Industry: {v}",
    "failed_payments_90d": lambda v: f"{_count(v, 'failed payment')} in the last 90 days",
    "late_payments_90d": lambda v: f"{_count(v, 'late payment')} in the last 90 days",
    "open_tickets": lambda v: f"{_count(v, 'open support ticket')}",
    "open_high_priority_tickets": lambda v: f"{_count(v, 'open high-priority ticket')}",
    "tickets_30d": lambda v: f"{_count(v, 'support ticket')} opened in 30 days",
    "avg_csat_90d": lambda v: f"Average CSAT {v:.1f}/5 over 90 days",
    "nps_latest": lambda v: f"Recent NPS score {v:.1f}/10",
    "nps_trend": lambda v: f"NPS {'up' if v > 0 else 'down'} {abs(v):.1f} points",
    "cs_touches_30d": lambda v: f"{_count(v, 'CSM touch', 'CSM touches')} in the last 30 days",
    "cs_touches_90d": lambda v: f"{_count(v, 'CSM touch', 'CSM touches')} in the last 90 days",
    "cs_meetings_90d": lambda v: f"{_count(v, 'meeting')} with the customer in 90 days",
    "executive_contacts_180d": lambda v: f"{_count(v, 'executive contact')} in 180 days",
    "days_since_last_cs_touch": lambda v: f"Last CSM touch {_count(v, 'day')} ago",
}


#: Sentences of the per-event-name features (features.usage), for event name ``e``.
_EVENT_SENTENCES = {
    "7d": lambda e: lambda v: f"{_count(v, repr(e) + ' event')} in the last 7 days",
    "30d": lambda e: lambda v: f"{_count(v, repr(e) + ' event')} in the last 30 days",
    "90d": lambda e: lambda v: f"{_count(v, repr(e) + ' event')} in the last 90 days",
    "per_user_30d": lambda e: lambda v: f"{v:.1f} {e!r} events per active user in 30 days",
    "mom_change": lambda e: lambda v: f"{e!r} events {_signed_percent(v)} over the last 30 "
                                      "days",
}


def describe(feature: str, value: object, event_names: Sequence[str] = ()) -> str:
    """The sentence for one feature value (``missing_sentence`` when missing)."""
    return describe_all(feature, [value], event_names)[0]


def _writer(feature: str, event_names: Sequence[str]) -> Callable[[object], str] | None:
    """The sentence writer of a feature; per-event features name their event as the export
    spells it (``event_names``: the tracked names, slot k the k-th)."""
    if feature in SENTENCES:
        return SENTENCES[feature]
    parts = per_event_parts(feature)
    if parts is None or parts[1] not in _EVENT_SENTENCES:
        return None
    event, measure = parts
    if event.isdigit():
        k = int(event)
        event = event_names[k - 1] if k <= len(event_names) else f"event {k}"
    else:
        event = dict(zip(event_feature_names(event_names), event_names,
                         strict=True)).get(event, event)
    return _EVENT_SENTENCES[measure](event)


def missing_sentence(feature: str) -> str:
    """What a missing value of ``feature`` means, where it means something: a per-user rate
    has no users to divide by, an NPS feature no response."""
    if "per_user" in feature or "per_active_user" in feature:
        return "No active users in the last 30 days"
    if feature.startswith("nps_"):
        return "No recent NPS response"
    return f"{feature.replace('_', ' ')} unknown"


def describe_all(feature: str, values, event_names: Sequence[str] = ()) -> list[str]:
    """The sentences for many values of one feature: one writer lookup for them all."""
    name = feature.replace("_", " ")
    writer = _writer(feature, event_names) or (lambda v: f"{name} = {v}")
    # one sentence per distinct value: counts, plans and segments repeat across accounts
    codes, distinct = pd.factorize(np.asarray(values, dtype=object))
    said = [writer(value) for value in distinct] + [missing_sentence(feature)]
    return [said[code] for code in codes.tolist()]  # code -1: missing


def values_and_sentences(values: pd.DataFrame, features: list[str], rows: np.ndarray,
                         columns: np.ndarray, event_names: Sequence[str] = ()
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The value (a Python object) and sentence of each cell (``rows[i]``, the feature
    ``features[columns[i]]``) of ``values``, positionally.

    Feature by feature: only the chosen cells become Python objects (not the whole table),
    and each feature's writer is looked up once.
    """
    chosen_values = np.empty(len(rows), dtype=object)
    sentences = np.empty(len(rows), dtype=object)
    for index, feature in enumerate(features):
        at = np.flatnonzero(columns == index)
        if len(at):
            chosen_values[at] = values[feature].iloc[rows[at]].to_numpy(dtype=object)
            sentences[at] = describe_all(feature, chosen_values[at], event_names)
    return chosen_values, sentences


#: Descriptive context: it helps the model, but a CSM cannot act on it, so it is a reason
#: only for an account with no behavioural feature raising its risk.
CONTEXT_FEATURES = ("plan", "billing_period", "segment", "industry", "tenure_days", "mrr",
                    "seats")


def reads_backwards(effects: np.ndarray, values: pd.DataFrame, features: Sequence[str],
                    typical: pd.Series | None = None) -> np.ndarray:
    """Cells (accounts x ``features``) whose effect contradicts ``RISK_DIRECTION``: raising
    the risk while the value is no worse than the typical account's, or lowering it while
    the value is worse.

    ``typical``: the reference value per feature, by default the median over ``values``
    (the accounts scored together). A missing value has no direction and never reads
    backwards.
    """
    typical = typical_values(values) if typical is None else typical
    backwards = np.zeros(effects.shape, dtype=bool)
    for column, feature in enumerate(features):
        sign = RISK_DIRECTION.get(feature)
        if sign is None or feature not in values:
            continue
        value = pd.to_numeric(values[feature], errors="coerce").to_numpy(float,
                                                                          na_value=np.nan)
        reference = typical.get(feature, np.nan)
        # how much worse than typical the account is, in the risky direction
        worse = sign * (value - reference)
        effect = effects[:, column]
        backwards[:, column] = ((effect > 0) & (worse <= 0)) | ((effect < 0) & (worse > 0))
    return backwards


def repeated_sentences(rank_by: np.ndarray, values: pd.DataFrame,
                       features: Sequence[str]) -> np.ndarray:
    """Cells (accounts x ``features``) that would repeat a sentence another cell of the same
    account says: a missing value of several features reads the same ("No active users in
    the last 30 days" for every per-user rate), so only the best ranked (``rank_by``) of
    them is not a repeat."""
    repeats = np.zeros(rank_by.shape, dtype=bool)
    shared: dict[str, list[int]] = {}
    for column, feature in enumerate(features):
        if feature in values:
            shared.setdefault(missing_sentence(feature), []).append(column)
    for columns in (c for c in shared.values() if len(c) > 1):
        missing = pd.isna(values[[features[c] for c in columns]]).to_numpy()
        if not missing.any():
            continue
        best = np.where(missing, rank_by[:, columns], -np.inf).argmax(axis=1)
        repeated = missing.copy()
        repeated[np.arange(len(repeated)), best] = False
        repeats[:, columns] = repeated
    return repeats


def top_reasons(contributions: pd.DataFrame, values: pd.DataFrame, *,
                k: int = 3, event_names: Sequence[str] = (),
                context: Sequence[str] = CONTEXT_FEATURES,
                typical: pd.Series | None = None) -> pd.DataFrame:
    """The ``k`` largest contributions per account, largest |effect| first, behaviour before
    context: where a behavioural feature raises an account's risk, the ``context`` features
    (``CONTEXT_FEATURES``) come after every behavioural one. A contribution that reads
    backwards (``reads_backwards``, against ``typical``), or would repeat another's sentence
    (``repeated_sentences``), comes after all others: it is shown only where fewer than
    ``k`` others exist, and otherwise counts in ``other_effect``.

    ``contributions``: SHAP values per feature plus a ``bias`` column (the base value), one
    row per account; ``values``: the same accounts' feature values. Returns ``k`` rows per
    account (account by account, in ``contributions`` order; rank 1 first) with
    ``feature, value, effect`` (log-odds), ``direction`` and ``sentence``, and per account
    ``other_effect`` and ``base_value`` so that base_value + sum(effect) + other_effect
    equals the model margin.
    """
    features = [c for c in contributions.columns if c != "bias"]
    effects = contributions[features].to_numpy(dtype=float)
    k = min(k, len(features))
    is_context = np.isin(features, list(context))
    backwards = reads_backwards(effects, values, features, typical)
    behaviour_raises = ((effects > 0) & ~is_context[None, :] & ~backwards).any(axis=1)
    demoted = is_context[None, :] & behaviour_raises[:, None]
    # |effect| ranks within each tier: behaviour (and context where nothing behavioural
    # raises the risk), then demoted context, then what reads backwards
    step = np.abs(effects).max(initial=0) + 1
    rank_by = np.abs(effects) - step * (demoted + 2 * backwards)
    rank_by -= 2 * step * repeated_sentences(rank_by, values, features)
    order = _largest_columns(rank_by, k)
    rows = np.repeat(np.arange(len(effects)), k)
    columns = order.ravel()
    chosen = effects[rows, columns]
    shown = np.zeros(len(effects))
    np.add.at(shown, rows, chosen)
    feature_names = np.array(features)[columns]
    chosen_values, sentences = values_and_sentences(values, features, rows, columns,
                                                    event_names)
    return pd.DataFrame({
        "account_index": contributions.index.to_numpy()[rows],
        "rank": np.tile(np.arange(1, k + 1), len(effects)),
        "feature": feature_names,
        "value": chosen_values,
        "effect": chosen,
        "direction": np.where(chosen > 0, "raises risk", "lowers risk"),
        "sentence": sentences,
        "other_effect": (effects.sum(axis=1) - shown)[rows],
        "base_value": contributions["bias"].to_numpy()[rows],
    })


def _largest_columns(rank_by: np.ndarray, k: int) -> np.ndarray:
    """The columns of each row's ``k`` largest values, largest first, ties to the leftmost
    column (what a stable sort gives): k passes of argmax, not a sort of every column."""
    remaining = rank_by.copy()
    order = np.empty((len(rank_by), k), dtype=np.int64)
    every_row = np.arange(len(rank_by))
    for place in range(k):
        order[:, place] = remaining.argmax(axis=1) if remaining.size else 0
        remaining[every_row, order[:, place]] = -np.inf
    return order
