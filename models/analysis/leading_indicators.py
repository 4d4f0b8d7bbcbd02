"""Leading indicators: which signals precede an outcome (churn, expansion), and how far ahead.

For an as-of date D and a lead time L, the outcome at lead L is "the event happens in the
``OUTCOME_WINDOW_DAYS`` days ending L days after D", i.e. in (D + L - window, D + L]. A signal
whose association is as strong at 90 days as at 30 leads the outcome by months; one that
only shows at 30 days is a late warning. A row counts for lead L only when its outcome there
is known: the event was observed, or the row was followed for at least L days.

Every figure is univariate: ROC AUC with a bootstrap confidence interval that resamples
accounts (an account's monthly rows are not independent), Spearman rank correlation and the
point-biserial (Pearson) correlation with the 0/1 outcome. Collinear signals are grouped
(Spearman |rho| at or above a threshold, connected) and given a variance inflation factor,
since a rule-based score that weights several of them counts one signal many times.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from features.expansion_events import events_in_window
from models.metrics import weighted_auc
from models.parallel import worker_processes

#: Days before the outcome window's end at which each signal is measured.
LEAD_TIMES = (30, 60, 90)
#: Width of the outcome window ending at each lead time.
OUTCOME_WINDOW_DAYS = 30
#: Spearman |rho| at or above which two signals are treated as one collinear group.
COLLINEAR_RHO = 0.8


def lead_outcomes(days_to_event: np.ndarray, followed_days: np.ndarray, *,
                  leads: Sequence[int] = LEAD_TIMES,
                  window_days: int = OUTCOME_WINDOW_DAYS) -> dict[int, np.ndarray]:
    """The outcome at each lead time: 1.0 when the (first) event falls in (lead - window,
    lead] days after the as-of date, 0.0 when it does not, NaN when that is not known yet or
    the event came before the window (the row is no longer at risk there).

    ``days_to_event`` is NaN when no event was observed; ``followed_days`` is how long after
    the as-of date the row was observed (an event is known whenever it was observed).
    """
    days = np.asarray(days_to_event, dtype=float)
    followed = np.asarray(followed_days, dtype=float)
    outcomes = {}
    for lead in leads:
        start = lead - window_days
        hit = (days > start) & (days <= lead)
        before_window = days <= start
        known = hit | (followed >= lead)
        outcomes[lead] = np.where(known & ~before_window, hit.astype(float), np.nan)
    return outcomes


def bootstrap_weights(clusters: np.ndarray, *, n_boot: int = 200,
                      seed: int = 0) -> np.ndarray:
    """Row weights of ``n_boot`` bootstrap replicates (replicates × rows) that resample whole
    ``clusters`` (accounts) with replacement: a row weighs as often as its account was
    drawn. Drawn once per population and shared by every signal and lead time."""
    codes, uniques = pd.factorize(np.asarray(clusters))
    draws = np.random.default_rng(seed).integers(0, len(uniques),
                                                 size=(n_boot, len(uniques)))
    offsets = (np.arange(n_boot) * len(uniques))[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=n_boot * len(uniques))
    # counts are small integers, exact in float32, which halves the AUCs' memory traffic
    return counts.reshape(n_boot, len(uniques))[:, codes].astype(np.float32)


def auc_with_interval(values: np.ndarray, outcome: np.ndarray,
                      replicate_weights: np.ndarray, *,
                      level: float = 0.95) -> tuple[float, float, float]:
    """ROC AUC and its percentile bootstrap interval over ``replicate_weights``
    (``bootstrap_weights`` of the same rows)."""
    replicates = weighted_auc(values, outcome, replicate_weights)
    point = float(weighted_auc(values, outcome, np.ones((1, len(values))))[0])
    if not np.isfinite(replicates).any():
        return point, np.nan, np.nan
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(replicates, [tail, 100 - tail])
    return point, float(low), float(high)


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def _rank(values: np.ndarray) -> np.ndarray:
    return pd.Series(values).rank(method="average").to_numpy()


def univariate_association(values: np.ndarray, outcome: np.ndarray,
                           replicate_weights: np.ndarray) -> dict[str, float]:
    """AUC with its bootstrap interval, Spearman and point-biserial correlation, over the
    rows where both the signal and the outcome are known."""
    values, outcome = np.asarray(values, dtype=float), np.asarray(outcome, dtype=float)
    keep = ~np.isnan(values) & ~np.isnan(outcome)
    x, y = values[keep], outcome[keep]
    result = {"rows": int(keep.sum()), "events": int(y.sum())}
    if result["events"] == 0 or result["events"] == result["rows"]:
        return {**result, "auc": np.nan, "auc_low": np.nan, "auc_high": np.nan,
                "spearman": np.nan, "point_biserial": np.nan}
    auc, low, high = auc_with_interval(x, y, replicate_weights[:, keep])
    return {**result, "auc": auc, "auc_low": low, "auc_high": high,
            "spearman": _correlation(_rank(x), _rank(y)), "point_biserial": _correlation(x, y)}


def indicator_table(frame: pd.DataFrame, features: Sequence[str],
                    outcomes: dict[str, dict[int, np.ndarray]], *,
                    segment_column: str | None = "segment", n_boot: int = 100,
                    seed: int = 0) -> pd.DataFrame:
    """One row per (outcome, lead, segment, feature): the univariate figures, the direction
    (does a higher value mean the outcome is more likely) and the feature's rank by strength
    |AUC - 0.5| within its (outcome, lead, segment). ``segment`` is "all" for every row.
    ``n_boot`` account-bootstrap replicates give each interval: 100 place a 95 % interval's
    ends within about 0.005 AUC of 1,000's, at a tenth of the cost, for a page that screens
    signals rather than tests them."""
    scopes = [("all", np.ones(len(frame), dtype=bool))]
    if segment_column and segment_column in frame:
        scopes += [(str(value), (frame[segment_column] == value).to_numpy())
                   for value in sorted(frame[segment_column].dropna().unique())]
    accounts = frame["account_id"].to_numpy()
    weights = {scope: bootstrap_weights(accounts[mask], n_boot=n_boot, seed=seed)
               for scope, mask in scopes}
    values = {feature: frame[feature].to_numpy(dtype=float) for feature in features}
    pairs = [(name, lead, outcome) for name, by_lead in outcomes.items()
             for lead, outcome in by_lead.items()]
    figures = Parallel(n_jobs=worker_processes(len(frame) * len(features), len(pairs)))(
        delayed(_pair_rows)(name, lead, outcome, values, scopes, weights)
        for name, lead, outcome in pairs)
    table = pd.DataFrame([row for rows in figures for row in rows])
    if table.empty:
        return table
    table["strength"] = (table["auc"] - 0.5).abs()
    table["direction"] = np.where(table["auc"] >= 0.5, "higher means more likely",
                                  "higher means less likely")
    table["interval_excludes_chance"] = (table["auc_low"] > 0.5) | (table["auc_high"] < 0.5)
    table["rank"] = table.groupby(["outcome", "lead_days", "segment"])["strength"].rank(
        ascending=False, method="min").astype("Int64")
    return table.sort_values(["outcome", "lead_days", "segment", "rank"], ignore_index=True)


def _pair_rows(outcome_name: str, lead: int, outcome: np.ndarray,
               values: dict[str, np.ndarray], scopes: list, weights: dict) -> list[dict]:
    """``indicator_table``'s rows of one outcome and lead."""
    return [{"outcome": outcome_name, "lead_days": lead, "segment": scope,
             "feature": feature,
             **univariate_association(column[mask], outcome[mask], weights[scope])}
            for scope, mask in scopes for feature, column in values.items()]


