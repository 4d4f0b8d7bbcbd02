"""Walk-forward evaluation of the churn models beside the naive baselines, on the same folds."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from models.churn.baselines import (
    BaseRateBaseline,
    CorrelationWeightedHealthBaseline,
    HealthScoreBaseline,
)
from models.churn.classifier import ChurnClassifier, ClassifierConfig
from models.churn.logistic import LogisticChurnModel, LogisticConfig
from models.churn.survival import ChurnSurvivalModel, SurvivalConfig
from models.inputs import LABEL
from models.metrics import SURVIVAL_HORIZONS, classification_metrics, survival_metrics
from models.training_sample import account_sample
from models.walk_forward import Fold, censor_at

#: The naive baselines every model is compared with on the same folds.
BASELINES = ("health_score", "correlation_health", "base_rate")
#: Models that may become the champion's classifier, chosen by walk-forward evidence.
CANDIDATES = ("xgboost", "logistic")
CLASSIFIERS = (*CANDIDATES, *BASELINES)
SEGMENT_COLUMNS = ("segment", "plan")


@dataclass
class WalkForwardResult:
    """Out-of-fold predictions and the metrics computed from them."""

    predictions: pd.DataFrame
    fold_metrics: pd.DataFrame
    pooled_metrics: pd.DataFrame
    segment_metrics: pd.DataFrame
    shap_importance: pd.Series
    #: Signed SHAP values and the feature values they explain, aligned with ``predictions``.
    shap_values: pd.DataFrame
    shap_data: pd.DataFrame
    proportional_hazards: pd.DataFrame


def evaluate_walk_forward(training: pd.DataFrame, folds: list[Fold], *,
                          classifier_config: ClassifierConfig | None = None,
                          survival_config: SurvivalConfig | None = None,
                          logistic_config: LogisticConfig | None = None,
                          max_training_rows: int | None = None) -> WalkForwardResult:
    """Fit every model on each fold's training dates and score the fold's origin date.

    Above ``max_training_rows``, each fold's models fit on a stratified sample of accounts
    (``models.training_sample``); the origin date is still scored for every account.
    """
    parts, shap_parts, data_parts = [], [], []
    for fold in folds:
        train = account_sample(training[fold.train_mask(training["as_of_date"])],
                               max_training_rows)
        test = training[fold.test_mask(training["as_of_date"])]
        scored = test[["account_id", "as_of_date", LABEL, "duration_days", "churn_observed",
                       *[c for c in SEGMENT_COLUMNS if c in test]]].copy()
        scored.insert(0, "fold", fold.number)
        for model in (ChurnClassifier(classifier_config), LogisticChurnModel(logistic_config),
                      HealthScoreBaseline(), CorrelationWeightedHealthBaseline(),
                      BaseRateBaseline()):
            model.fit(train, train[LABEL])
            scored[f"p_{model.name}"] = model.predict_proba(test)
            if isinstance(model, ChurnClassifier):
                shap_parts.append(model.shap_values(test).drop(columns="bias"))
                data_parts.append(model.matrix(test))
        # The survival model may also learn from rows whose churn came after the origin,
        # as long as that churn is hidden (censored) as it was on the origin date.
        history = censor_at(account_sample(training[training["as_of_date"] < fold.origin],
                                           max_training_rows), fold.origin)
        cox = ChurnSurvivalModel(survival_config).fit(history)
        scored["cox_risk"] = cox.risk(test)
        for horizon, prob in cox.churn_probability(test).items():
            scored[f"cox_p_{horizon}d"] = prob
        parts.append(scored)
    proportional_hazards = cox.proportional_hazards_check()  # the latest fold's model
    predictions = pd.concat(parts, ignore_index=True)
    shap_values = pd.concat(shap_parts, ignore_index=True)
    origins = {f.number: f.origin for f in folds}
    fold_metrics = _metrics_by(predictions, "fold").assign(
        origin=lambda m: m["fold"].map(origins))
    return WalkForwardResult(
        predictions=predictions,
        fold_metrics=fold_metrics,
        pooled_metrics=_metrics(predictions).assign(scope="pooled"),
        segment_metrics=pd.concat([_metrics_by(predictions, c).rename(columns={c: "value"})
                                   .assign(segment_by=c) for c in SEGMENT_COLUMNS
                                   if c in predictions], ignore_index=True),
        shap_importance=shap_values.abs().mean().sort_values(ascending=False),
        shap_values=shap_values,
        shap_data=pd.concat(data_parts, ignore_index=True),
        proportional_hazards=proportional_hazards,
    )


def _metrics(predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per model (classifiers and the Cox model) with its metrics."""
    rows = []
    y = predictions[LABEL].to_numpy()
    for model in CLASSIFIERS:
        rows.append({"model": model, **classification_metrics(y, predictions[f"p_{model}"])})
    cox = survival_metrics(
        predictions["duration_days"].to_numpy(), predictions["churn_observed"].to_numpy(),
        predictions["cox_risk"].to_numpy(),
        {h: predictions[f"cox_p_{h}d"].to_numpy() for h in SURVIVAL_HORIZONS})
    rows.append({"model": "cox", **cox,
                 **classification_metrics(y, predictions["cox_p_90d"].clip(0, 1))})
    return pd.DataFrame(rows)


def _metrics_by(predictions: pd.DataFrame, column: str) -> pd.DataFrame:
    frames = []
    for value, group in predictions.groupby(column, sort=True):
        if group[LABEL].nunique() < 2:
            continue  # AUC is undefined for a group with one class
        frames.append(_metrics(group).assign(**{column: value}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def beats_baselines(pooled: pd.DataFrame, *, metrics=("roc_auc", "lift_at_10pct"),
                    model: str = "xgboost") -> dict[str, bool]:
    """Whether ``model`` is strictly better than every baseline on each metric."""
    table = pooled.set_index("model")
    return {m: bool(all(table.loc[model, m] > table.loc[b, m]
                        for b in BASELINES if b in table.index)) for m in metrics}


def best_candidate(pooled: pd.DataFrame) -> str:
    """The candidate (``CANDIDATES``) with the best pooled walk-forward ROC AUC (ties: the
    first listed); a candidate without an AUC never wins over one with."""
    table = pooled.set_index("model")["roc_auc"]
    scores = {c: table.get(c, float("nan")) for c in CANDIDATES}
    return max(CANDIDATES, key=lambda c: (pd.notna(scores[c]), scores[c]
                                          if pd.notna(scores[c]) else 0.0,
                                          -CANDIDATES.index(c)))


def pooled_summary(pooled: pd.DataFrame) -> pd.DataFrame:
    """Compact model-by-metric table for reports."""
    columns = ["roc_auc", "pr_auc", "brier", "ece", "distinct_probabilities",
               "precision_at_10pct", "recall_at_10pct", "lift_at_10pct", "concordance",
               "auc_30d", "auc_60d", "auc_90d", "brier_90d"]
    return pooled.set_index("model")[[c for c in columns if c in pooled]].round(4)

