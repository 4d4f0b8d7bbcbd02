"""Naive baselines every model must beat on the same folds.

- ``base_rate``: everyone gets the training churn rate (no ranking at all).
- ``health_score``: a hand-weighted 0-100 score like the ones customer-success teams configure
  (usage, engagement, recency, support, billing components), turned into a probability by an
  isotonic fit on the training folds only.
- ``correlation_health``: the same components weighted by how well each alone separates
  churners on the training folds (``correlation_weights``), the data-driven alternative to
  opinion-set weights, calibrated the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from models.metrics import weighted_auc

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


def weighted_health_score(frame: pd.DataFrame, weights: dict[str, float]) -> pd.Series:
    """The 0-100 health score with component ``weights`` (absent components dropped, the
    rest rescaled to sum to one)."""
    components = health_components(frame)
    present = pd.Series({c: weights.get(c, 0.0) for c in components.columns})
    if present.sum() <= 0:
        present[:] = 1.0
    return components.mul(present).sum(axis=1) / present.sum()


def hand_weighted_health_score(frame: pd.DataFrame) -> pd.Series:
    """The rule-based 0-100 health score (weights in ``HEALTH_WEIGHTS``)."""
    return weighted_health_score(frame, HEALTH_WEIGHTS)


def correlation_weights(frame: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    """Component weights from data: each component's univariate separation of churners,
    0.5 - its ROC AUC (a higher component means healthier), floored at 0 and normalised to
    sum to one. Equal weights when no component separates them."""
    components = health_components(frame)
    outcome = np.asarray(y, dtype=float)
    ones = np.ones((1, len(components)))
    separation = {c: max(0.0, 0.5 - float(weighted_auc(components[c].to_numpy(), outcome,
                                                         ones)[0]))
                  for c in components.columns}
    total = sum(v for v in separation.values() if np.isfinite(v))
    if total <= 0:
        return dict.fromkeys(components.columns, 1.0 / len(components.columns))
    return {c: (v / total if np.isfinite(v) else 0.0) for c, v in separation.items()}


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


class CorrelationWeightedHealthBaseline:
    """Risk from the health score with weights fitted on training rows
    (``correlation_weights``), calibrated on the same rows."""

    name = "correlation_health"

    def fit(self, frame: pd.DataFrame, y: pd.Series) -> CorrelationWeightedHealthBaseline:
        self.weights_ = correlation_weights(frame, y)
        self.calibrator_ = IsotonicRegression(increasing=False, out_of_bounds="clip")
        self.calibrator_.fit(weighted_health_score(frame, self.weights_), np.asarray(y, float))
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.calibrator_.predict(weighted_health_score(frame, self.weights_))
