"""Drift between a reference sample (the training data) and today's rows.

Population stability index (PSI) for every feature, numeric or categorical, with missing
values as a category of their own; the two-sample Kolmogorov-Smirnov statistic for numeric
features. PSI = sum over bins of (actual - expected) * ln(actual / expected), with bins
taken from the reference (deciles for numbers, categories for strings); by convention
< 0.1 is stable, 0.1-0.25 a moderate shift, > 0.25 a significant one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Floor for an empty bin's share, so ln(actual / expected) stays finite.
EMPTY_BIN_SHARE = 1e-4
MISSING = "(missing)"


@dataclass(frozen=True)
class DriftThresholds:
    """A feature has drifted when its PSI or its KS statistic exceeds these."""

    psi: float = 0.25
    ks: float = 0.15


def psi_from_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI of two share vectors over the same bins (each sums to 1)."""
    expected = np.clip(np.asarray(expected, dtype=float), EMPTY_BIN_SHARE, None)
    actual = np.clip(np.asarray(actual, dtype=float), EMPTY_BIN_SHARE, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _bin_counts(reference: pd.Series, values: pd.Series, bins: int) -> tuple[pd.Series,
                                                                            pd.Series]:
    """Rows per bin label of the reference and of the current values, bins from the
    reference: numbered quantile bins of a numeric feature (counted as integers, not as a
    string per row), a feature's own values otherwise; missing values in a bin of their own."""
    if pd.api.types.is_numeric_dtype(reference) and not pd.api.types.is_bool_dtype(reference):
        known = reference.dropna().astype(float)
        edges = np.unique(np.quantile(known, np.linspace(0, 1, bins + 1))) if len(known) else []
        if len(edges) < 2:  # a constant feature: one bin for its value
            edges = np.array([-np.inf, np.inf])
        inner = edges[1:-1]

        def counts(series: pd.Series) -> pd.Series:
            present = series.notna().to_numpy()
            codes = np.searchsorted(inner, series.astype(float).to_numpy()[present],
                                    side="right")
            found = pd.Series(np.bincount(codes, minlength=len(inner) + 1))
            found = found[found > 0]
            found.index = found.index.astype(str)
            if not present.all():
                found[MISSING] = int((~present).sum())
            return found
    else:
        def counts(series: pd.Series) -> pd.Series:
            return series.astype("object").where(series.notna(), MISSING).value_counts()
    return counts(reference), counts(values)


def population_stability_index(reference: pd.Series, current: pd.Series, *,
                               bins: int = 10) -> float:
    """PSI of ``current`` against ``reference``; categories unseen in the reference form
    bins of their own (expected share ~0, so they weigh heavily)."""
    ref_counts, cur_counts = _bin_counts(reference, current, bins)
    categories = sorted(set(ref_counts.index) | set(cur_counts.index))
    expected = (ref_counts / ref_counts.sum()).reindex(categories, fill_value=0.0)
    actual = (cur_counts / cur_counts.sum()).reindex(categories, fill_value=0.0)
    return psi_from_shares(expected.to_numpy(), actual.to_numpy())


def ks_statistic(reference: np.ndarray, current: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical
    CDFs, computed as scipy's ``ks_2samp`` does, without the p-value that nobody reads here
    (two thirds of its time)."""
    reference, current = np.sort(reference), np.sort(current)
    values = np.concatenate([reference, current])
    # in whole counts, divided once: the exact gap, rounded as scipy rounds it
    gap = (np.searchsorted(reference, values, side="right") * len(current)
           - np.searchsorted(current, values, side="right") * len(reference))
    return float(np.max(np.abs(gap)) / (len(reference) * len(current)))


#: Reference rows drift is measured against: a seeded sample of a larger training set. PSI's
#: ten bins and the KS statistic are as good with 100k rows as with millions, and sorting
#: millions of rows per feature every morning would cost seconds at 200k accounts.
MAX_REFERENCE_ROWS = 100_000


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame, features: list[str], *,
                  thresholds: DriftThresholds | None = None,
                  exempt: tuple[str, ...] = (),
                  max_reference_rows: int = MAX_REFERENCE_ROWS) -> pd.DataFrame:
    """One row per feature: ``feature, kind, psi, ks_statistic, missing_reference,
    missing_current, exempt, drifted``, largest PSI first. KS is missing for categorical
    features and when either side has no values. ``exempt`` features (ones that move by
    design, such as tenure as the customer base ages) are measured but never ``drifted``.
    A reference longer than ``max_reference_rows`` is sampled down (seeded)."""
    thresholds = thresholds or DriftThresholds()
    if len(reference) > max_reference_rows:
        reference = reference.sample(n=max_reference_rows, random_state=0)
    rows = []
    for feature in features:
        ref, cur = reference[feature], current[feature]
        numeric = pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref)
        ks = np.nan
        if numeric and ref.notna().any() and cur.notna().any():
            ks = ks_statistic(ref.dropna().to_numpy(float), cur.dropna().to_numpy(float))
        psi = population_stability_index(ref, cur)
        rows.append({"feature": feature, "kind": "numeric" if numeric else "categorical",
                     "psi": psi, "ks_statistic": ks,
                     "missing_reference": float(ref.isna().mean()),
                     "missing_current": float(cur.isna().mean()),
                     "exempt": feature in exempt,
                     "drifted": feature not in exempt and bool(
                         psi > thresholds.psi or (not np.isnan(ks) and ks > thresholds.ks))})
    return pd.DataFrame(rows).sort_values("psi", ascending=False, ignore_index=True)
