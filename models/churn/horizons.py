"""One risk per account at every horizon: the champion's probability spread over time.

The classifier says P(churn within H days) for its training horizon H. How that risk is
spread over the days up to (and past) H comes from the training rows themselves: their
Nelson-Aalen cumulative hazard of churn since the as-of date, Λ(t). Under proportional
hazards an account with P(H) has cumulative hazard r·Λ(t) with r = -ln(1 - P(H)) / Λ(H), so

    P(t) = 1 - (1 - P(H)) ** (Λ(t) / Λ(H))

which never decreases with t, equals the classifier at H, and gives the median days to
churn where r·Λ(t) reaches ln 2. Every number a user sees then comes from one model.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class HorizonCurve:
    """Population cumulative hazard of churn by days since the as-of date."""

    def fit(self, duration_days, churn_observed) -> HorizonCurve:
        """Nelson-Aalen estimate from training rows (``duration_days`` until churn or
        censoring, ``churn_observed`` 1 for churn)."""
        duration = np.maximum(np.asarray(duration_days, dtype=float), 0.5)
        event = np.asarray(churn_observed, dtype=int) == 1
        times, index = np.unique(duration, return_inverse=True)
        churned = np.bincount(index, weights=event, minlength=len(times))
        leaving = np.bincount(index, minlength=len(times))
        at_risk = len(duration) - np.concatenate([[0], np.cumsum(leaving)[:-1]])
        with np.errstate(divide="ignore", invalid="ignore"):
            increments = np.where(at_risk > 0, churned / at_risk, 0.0)
        self.times_ = times
        self.cumulative_hazard_ = np.cumsum(increments)
        return self

    def cumulative_hazard(self, days: float | np.ndarray) -> np.ndarray:
        """Λ(days): the step function at ``days`` (0 before the first churn)."""
        position = np.searchsorted(self.times_, np.asarray(days, dtype=float), side="right")
        return np.where(position > 0, self.cumulative_hazard_[np.maximum(position - 1, 0)], 0.0)

    def _scale(self, probability: np.ndarray, horizon_days: int) -> np.ndarray:
        """Each account's hazard multiplier r from its P(horizon)."""
        at_horizon = float(self.cumulative_hazard(horizon_days))
        probability = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0 - 1e-12)
        if at_horizon <= 0:
            return np.full(len(probability), np.nan)
        return -np.log1p(-probability) / at_horizon

    def probabilities(self, probability: np.ndarray, *, horizon_days: int,
                      horizons: Iterable[int]) -> dict[int, np.ndarray]:
        """P(churn within t days) for each t of ``horizons`` from P(churn within
        ``horizon_days``); P(horizon_days) itself comes back unchanged. With no churn in
        the training rows by ``horizon_days`` the risk is spread linearly over the days."""
        probability = np.asarray(probability, dtype=float)
        at_horizon = float(self.cumulative_hazard(horizon_days))
        result = {}
        for t in horizons:
            if t == horizon_days:
                result[t] = probability
                continue
            share = (float(self.cumulative_hazard(t)) / at_horizon if at_horizon > 0
                     else t / horizon_days)
            spread = 1.0 - (1.0 - probability) ** share
            # rounding must not put a shorter horizon's risk above a longer one's
            result[t] = (np.minimum(spread, probability) if t < horizon_days
                         else np.maximum(spread, probability))
        return result

    def median_days(self, probability: np.ndarray, *, horizon_days: int) -> np.ndarray:
        """Days until the account's churn probability reaches one half; infinite when it
        does not within the days the training rows observe."""
        target = np.log(2) / self._scale(probability, horizon_days)
        position = np.searchsorted(self.cumulative_hazard_, target, side="left")
        times = np.append(self.times_, np.inf)
        return np.where(np.isfinite(target), times[np.minimum(position, len(self.times_))],
                        np.inf)
