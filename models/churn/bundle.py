"""The deployable churn model: calibrated classifier and Cox model as one MLflow pyfunc.

Both are trained on the same data and promoted together, so scoring always pairs a risk
with a time-to-churn estimate from the same registry version.
"""

from __future__ import annotations

from collections.abc import Sequence

import mlflow.pyfunc
import numpy as np
import pandas as pd

from models.churn.classifier import ChurnClassifier
from models.churn.logistic import LogisticChurnModel
from models.churn.survival import ChurnSurvivalModel
from models.inputs import LABEL
from models.training_sample import account_sample

OUTPUT_COLUMNS = ["churn_probability", "p_churn_30d", "p_churn_60d", "p_churn_90d",
                  "median_days_to_churn"]


class ChurnModelBundle(mlflow.pyfunc.PythonModel):
    """``predict`` takes snapshot feature rows and returns ``OUTPUT_COLUMNS``."""

    def __init__(self, classifier: ChurnClassifier | LogisticChurnModel,
                 survival: ChurnSurvivalModel,
                 horizon_days: int, event_names: Sequence[str] = ()) -> None:
        self.classifier = classifier
        self.survival = survival
        self.horizon_days = horizon_days
        #: What the per-event features' slots held in training (``event_k`` is name k).
        self.event_names = list(event_names)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        probability = self.survival.churn_probability(model_input)
        median = self.survival.median_days_to_churn(model_input)
        return pd.DataFrame({
            "churn_probability": self.classifier.predict_proba(model_input),
            "p_churn_30d": probability[30], "p_churn_60d": probability[60],
            "p_churn_90d": probability[90],
            "median_days_to_churn": np.where(np.isfinite(median), median, np.nan),
        }, index=model_input.index)


def train_bundle(training: pd.DataFrame, *, horizon_days: int, classifier_config=None,
                 survival_config=None, candidate: str = "xgboost",
                 event_names: Sequence[str] = (),
                 max_training_rows: int | None = None) -> ChurnModelBundle:
    """Fit the deployable models on every training row (labels must have closed), or above
    ``max_training_rows`` on a stratified sample of accounts (``models.training_sample``);
    ``candidate`` names the classifier (``models.evaluation.CANDIDATES``), ``event_names``
    the tracked event of each per-event feature slot (for the reasons' sentences)."""
    training = account_sample(training, max_training_rows)
    complete = training[training["label_complete"]]
    model = (LogisticChurnModel() if candidate == LogisticChurnModel.name
             else ChurnClassifier(classifier_config))
    classifier = model.fit(complete, complete[LABEL])
    survival = ChurnSurvivalModel(survival_config).fit(training)
    return ChurnModelBundle(classifier, survival, horizon_days, event_names)
