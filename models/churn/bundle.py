"""The deployable churn model: the chosen classifier and its horizon curve as one MLflow
pyfunc.

Every risk a user sees comes from the classifier: its probability of churn within the
training horizon, spread over 30, 60 and 90 days and into a median time to churn by the
training rows' own churn timing (``models.churn.horizons``). So the risks never fall as
the horizon grows, the headline risk is the 90-day one, and the time to churn agrees with
both.
"""

from __future__ import annotations

from collections.abc import Sequence

import mlflow.pyfunc
import numpy as np
import pandas as pd

from models.churn.classifier import ChurnClassifier
from models.churn.horizons import HorizonCurve
from models.churn.logistic import LogisticChurnModel
from models.churn.textbook import TextbookChurnModel
from models.inputs import LABEL, typical_values
from models.metrics import SURVIVAL_HORIZONS
from models.training_sample import account_sample

OUTPUT_COLUMNS = ["churn_probability", "p_churn_30d", "p_churn_60d", "p_churn_90d",
                  "median_days_to_churn"]
#: The candidate classifiers by name (``models.churn.evaluation.CANDIDATES``).
CLASSIFIER_TYPES = {model.name: model for model in (TextbookChurnModel, LogisticChurnModel,
                                                    ChurnClassifier)}
#: The horizon the headline ``churn_probability`` speaks of.
HEADLINE_HORIZON_DAYS = 90


class ChurnModelBundle(mlflow.pyfunc.PythonModel):
    """``predict`` takes snapshot feature rows and returns ``OUTPUT_COLUMNS``."""

    def __init__(self, classifier: ChurnClassifier | LogisticChurnModel,
                 curve: HorizonCurve, horizon_days: int,
                 event_names: Sequence[str] = (), typical: pd.Series | None = None) -> None:
        self.classifier = classifier
        self.curve = curve
        self.horizon_days = horizon_days
        #: What the per-event features' slots held in training (``event_k`` is name k).
        self.event_names = list(event_names)
        #: The training set's typical values, that reasons are read against
        #: (models.inputs.typical_values).
        self.typical = typical

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        at_horizon = self.classifier.predict_proba(model_input)
        probability = self.curve.probabilities(
            at_horizon, horizon_days=self.horizon_days,
            horizons=sorted({*SURVIVAL_HORIZONS, HEADLINE_HORIZON_DAYS}))
        median = self.curve.median_days(at_horizon, horizon_days=self.horizon_days)
        return pd.DataFrame({
            "churn_probability": probability[HEADLINE_HORIZON_DAYS],
            "p_churn_30d": probability[30], "p_churn_60d": probability[60],
            "p_churn_90d": probability[90],
            "median_days_to_churn": np.where(np.isfinite(median), median, np.nan),
        }, index=model_input.index)


def train_bundle(training: pd.DataFrame, *, horizon_days: int, classifier_config=None,
                 candidate: str = "xgboost", event_names: Sequence[str] = (),
                 max_training_rows: int | None = None) -> ChurnModelBundle:
    """Fit the deployable model on every training row (labels must have closed), or above
    ``max_training_rows`` on a stratified sample of accounts (``models.training_sample``);
    ``candidate`` names the classifier (``CLASSIFIER_TYPES``), ``event_names`` the tracked
    event of each per-event feature slot (for the reasons' sentences). The horizon curve
    learns from every row, the still-open ones censored where their data ends."""
    training = account_sample(training, max_training_rows)
    complete = training[training["label_complete"]]
    kind = CLASSIFIER_TYPES[candidate]
    model = kind(classifier_config) if kind is ChurnClassifier else kind()
    classifier = model.fit(complete, complete[LABEL])
    curve = HorizonCurve().fit(training["duration_days"], training["churn_observed"])
    return ChurnModelBundle(classifier, curve, horizon_days, event_names,
                            typical_values(complete))
