"""Cox proportional-hazards model of time to churn (lifelines), with right-censoring.

Gives P(churn within 30/60/90 days) and the median days to churn per account, and records
whether the proportional-hazards assumption holds for each covariate.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.statistics import proportional_hazard_test

from models.inputs import CATEGORICAL, feature_columns
from models.metrics import SURVIVAL_HORIZONS
from models.walk_forward import spaced_dates


@dataclass(frozen=True)
class SurvivalConfig:
    penalizer: float = 0.05
    l1_ratio: float = 0.0
    #: Covariates whose PH test p-value falls below this are reported as violating.
    ph_alpha: float = 0.01
    #: The PH test runs on a model refitted to a seeded sample of at most this many rows (its
    #: cost grows with rows; a few thousand rows detect any violation that matters).
    ph_test_rows: int = 5000
    #: The fit keeps as-of dates at least this many days apart: weekly rows are the same
    #: accounts a week apart, which cost a Cox fit four times as much for the same ordering.
    fit_spacing_days: int = 28
    seed: int = 7


class ChurnSurvivalModel:
    """Penalised Cox model on standardised numeric features and one-hot categories."""

    name = "cox"

    def __init__(self, config: SurvivalConfig | None = None) -> None:
        self.config = config or SurvivalConfig()

    def _design(self, frame: pd.DataFrame) -> pd.DataFrame:
        numeric = frame[self.numeric_].apply(pd.to_numeric, errors="coerce").astype(float)
        numeric = numeric.fillna(self.medians_).clip(self.lower_, self.upper_, axis=1)
        numeric = (numeric - self.means_) / self.scales_
        dummies = [
            (frame[column].astype("object") == value).astype(float).rename(f"{column}={value}")
            for column, values in self.levels_.items() for value in values]
        return pd.concat([numeric, *dummies], axis=1)

    def fit(self, frame: pd.DataFrame) -> ChurnSurvivalModel:
        """Fit on rows with ``duration_days`` and ``churn_observed`` (those of as-of dates
        ``fit_spacing_days`` apart, counted back from the latest)."""
        if "as_of_date" in frame and self.config.fit_spacing_days > 1:
            kept = spaced_dates(frame["as_of_date"].unique(), self.config.fit_spacing_days)
            frame = frame[frame["as_of_date"].isin(kept)]
        columns = feature_columns(frame)
        self.numeric_ = [c for c in columns if c not in CATEGORICAL]
        numeric = frame[self.numeric_].apply(pd.to_numeric, errors="coerce").astype(float)
        self.medians_ = numeric.median().fillna(0.0)
        # Heavy-tailed ratios (usage velocity can be 100x) would dominate: clip at 1st/99th.
        self.lower_, self.upper_ = numeric.quantile(0.01), numeric.quantile(0.99)
        filled = numeric.fillna(self.medians_).clip(self.lower_, self.upper_, axis=1)
        self.means_ = filled.mean()
        self.scales_ = filled.std().replace(0, 1.0).fillna(1.0)
        # One level per category is the reference (dropped) so the design has full rank.
        self.levels_ = {c: sorted(frame[c].dropna().astype(str).unique())[1:]
                        for c in columns if c in CATEGORICAL}
        design = self._design(frame)
        design = design.loc[:, design.std() > 0]
        self.columns_ = list(design.columns)
        data = design.assign(duration_days=np.maximum(frame["duration_days"].to_numpy(), 0.5),
                             churn_observed=frame["churn_observed"].to_numpy())
        self.model_ = CoxPHFitter(penalizer=self.config.penalizer, l1_ratio=self.config.l1_ratio)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_.fit(data, duration_col="duration_days", event_col="churn_observed")
        self._fit_data = data
        return self

    def risk(self, frame: pd.DataFrame) -> np.ndarray:
        """Partial hazard: higher means earlier churn."""
        return self.model_.predict_partial_hazard(self._design(frame)[self.columns_]).to_numpy()

    def churn_probability(self, frame: pd.DataFrame,
                          horizons=SURVIVAL_HORIZONS) -> dict[int, np.ndarray]:
        """P(churn within t days) for each horizon t."""
        survival = self.model_.predict_survival_function(self._design(frame)[self.columns_],
                                                         times=list(horizons))
        return {t: 1 - survival.loc[t].to_numpy() for t in horizons}

    def median_days_to_churn(self, frame: pd.DataFrame) -> np.ndarray:
        """Median predicted days to churn; infinite when the curve never falls below 0.5.

        S(t) = exp(-H0(t) * partial_hazard) falls to 0.5 where H0(t) reaches
        ln 2 / partial_hazard; H0 is non-decreasing, so a binary search per account finds it
        (what lifelines' ``predict_median`` gives, without a survival curve per account).
        """
        baseline = self.model_.baseline_cumulative_hazard_.iloc[:, 0]
        threshold = np.log(2) / self.risk(frame)
        index = np.searchsorted(baseline.to_numpy(), threshold, side="left")
        times = np.append(baseline.index.to_numpy(float), np.inf)
        return times[index]

    def proportional_hazards_check(self) -> pd.DataFrame:
        """Schoenfeld-residual test per covariate: ``p`` and whether it violates at ph_alpha."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, data = self.model_, self._fit_data
            if len(data) > self.config.ph_test_rows:
                # lifelines tests the data a model was fitted on: refit on the sample.
                data = data.sample(self.config.ph_test_rows, random_state=self.config.seed)
                model = CoxPHFitter(penalizer=self.config.penalizer,
                                    l1_ratio=self.config.l1_ratio).fit(
                    data, duration_col="duration_days", event_col="churn_observed")
            test = proportional_hazard_test(model, data, time_transform="rank")
        summary = test.summary[["test_statistic", "p"]].copy()
        summary["violates"] = summary["p"] < self.config.ph_alpha
        return summary
