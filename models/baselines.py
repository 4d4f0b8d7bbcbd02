"""Naive baselines every model must beat on the same folds.

- ``base_rate``: everyone gets the training churn rate (no ranking at all).
- ``health_score``: a hand-weighted 0-100 score like the ones customer-success teams configure
  (usage, engagement, recency, support, billing components), turned into a probability by an
  isotonic fit on the training folds only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

#: Component weights of the hand-weighted score; absent components are dropped and the
#: remaining weights rescaled.
HEALTH_WEIGHTS = {"usage": 0.30, "engagement": 0.25, "recency": 0.15, "support": 0.15,
                  "billing": 0.15}


def _clip(values: pd.Series) -> pd.Series:
    return values.clip(0, 100)


def health_components(frame: pd.DataFrame) -> pd.DataFrame:
    """Each component on 0-100 (higher is healthier); missing inputs count as neutral (50)."""
    components = pd.DataFrame(index=frame.index)
    components["usage"] = _clip(100 * frame["active_users_per_seat"].clip(upper=1)).fillna(50)
    components["engagement"] = _clip(100 * frame["core_feature_breadth_30d"]).fillna(50)
    components["recency"] = _clip(100 * (1 - frame["days_since_last_login"].clip(upper=30) / 30))
    if "open_tickets" in frame:
        components["support"] = _clip(100 - 25 * frame["open_high_priority_tickets"]
                                      - 10 * frame["open_tickets"])
    if "failed_payments_90d" in frame:
        components["billing"] = _clip(100 - 40 * frame["failed_payments_90d"]
                                      - 20 * frame["late_payments_90d"])
    return components.astype(float)


def hand_weighted_health_score(frame: pd.DataFrame) -> pd.Series:
    """The rule-based 0-100 health score (weights in ``HEALTH_WEIGHTS``)."""
    components = health_components(frame)
    weights = pd.Series({c: HEALTH_WEIGHTS[c] for c in components.columns})
    return components.mul(weights).sum(axis=1) / weights.sum()


class BaseRateBaseline:
    """Predicts the training churn rate for everyone."""

    name = "base_rate"

    def fit(self, frame: pd.DataFrame, y: pd.Series) -> BaseRateBaseline:
        self.rate_ = float(np.mean(y))
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), self.rate_)


class HealthScoreBaseline:
    """Risk from the hand-weighted health score, calibrated on training rows."""

    name = "health_score"

    def fit(self, frame: pd.DataFrame, y: pd.Series) -> HealthScoreBaseline:
        self.calibrator_ = IsotonicRegression(increasing=False, out_of_bounds="clip")
        self.calibrator_.fit(hand_weighted_health_score(frame), np.asarray(y, float))
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.calibrator_.predict(hand_weighted_health_score(frame))
