"""XGBoost churn classifier: churn within the horizon, its capacity chosen on later dates.

Training rows are split by time (``models.churn.tuning``): each setting of a small grid
(tree depth, leaf size, class weighting) fits the earlier as-of dates with early stopping
on the later ones; the setting with the best later-date ROC AUC is refitted on every row
with the rounds it stopped at. Its probabilities are a sigmoid of the margin whose slope
comes from the later-date predictions and whose level matches the whole window's churn
rate. So capacity, rounds and the spread of the risks come from looking forward in time,
never from shuffled rows; the later third of the dates leaves enough churners to judge
them, and no one period's churn rate sets the level.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy.optimize import brentq
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from models.churn.tree_shap import tree_contributions
from models.churn.tuning import auc, best_setting, can_judge, time_ordered_split
from models.inputs import (
    feature_columns,
    informative_columns,
    learn_categories,
    model_matrix,
)


@dataclass(frozen=True)
class TreeSetting:
    """One point of the capacity grid."""

    max_depth: int
    min_child_weight: float
    #: Weight churners up to the non-churners' total (else every row weighs one).
    balance_classes: bool


#: Simplest first: a tie on later-date AUC keeps the simpler setting.
DEFAULT_GRID = (TreeSetting(2, 5.0, False), TreeSetting(2, 20.0, True),
                TreeSetting(4, 20.0, False))


@dataclass(frozen=True)
class ClassifierConfig:
    """Hyper-parameters; ``grid`` holds the capacities tried on each training window."""

    grid: tuple[TreeSetting, ...] = field(default=DEFAULT_GRID)
    #: Most rounds; early stopping on the later dates picks fewer.
    n_estimators: int = 600
    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    early_stopping_rounds: int = 50
    #: Fewest rounds a refit uses, whatever early stopping said on a thin slice.
    min_rounds: int = 50
    seed: int = 7
    #: XGBoost's threads (one per core of a 2-core machine; fewer when folds run in
    #: parallel processes).
    threads: int = 2

    def sharing_cores(self, workers: int) -> ClassifierConfig:
        """This config for one of ``workers`` processes fitting at once: the cores'
        threads shared out between them."""
        if workers <= 1:
            return self
        return replace(self, threads=max(1, (os.cpu_count() or 1) // workers))

    def params(self) -> dict:
        params = asdict(self)
        params["grid"] = " | ".join(
            f"depth {s.max_depth}, leaf {s.min_child_weight:g}"
            f"{', balanced' if s.balance_classes else ''}" for s in self.grid)
        return params


class ChurnClassifier:
    """Gradient-boosted trees, capacity chosen on later dates, Platt-calibrated."""

    name = "xgboost"

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        self.config = config or ClassifierConfig()

    def _params(self, setting: TreeSetting, y: np.ndarray) -> dict:
        """XGBoost's parameters for one setting of the grid on labels ``y``."""
        c = self.config
        positives = max(int(y.sum()), 1)
        return {"objective": "binary:logistic", "eval_metric": "logloss",
                "tree_method": "hist", "learning_rate": c.learning_rate,
                "max_depth": setting.max_depth, "min_child_weight": setting.min_child_weight,
                "subsample": c.subsample, "colsample_bytree": c.colsample_bytree,
                "reg_lambda": c.reg_lambda, "seed": c.seed, "nthread": c.threads,
                "scale_pos_weight": (len(y) - positives) / positives
                if setting.balance_classes else 1.0}

    def _booster(self, setting: TreeSetting, y: np.ndarray, rounds: int) -> xgb.XGBClassifier:
        params = self._params(setting, y)
        params["n_jobs"] = params.pop("nthread")
        params["random_state"] = params.pop("seed")
        return xgb.XGBClassifier(n_estimators=rounds, enable_categorical=True, **params)

    def fit(self, frame: pd.DataFrame, y: pd.Series) -> ChurnClassifier:
        """Fit on ``frame`` (training-set rows with ``as_of_date``) and labels ``y``."""
        c = self.config
        y = np.asarray(y, int)
        if len(np.unique(y)) < 2:
            raise ValueError("the training labels hold one class only: there is nothing to "
                             "learn (more history, or a longer horizon)")
        self.features_, self.dropped_features_ = informative_columns(frame,
                                                                     feature_columns(frame))
        self.categories_ = learn_categories(frame, self.features_)
        X = model_matrix(frame, self.features_, self.categories_)
        early, late = time_ordered_split(frame["as_of_date"])
        if not can_judge(y[early], y[late]):
            # too few dates or churners to judge a grid: the simplest setting, fixed rounds
            self.setting_ = c.grid[0]
            self.model_ = self._booster(self.setting_, y, c.min_rounds * 4).fit(X, y)
            slope = 1.0
        else:
            # one quantised matrix of each half serves every setting of the grid
            fit_rows = xgb.QuantileDMatrix(X[early], y[early], enable_categorical=True)
            judge_rows = xgb.DMatrix(X[late], y[late], enable_categorical=True)
            trials = []
            for setting in c.grid:
                booster = xgb.train(self._params(setting, y[early]), fit_rows,
                                    num_boost_round=c.n_estimators,
                                    evals=[(judge_rows, "later")],
                                    early_stopping_rounds=c.early_stopping_rounds,
                                    verbose_eval=False)
                rounds = booster.best_iteration + 1
                margin = booster.predict(judge_rows, output_margin=True,
                                         iteration_range=(0, rounds))
                trials.append((rounds, margin, auc(y[late], margin)))
            chosen = best_setting([t[2] for t in trials])
            self.setting_ = c.grid[chosen]
            rounds, margin, _ = trials[chosen]
            self.validation_auc_ = {str(s): t[2] for s, t in zip(c.grid, trials, strict=True)}
            # How far apart the margins of unseen rows really are: the Platt slope of the
            # chosen setting's predictions on the later dates.
            slope = float(LogisticRegression(C=1e4).fit(
                margin.astype(np.float64).reshape(-1, 1), y[late]).coef_[0, 0])
            self.model_ = self._booster(self.setting_, y, max(rounds, c.min_rounds)).fit(X, y)
        # Platt scaling with the slope seen on later dates and the level of the whole
        # window: a sigmoid, so the ranking survives and no probability is exactly 0 or 1;
        # the level from every training date, because one period's churn rate (the later
        # third's) is not the next period's.
        self.slope_ = max(slope, 1e-3)
        self.intercept_ = _level(self.slope_ * self._margin(frame).ravel(), y.mean())
        self.best_iteration_ = int(self.model_.n_estimators) - 1
        return self

    def chosen_setting(self) -> str:
        """The capacity and rounds the fit chose, for the run's log."""
        s = self.setting_
        return (f"depth {s.max_depth}, leaf {s.min_child_weight:g}"
                f"{', balanced' if s.balance_classes else ''}, "
                f"{self.best_iteration_ + 1} rounds")

    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        return model_matrix(frame, self.features_, self.categories_)

    def raw_score(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probability."""
        return self.model_.predict_proba(self.matrix(frame))[:, 1]

    def _margin(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model_.predict(self.matrix(frame), output_margin=True).astype(
            np.float64).reshape(-1, 1)


    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of churn within the horizon."""
        return expit(self.slope_ * self._margin(frame).ravel() + self.intercept_)

    def shap_values(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Exact TreeSHAP contributions to the margin, one column per feature plus ``bias``."""
        contributions = tree_contributions(self.model_.get_booster(), self.matrix(frame),
                                           self.best_iteration_ + 1)
        return pd.DataFrame(contributions, columns=[*self.features_, "bias"], index=frame.index)


def _level(scaled_margin: np.ndarray, rate: float) -> float:
    """The intercept b with mean(expit(scaled_margin + b)) equal to ``rate``."""
    return float(brentq(lambda b: expit(scaled_margin + b).mean() - rate, -50.0, 50.0))
