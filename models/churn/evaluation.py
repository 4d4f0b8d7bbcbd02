"""Walk-forward evaluation of the churn models beside the naive baselines, on the same folds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from models.churn.baselines import (
    BaseRateBaseline,
    CorrelationWeightedHealthBaseline,
    HealthScoreBaseline,
)
from models.churn.classifier import ChurnClassifier, ClassifierConfig
from models.churn.horizons import HorizonCurve
from models.churn.logistic import LogisticChurnModel, LogisticConfig
from models.churn.survival import ChurnSurvivalModel, SurvivalConfig
from models.churn.textbook import TextbookChurnModel
from models.inputs import LABEL
from models.metrics import (
    SURVIVAL_HORIZONS,
    classification_metrics,
    status_at,
    survival_metrics,
)
from models.parallel import worker_processes
from models.training_sample import account_sample
from models.walk_forward import Fold, censor_at

#: The naive baselines every model is compared with on the same folds.
BASELINES = ("health_score", "correlation_health", "base_rate")
#: The simplest sound model: a candidate, and the bar every other champion must clear.
TEXTBOOK = TextbookChurnModel.name
#: Models that may become the champion's classifier, simplest first: a more complex one is
#: chosen only when the walk-forward evidence says it is better (``choose_candidate``).
CANDIDATES = (TEXTBOOK, "logistic", "xgboost")
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
    #: The candidate the evidence picks (``choose_candidate``).
    chosen: str = TEXTBOOK
    #: Per fold and tuned candidate, the capacity its training window chose.
    settings: pd.DataFrame | None = None


def _models(classifier_config, logistic_config) -> list:
    return [ChurnClassifier(classifier_config), LogisticChurnModel(logistic_config),
            TextbookChurnModel(), HealthScoreBaseline(), CorrelationWeightedHealthBaseline(),
            BaseRateBaseline()]


def evaluate_walk_forward(training: pd.DataFrame, folds: list[Fold], *,
                          classifier_config: ClassifierConfig | None = None,
                          survival_config: SurvivalConfig | None = None,
                          logistic_config: LogisticConfig | None = None,
                          max_training_rows: int | None = None,
                          horizon_days: int = 90,
                          promotion_margin: float = 0.005) -> WalkForwardResult:
    """Fit every model on each fold's training dates and score the fold's origin date.

    Each candidate's risk at 30, 60 and 90 days comes from its own ``horizon_days`` risk
    spread over time by the fold's training rows (``models.churn.horizons``), as scoring
    does; ``promotion_margin`` is the least margin a more complex candidate must win by
    (``choose_candidate``). Above ``max_training_rows``, each fold's models fit on a
    stratified sample of accounts (``models.training_sample``); the origin date is still
    scored for every account.
    """
    workers = worker_processes(training.size, len(folds))
    classifier_config = (classifier_config or ClassifierConfig()).sharing_cores(workers)
    score = delayed(_score_fold)
    results = Parallel(n_jobs=workers)(
        score(training, fold, classifier_config=classifier_config,
              survival_config=survival_config, logistic_config=logistic_config,
              max_training_rows=max_training_rows, horizon_days=horizon_days)
        for fold in folds)
    parts = [r.scored for r in results]
    shap_parts = [r.shap_values for r in results]
    data_parts = [r.shap_data for r in results]
    settings = [row for r in results for row in r.settings]
    cox = results[-1].cox
    proportional_hazards = cox.proportional_hazards_check()  # the latest fold's model
    predictions = pd.concat(parts, ignore_index=True)
    shap_values = pd.concat(shap_parts, ignore_index=True)
    origins = {f.number: f.origin for f in folds}
    fold_metrics = _metrics_by(predictions, "fold").assign(
        origin=lambda m: m["fold"].map(origins))
    chosen = choose_candidate(fold_metrics, margin=promotion_margin)
    pooled = _metrics(predictions).merge(origin_spread(fold_metrics), on="model", how="left")
    return WalkForwardResult(
        predictions=predictions,
        fold_metrics=fold_metrics,
        pooled_metrics=pooled.assign(scope="pooled", chosen=pooled["model"] == chosen),
        segment_metrics=pd.concat([_metrics_by(predictions, c).rename(columns={c: "value"})
                                   .assign(segment_by=c) for c in SEGMENT_COLUMNS
                                   if c in predictions], ignore_index=True),
        shap_importance=shap_values.abs().mean().sort_values(ascending=False),
        shap_values=shap_values,
        shap_data=pd.concat(data_parts, ignore_index=True),
        proportional_hazards=proportional_hazards,
        chosen=chosen,
        settings=pd.DataFrame(settings, columns=["fold", "model", "setting"]),
    )


@dataclass
class _FoldResult:
    scored: pd.DataFrame
    shap_values: pd.DataFrame
    shap_data: pd.DataFrame
    settings: list[dict]
    cox: ChurnSurvivalModel


def _score_fold(training: pd.DataFrame, fold: Fold, *, classifier_config, survival_config,
                logistic_config, max_training_rows, horizon_days) -> _FoldResult:
    """Every model fitted on one fold's training dates and scored on its origin date."""
    train = account_sample(training[fold.train_mask(training["as_of_date"])],
                           max_training_rows)
    test = training[fold.test_mask(training["as_of_date"])]
    scored = test[["account_id", "as_of_date", LABEL, "duration_days", "churn_observed",
                   *[c for c in SEGMENT_COLUMNS if c in test]]].copy()
    scored.insert(0, "fold", fold.number)
    # Survival targets as they were known at the origin: churn after it is censored.
    history = censor_at(account_sample(training[training["as_of_date"] < fold.origin],
                                       max_training_rows), fold.origin)
    curve = HorizonCurve().fit(history["duration_days"], history["churn_observed"])
    settings, shap_values, shap_data = [], None, None
    for model in _models(classifier_config, logistic_config):
        model.fit(train, train[LABEL])
        scored[f"p_{model.name}"] = model.predict_proba(test)
        if model.name in CANDIDATES:
            for horizon, p in curve.probabilities(
                    scored[f"p_{model.name}"], horizon_days=horizon_days,
                    horizons=SURVIVAL_HORIZONS).items():
                scored[f"p_{model.name}_{horizon}d"] = p
        if hasattr(model, "chosen_setting"):
            settings.append({"fold": fold.number, "model": model.name,
                             "setting": model.chosen_setting()})
        if isinstance(model, ChurnClassifier):
            shap_values = model.shap_values(test).drop(columns="bias")
            shap_data = model.matrix(test)
    # The survival model may also learn from rows whose churn came after the origin,
    # as long as that churn is hidden as it was on the origin date.
    cox = ChurnSurvivalModel(survival_config).fit(history)
    scored["cox_risk"] = cox.risk(test)
    for horizon, prob in cox.churn_probability(test).items():
        scored[f"cox_p_{horizon}d"] = prob
    return _FoldResult(scored, shap_values, shap_data, settings, cox)