def collinear_groups(frame: pd.DataFrame, features: Sequence[str], *,
                     threshold: float = COLLINEAR_RHO) -> pd.DataFrame:
    """``feature, collinear_group, vif``: features joined by Spearman |rho| >= ``threshold``
    (directly or through others) share a group number; a feature alone has its own. Ranks
    of missing values are the median rank, so the matrix is a true correlation matrix and
    the VIF (the diagonal of its inverse) is at least 1."""
    features = list(features)
    ranks = frame[features].rank()
    ranks = ranks.fillna(ranks.median()).fillna(0.0)
    rho = np.nan_to_num(np.corrcoef(ranks.to_numpy(), rowvar=False))
    np.fill_diagonal(rho, 1.0)
    parent = list(range(len(features)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(np.abs(rho) >= threshold, k=1)), strict=True):
        parent[root(i)] = root(j)
    roots = [root(i) for i in range(len(features))]
    numbers = {r: n for n, r in enumerate(dict.fromkeys(roots), start=1)}
    vif = np.diag(np.linalg.pinv(rho))
    return pd.DataFrame({"feature": features, "collinear_group": [numbers[r] for r in roots],
                         "vif": vif})


def churn_outcomes(training: pd.DataFrame, *, leads: Sequence[int] = LEAD_TIMES,
                   window_days: int = OUTCOME_WINDOW_DAYS) -> dict[int, np.ndarray]:
    """Churn at each lead time from a training set's survival columns (``duration_days``:
    days to churn or to the end of observation; ``churn_observed``)."""
    duration = training["duration_days"].to_numpy(dtype=float)
    observed = training["churn_observed"].to_numpy() == 1
    return lead_outcomes(np.where(observed, duration, np.nan), duration, leads=leads,
                         window_days=window_days)


def expansion_outcomes(training: pd.DataFrame, expansions: pd.DataFrame,
                       observed_until: pd.Timestamp, *, leads: Sequence[int] = LEAD_TIMES,
                       window_days: int = OUTCOME_WINDOW_DAYS) -> dict[int, np.ndarray]:
    """Expansion at each lead time: 1.0 when the account expands (any expansion event,
    ``features.expansion.expansion_events``) in the window, NaN until the window has closed
    by ``observed_until``."""
    followed = (pd.Timestamp(observed_until) - training["as_of_date"]).dt.days.to_numpy()
    outcomes = {}
    for lead in leads:
        hits = events_in_window(training["account_id"], training["as_of_date"], expansions,
                                start_days=lead - window_days, end_days=lead) > 0
        outcomes[lead] = np.where(followed >= lead, hits.astype(float), np.nan)
    return outcomes
