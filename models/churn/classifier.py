"""XGBoost churn classifier: churn within the horizon, calibrated on later data (Platt).

Training rows are split by time: the latest as-of dates form the inner validation set used
for early stopping and for the calibration, so both only ever look forward in time,
never at shuffled rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.linear_model import LogisticRegression

from models.inputs import (
    feature_columns,
    informative_columns,
    learn_categories,
    model_matrix,
)


@dataclass(frozen=True)
class ClassifierConfig:
    """Hyper-parameters. Shallow, well-populated trees won on the demo's walk-forward folds
    (see docs/decisions.md); deeper trees fitted noise such as industry."""

    n_estimators: int = 600
    learning_rate: float = 0.05
    max_depth: int = 2
    min_child_weight: float = 20.0
    #: ... or this share of the fitted rows, whichever is larger: weekly training dates give
    #: four times the rows of monthly ones, mostly the same accounts a week apart, and a
    #: leaf should hold as many accounts whatever the cadence.
    min_child_weight_share: float = 0.004
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    early_stopping_rounds: int = 50
    #: Share of the latest training as-of dates held out for early stopping and calibration.
    validation_share: float = 0.25
    seed: int = 7

    def params(self) -> dict:
        return asdict(self)


def time_ordered_split(as_of: pd.Series, share: float) -> tuple[np.ndarray, np.ndarray]:
    """(fit mask, validation mask): the latest ``share`` of dates (at least one) validate."""
    dates = np.sort(as_of.unique())
    n_validation = max(1, int(round(share * len(dates))))
    if len(dates) < 2:
        raise ValueError("time-ordered validation needs at least two as-of dates")
    validation_dates = dates[-n_validation:]
    validation = as_of.isin(validation_dates).to_numpy()
    return ~validation, validation


class ChurnClassifier:
    """Gradient-boosted trees with class-imbalance weighting and Platt calibration."""

    name = "xgboost"

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        self.config = config or ClassifierConfig()

    def fit(self, frame: pd.DataFrame, y: pd.Series) -> ChurnClassifier:
        """Fit on ``frame`` (training-set rows with ``as_of_date``) and labels ``y``."""
        c = self.config
        if len(np.unique(np.asarray(y))) < 2:
            raise ValueError("the training labels hold one class only: there is nothing to "
                             "learn (more history, or a longer horizon)")
        self.features_, self.dropped_features_ = informative_columns(frame,
                                                                     feature_columns(frame))
        self.categories_ = learn_categories(frame, self.features_)
        fit_rows, validation_rows = time_ordered_split(frame["as_of_date"], c.validation_share)
        X = model_matrix(frame, self.features_, self.categories_)
        y = np.asarray(y, int)
        positives = max(int(y[fit_rows].sum()), 1)
        self.model_ = xgb.XGBClassifier(
            n_estimators=c.n_estimators, learning_rate=c.learning_rate, max_depth=c.max_depth,
            min_child_weight=max(c.min_child_weight,
                                 c.min_child_weight_share * int(fit_rows.sum())),
            subsample=c.subsample,
            colsample_bytree=c.colsample_bytree, reg_lambda=c.reg_lambda,
            scale_pos_weight=(len(y[fit_rows]) - positives) / positives,
            early_stopping_rounds=c.early_stopping_rounds, eval_metric="logloss",
            enable_categorical=True, tree_method="hist", random_state=c.seed, n_jobs=2)
        self.model_.fit(X[fit_rows], y[fit_rows],
                        eval_set=[(X[validation_rows], y[validation_rows])], verbose=False)
        self.best_iteration_ = int(self.model_.best_iteration)
        # A sigmoid of the margin (Platt scaling), not isotonic steps: strictly increasing,
        # so the model's own ranking survives calibration, accounts do not share a handful of
        # values, and no probability is exactly 0 or 1.
        self.calibrator_ = LogisticRegression(C=1e4)
        # a validation slice with one class cannot calibrate: then every training row does
        calibrate = validation_rows if len(np.unique(y[validation_rows])) == 2 else slice(None)
        self.calibrator_.fit(self._margin(frame[calibrate]), y[calibrate])
        return self

    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        return model_matrix(frame, self.features_, self.categories_)

    def raw_score(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probability (skewed upwards by the class weighting)."""
        return self.model_.predict_proba(self.matrix(frame))[:, 1]

    def _margin(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model_.predict(self.matrix(frame), output_margin=True).astype(
            np.float64).reshape(-1, 1)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of churn within the horizon."""
        return self.calibrator_.predict_proba(self._margin(frame))[:, 1]

    def shap_values(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Exact TreeSHAP contributions to the margin, one column per feature plus ``bias``."""
        booster = self.model_.get_booster()
        matrix = xgb.DMatrix(self.matrix(frame), enable_categorical=True)
        contributions = booster.predict(matrix, pred_contribs=True,
                                        iteration_range=(0, self.best_iteration_ + 1))
        return pd.DataFrame(contributions, columns=[*self.features_, "bias"], index=frame.index)
