"""Whether each early-warning signal earns its place, measured on the history like the
models: on the walk-forward folds' test dates, the churn rate among the accounts the signal
flags (its precision) against the churn rate of all accounts (the base rate), and how long
before churn it flags them (lead time).

A signal whose precision is not above the base rate flags accounts no likelier to churn
than any other: it is off by default (``SignalRule.enabled`` overrides either way). One
whose precision is above the base rate but whose 95 % interval still includes it is kept on
and called unproven.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models.alerts.signals import SignalRule, signals_holding
from models.analysis.interventions import wilson_interval
from models.walk_forward import Fold

#: Verdicts, and whether the signal is on unless its rule says otherwise.
EARNS_ITS_PLACE, UNPROVEN, NO_LIFT, NOT_MEASURED = (
    "earns its place", "unproven", "no lift", "not measured in the history")
ON_BY_DEFAULT = {EARNS_ITS_PLACE: True, UNPROVEN: True, NO_LIFT: False, NOT_MEASURED: True}
#: Columns of the table ``signal_quality`` returns.
QUALITY_COLUMNS = ["signal", "verdict", "on", "alerted", "churned", "precision",
                   "precision_low", "precision_high", "base_rate", "lift",
                   "median_lead_days", "folds"]


def signal_quality(training: pd.DataFrame, rules: list[SignalRule], folds: list[Fold], *,
                   label: str = "churned_within_horizon") -> pd.DataFrame:
    """Per rule, pooled over the folds' test dates (rows with a complete label): accounts
    flagged, how many churned within the horizon, precision with its Wilson interval, base
    rate, lift (precision ÷ base rate), the median days from a flagged date to churn, and
    the verdict; ``on`` applies the rule's ``enabled`` over the verdict's default."""
    as_of = pd.to_datetime(training["as_of_date"])
    tested = np.zeros(len(training), dtype=bool)
    for fold in folds:
        tested |= fold.test_mask(as_of)
    if "label_complete" in training:
        tested &= training["label_complete"].astype(bool).to_numpy()
    rows = training[tested].reset_index(drop=True)
    outcome = rows[label].to_numpy(dtype=bool)
    base_rate = float(outcome.mean()) if len(rows) else math.nan
    # a rule on a column the history lacks, or does not vary in it, says nothing about it
    holding = signals_holding(rows, rules) if len(rows) else {}
    records = []
    for rule in rules:
        flagged = holding.get(rule.name, np.zeros(len(rows), dtype=bool))
        measured = (len(rows) > 0 and all(c in rows for c in rule.when)
                    and bool(flagged.any() or _varies(rows, rule)))
        n, churned = int(flagged.sum()), int((flagged & outcome).sum())
        low, high = wilson_interval(churned, n)
        precision = churned / n if n else math.nan
        lead = (rows.loc[flagged & outcome, "duration_days"].median()
                if "duration_days" in rows and churned else math.nan)
        verdict = (NOT_MEASURED if not measured or n == 0
                   else EARNS_ITS_PLACE if low > base_rate
                   else UNPROVEN if precision > base_rate else NO_LIFT)
        records.append({
            "signal": rule.name, "verdict": verdict,
            "on": ON_BY_DEFAULT[verdict] if rule.enabled is None else rule.enabled,
            "alerted": n, "churned": churned, "precision": precision, "precision_low": low,
            "precision_high": high, "base_rate": base_rate,
            "lift": precision / base_rate if n and base_rate > 0 else math.nan,
            "median_lead_days": float(lead), "folds": len(folds)})
    return pd.DataFrame(records, columns=QUALITY_COLUMNS)


def _varies(rows: pd.DataFrame, rule: SignalRule) -> bool:
    return all(pd.to_numeric(rows[c], errors="coerce").nunique() > 1 for c in rule.when)


def signals_switched_on(rules: list[SignalRule], quality: pd.DataFrame | None
                        ) -> list[SignalRule]:
    """The rules the day's alerts evaluate: a rule's ``enabled`` where set, otherwise the
    default of its verdict in ``quality`` (on where it was not measured, or ``quality`` is
    None)."""
    verdicts = {} if quality is None else dict(zip(quality["signal"], quality["verdict"],
                                                   strict=True))
    return [rule for rule in rules if (
        rule.enabled if rule.enabled is not None
        else ON_BY_DEFAULT[verdicts.get(rule.name, NOT_MEASURED)])]
