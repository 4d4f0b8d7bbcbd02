"""Regularised logistic regression on scaled features: the readable churn model.

A candidate beside XGBoost on the same walk-forward folds. Numeric features are put on one
scale before the fit (signed log of magnitude, so a count of 10,000 does not outweigh
everything; missing values at the training median; clipped to the training 1st-99th
percentiles; standardised); categories are one-hot. The L2 strength is chosen from the
training window's own later dates (``models.churn.tuning``) unless the config fixes it. Its
contributions are exact: each feature adds ``coefficient x (scaled value - training mean)``
to the log-odds.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from models.churn.tuning import auc, best_setting, can_judge, time_ordered_split
from models.inputs import CATEGORICAL, feature_columns, informative_columns

#: Newton steps on the Cholesky factor: the same L2 fit as lbfgs in a few iterations, as
#: the design has a hundred columns or so and many rows.
SOLVER = "newton-cholesky"


@dataclass(frozen=True)
class LogisticConfig:
    #: Inverse L2 strength on standardised features (sklearn's ``C``); None: the best of
    #: ``c_grid`` on the training window's later dates.
    c: float | None = None
    #: Strongest regularisation first: ties go to it.
    c_grid: tuple[float, ...] = (0.01, 0.1, 1.0)
    max_iter: int = 2000

    def params(self) -> dict:
        return asdict(self)


class LogisticChurnModel:
    """``fit`` / ``predict_proba`` / ``shap_values`` like ``ChurnClassifier``."""

    name = "logistic"

    def __init__(self, config: LogisticConfig | None = None) -> None:
        self.config = config or LogisticConfig()

    def candidate_columns(self, frame: pd.DataFrame) -> list[str]:
        """The feature columns of ``frame`` this model may use."""
        return feature_columns(frame)

    def fit(self, frame: pd.DataFrame, y: pd.Series) -> LogisticChurnModel:
        """Fit on training-set rows ``frame`` and 0/1 labels ``y``."""
        y = np.asarray(y, int)
        self.c_ = self.config.c if self.config.c is not None else self._chosen_c(frame, y)
        design = self._prepare(frame)
        self.design_means_ = design.mean()
        self.model_ = LogisticRegression(C=self.c_, max_iter=self.config.max_iter,
                                         solver=SOLVER)
        self.model_.fit(design.to_numpy(), y)
        return self

    def _prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Learn the scaling of ``frame``'s features; returns its design matrix."""
        self.features_, self.dropped_features_ = informative_columns(
            frame, self.candidate_columns(frame))
        self.numeric_ = [c for c in self.features_ if c not in CATEGORICAL]
        # NumPy on one float block: the same statistics as pandas' per-column ones
        numeric = _signed_log(frame, self.numeric_)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column
            medians = np.nan_to_num(np.nanmedian(numeric, axis=0), nan=0.0)
        filled = np.where(np.isnan(numeric), medians, numeric)
        lower, upper = np.quantile(filled, [0.01, 0.99], axis=0)
        filled = np.clip(filled, lower, upper)
        scales = filled.std(axis=0, ddof=1) if len(filled) > 1 else np.ones(filled.shape[1])
        scales = np.where(np.isfinite(scales) & (scales != 0), scales, 1.0)
        self.medians_, self.lower_, self.upper_, self.means_, self.scales_ = (
            pd.Series(values, index=self.numeric_, dtype=float)
            for values in (medians, lower, upper, filled.mean(axis=0), scales))
        self.levels_ = {c: sorted(frame[c].dropna().astype(str).unique())
                        for c in self.features_ if c in CATEGORICAL}
        return self._design(frame)

    def chosen_setting(self) -> str:
        """The L2 strength the fit used, for the run's log."""
        return f"C {self.c_:g}"

    def _chosen_c(self, frame: pd.DataFrame, y: np.ndarray) -> float:
        """The grid's C with the best ROC AUC on the later dates when fitted on the earlier
        ones (the grid's first C when the dates cannot judge)."""
        grid = self.config.c_grid
        if len(grid) == 1 or frame["as_of_date"].nunique() < 2:
            return grid[0]
        early, late = time_ordered_split(frame["as_of_date"])
        if not can_judge(y[early], y[late]):
            return grid[0]
        # the earlier dates' scaling serves every C
        probe = type(self)(self.config)
        fit_design = probe._prepare(frame[early]).to_numpy()
        judge_design = probe._design(frame[late]).to_numpy()
        scores = []
        for c in grid:
            model = LogisticRegression(C=c, max_iter=self.config.max_iter, solver=SOLVER)
            model.fit(fit_design, y[early])
            scores.append(auc(y[late], model.decision_function(judge_design)))
        self.validation_auc_ = dict(zip(grid, scores, strict=True))
        return grid[best_setting(scores)]

    def _design(self, frame: pd.DataFrame) -> pd.DataFrame:
        numeric = _signed_log(frame, self.numeric_)
        numeric = np.where(np.isnan(numeric), self.medians_.to_numpy(), numeric)
        numeric = ((np.clip(numeric, self.lower_.to_numpy(), self.upper_.to_numpy())
                    - self.means_.to_numpy()) / self.scales_.to_numpy())
        dummies = {f"{column}={level}": (frame[column].astype("object") == level).to_numpy(float)
                   for column, levels in self.levels_.items() for level in levels}
        return pd.DataFrame(
            np.column_stack([numeric, *dummies.values()]) if dummies else numeric,
            columns=[*self.numeric_, *dummies], index=frame.index)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of churn within the horizon."""
        return self.model_.predict_proba(self._design(frame).to_numpy())[:, 1]

    def shap_values(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Each feature's contribution to the log-odds (a category's levels summed), one
        column per feature plus ``bias``; a row's columns sum to its log-odds."""
        design = self._design(frame)
        weights = pd.Series(self.model_.coef_[0], index=design.columns)
        centred = (design - self.design_means_) * weights
        owner = [c.split("=", 1)[0] if c not in self.numeric_ else c for c in design.columns]
        contributions = centred.T.groupby(owner, sort=False).sum().T
        contributions = contributions.reindex(columns=self.features_, fill_value=0.0)
        contributions["bias"] = float(self.model_.intercept_[0]
                                      + (self.design_means_ * weights).sum())
        return contributions


def _signed_log(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Sign times log(1 + |value|) of ``columns`` as one float array, missing as NaN."""
    block = frame[columns]
    try:
        values = block.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):  # a column of text numbers: what parses, else missing
        values = block.apply(pd.to_numeric, errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan)
    return np.sign(values) * np.log1p(np.abs(values))