def _metrics(predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per model (classifiers and the Cox model) with its metrics; candidates also
    at each horizon (``roc_auc_30d``, ``ece_30d``, ``lift_at_10pct_30d``, ...), judged on the
    rows whose status at that horizon is known."""
    rows = []
    y = predictions[LABEL].to_numpy()
    duration = predictions["duration_days"].to_numpy()
    event = predictions["churn_observed"].to_numpy()
    for model in CLASSIFIERS:
        row = {"model": model, **classification_metrics(y, predictions[f"p_{model}"])}
        if model in CANDIDATES:
            for horizon in SURVIVAL_HORIZONS:
                status = status_at(duration, event, horizon)
                known = ~np.isnan(status)
                if not known.any():
                    continue
                at = classification_metrics(status[known],
                                            predictions[f"p_{model}_{horizon}d"][known])
                row.update({f"{metric}_{horizon}d": at[metric] for metric in HORIZON_METRICS})
        rows.append(row)
    cox = survival_metrics(duration, event, predictions["cox_risk"].to_numpy(),
                           {h: predictions[f"cox_p_{h}d"].to_numpy() for h in SURVIVAL_HORIZONS})
    rows.append({"model": "cox", **cox,
                 **classification_metrics(y, predictions["cox_p_90d"].clip(0, 1))})
    return pd.DataFrame(rows)


#: Metrics reported per horizon for every candidate.
HORIZON_METRICS = ("roc_auc", "ece", "lift_at_10pct")


def _metrics_by(predictions: pd.DataFrame, column: str) -> pd.DataFrame:
    frames = []
    for value, group in predictions.groupby(column, sort=True):
        if group[LABEL].nunique() < 2:
            continue  # AUC is undefined for a group with one class
        frames.append(_metrics(group).assign(**{column: value}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def origin_spread(fold_metrics: pd.DataFrame) -> pd.DataFrame:
    """Per model: the mean ROC AUC over walk-forward origins, its standard deviation across
    them and the number of origins."""
    grouped = fold_metrics.groupby("model", sort=False)["roc_auc"]
    return pd.DataFrame({"roc_auc_origin_mean": grouped.mean(),
                         "roc_auc_origin_sd": grouped.std(ddof=1),
                         "origins": grouped.count()}).reset_index()


def choose_candidate(fold_metrics: pd.DataFrame, *, margin: float = 0.005) -> str:
    """The simplest candidate whose per-origin ROC AUC is within one standard error (and
    ``margin``) of the best candidate's: the one-standard-error rule, on paired per-origin
    differences.

    A more complex model wins only when its mean margin over every simpler one exceeds both
    the spread of that margin across origins and ``margin``; a candidate without an AUC
    never wins.
    """
    table = fold_metrics.pivot_table(index="fold", columns="model", values="roc_auc")
    present = [c for c in CANDIDATES if c in table and table[c].notna().any()]
    if not present:
        return CANDIDATES[0]
    best = max(present, key=lambda c: table[c].mean())
    for candidate in present:  # simplest first
        difference = (table[best] - table[candidate]).dropna()
        if len(difference) == 0:
            continue
        error = difference.std(ddof=1) / np.sqrt(len(difference)) if len(difference) > 1 \
            else 0.0
        if difference.mean() <= max(np.nan_to_num(error), margin):
            return candidate
    return best


def chosen_candidate(pooled: pd.DataFrame) -> str:
    """The candidate a walk-forward validation chose (its ``chosen`` flag)."""
    return str(pooled.loc[pooled["chosen"].astype(bool), "model"].iloc[0])


def chosen_line(pooled: pd.DataFrame) -> str:
    """One sentence: which candidate was chosen, with its per-origin ROC AUC beside the
    textbook model's."""
    table = pooled.set_index("model")
    chosen = chosen_candidate(pooled)

    def auc(model: str) -> str:
        return (f"{table.loc[model, 'roc_auc_origin_mean']:.3f} ± "
                f"{table.loc[model, 'roc_auc_origin_sd']:.3f}")

    if chosen == TEXTBOOK:
        return (f"chosen: the textbook model ({auc(TEXTBOOK)} over origins): no other "
                "candidate beat it by more than its spread")
    return (f"chosen: {chosen} ({auc(chosen)} over origins) against the textbook model's "
            f"{auc(TEXTBOOK)}")


def beats_baselines(pooled: pd.DataFrame, *, metrics=("roc_auc", "lift_at_10pct"),
                    model: str = "xgboost") -> dict[str, bool]:
    """Whether ``model`` is strictly better than every baseline on each metric."""
    table = pooled.set_index("model")
    return {m: bool(all(table.loc[model, m] > table.loc[b, m]
                        for b in BASELINES if b in table.index)) for m in metrics}


def pooled_summary(pooled: pd.DataFrame) -> pd.DataFrame:
    """Compact model-by-metric table for reports."""
    columns = ["roc_auc", "roc_auc_origin_mean", "roc_auc_origin_sd", "roc_auc_30d",
               "roc_auc_60d", "pr_auc", "brier", "ece", "distinct_probabilities",
               "precision_at_10pct", "recall_at_10pct", "lift_at_10pct", "concordance",
               "auc_30d", "auc_60d", "auc_90d", "brier_90d"]
    return pooled.set_index("model")[[c for c in columns if c in pooled]].round(4)

