"""Models layer, churn: walk-forward validation of the candidates, the chosen classifier,
and its promotion against the champion."""

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    Failure,
    MetadataValue,
    asset,
)

from features.training_set import too_little_history
from models.analysis.model_quality import reference_predictions
from models.churn.bundle import train_bundle
from models.churn.classifier import ClassifierConfig
from models.churn.evaluation import (
    BASELINES,
    TEXTBOOK,
    chosen_candidate,
    chosen_line,
    evaluate_walk_forward,
    pooled_summary,
)
from models.churn.logistic import LogisticConfig
from models.churn.survival import SurvivalConfig
from models.inputs import feature_columns, informative_columns
from models.promotion import decide_promotion
from models.tracking import (
    apply_decision,
    champion_metrics,
    data_hash,
    log_bundle,
    log_walk_forward,
    tag_candidate,
)
from pipelines.resources import AccountHealthSettings, MlflowTracking
from pipelines.storage import AssetStorage

GROUP = "models"


@asset(group_name=GROUP, ins={"training_set": AssetIn()})
def churn_model_validation(context: AssetExecutionContext, settings: AccountHealthSettings,
                           storage: AssetStorage,
                           mlflow_tracking: MlflowTracking,
                           training_set: pd.DataFrame) -> pd.DataFrame:
    """Walk-forward metrics of the candidates (XGBoost, logistic regression, Cox) and the
    baselines on the same folds; one MLflow parent run. Constant or empty feature columns
    are left out of the fit and listed in the metadata."""
    mlflow_tracking.activate()
    if training_set.empty:
        days = storage.stored_days("account_snapshot")
        raise Failure(description=too_little_history(
            pd.Timestamp(days[0]), pd.Timestamp(days[-1]),
            horizon_days=settings.training.horizon_days))
    folds = settings.training.walk_forward_folds(training_set["as_of_date"])
    classifier, survival = ClassifierConfig(), SurvivalConfig()
    result = evaluate_walk_forward(training_set, folds, classifier_config=classifier,
                                   survival_config=survival,
                                   max_training_rows=settings.training.max_training_rows,
                                   horizon_days=settings.training.horizon_days,
                                   promotion_margin=settings.training.promotion_margin)
    params = {
        "horizon_days": settings.training.horizon_days, "n_folds": len(folds),
        "fold_origins": ",".join(f.origin.date().isoformat() for f in folds),
        "features": ",".join(feature_columns(training_set)),
        "training_rows": len(training_set), "data_hash": data_hash(training_set),
        "max_training_rows": settings.training.max_training_rows,
        "fitted_on": ("every row" if len(training_set) <= settings.training.max_training_rows
                      else "a stratified sample of accounts (models/training_sample.py)"),
        "features_left_out": ",".join(informative_columns(
            training_set, feature_columns(training_set))[1]) or "none",
        **{f"xgboost.{k}": v for k, v in classifier.params().items()},
        **{f"logistic.{k}": v for k, v in LogisticConfig().params().items()},
        **{f"cox.{k}": v for k, v in vars(survival).items()},
    }
    run_id = log_walk_forward(result, folds, params,
                              run_name=f"walk-forward to {folds[-1].origin.date()}")
    summary = pooled_summary(result.pooled_metrics)
    context.add_output_metadata({
        "mlflow_run_id": run_id,
        "pooled_metrics": MetadataValue.md(summary.to_markdown(floatfmt=".4f")),
        "top_shap_features": ", ".join(result.shap_importance.index[:10]),
        "ph_assumption_violations": int(result.proportional_hazards["violates"].sum()),
        "folds": len(folds), "chosen_candidate": chosen_line(result.pooled_metrics),
        "features_left_out": ", ".join(informative_columns(
            training_set, feature_columns(training_set))[1]) or "none",
    })
    return result.pooled_metrics.assign(mlflow_run_id=run_id)


@asset(group_name=GROUP, ins={"training_set": AssetIn(), "churn_model_validation": AssetIn(),
                               "event_vocabulary": AssetIn()})
def churn_model(context: AssetExecutionContext, settings: AccountHealthSettings,
                mlflow_tracking: MlflowTracking, training_set: pd.DataFrame,
                churn_model_validation: pd.DataFrame,
                event_vocabulary: pd.DataFrame | None) -> pd.DataFrame:
    """The candidate classifier the walk-forward evidence chose (the simplest within one
    standard error of the best), with its horizon curve, fitted on all rows, logged and
    registered in MLflow (tagged with the candidate)."""
    mlflow_tracking.activate()
    run_id = churn_model_validation["mlflow_run_id"].iloc[0]
    candidate = chosen_candidate(churn_model_validation)
    bundle = train_bundle(training_set, horizon_days=settings.training.horizon_days,
                          candidate=candidate,
                          event_names=settings.event_taxonomy(event_vocabulary).tracked_events,
                          max_training_rows=settings.training.max_training_rows)
    model_uri, version = log_bundle(run_id, bundle, training_set,
                                    reference=reference_predictions(bundle, training_set))
    tag_candidate(version, candidate)
    context.add_output_metadata({"model_uri": model_uri, "registered_version": version,
                                 "candidate": candidate})
    return pd.DataFrame([{"mlflow_run_id": run_id, "model_uri": model_uri, "version": version,
                          "candidate": candidate}])


@asset(group_name=GROUP, ins={"churn_model": AssetIn(), "churn_model_validation": AssetIn()})
def churn_model_promotion(context: AssetExecutionContext, settings: AccountHealthSettings,
                          mlflow_tracking: MlflowTracking, churn_model: pd.DataFrame,
                          churn_model_validation: pd.DataFrame) -> pd.DataFrame:
    """Champion if it beats the textbook model, the champion and the baselines by the
    margin, else challenger (a
    day is then scored by the champion, or without one, by this version, marked as below
    the bar)."""
    mlflow_tracking.activate()
    pooled = churn_model_validation.set_index("model")
    version = str(churn_model["version"].iloc[0])
    candidate = str(churn_model["candidate"].iloc[0])
    champion = champion_metrics()
    decision = decide_promotion(
        pooled.loc[candidate].to_dict(),
        {b: pooled.loc[b].to_dict() for b in BASELINES if b in pooled.index},
        champion, margin=settings.training.promotion_margin, auc_floor=settings.training.auc_floor,
        textbook=None if candidate == TEXTBOOK else pooled.loc[TEXTBOOK].to_dict())
    alias = apply_decision(version, decision)
    context.add_output_metadata({"version": version, "alias": alias, "reason": decision.reason})
    return pd.DataFrame([{"version": version, "alias": alias, "promoted": decision.promote,
                          "candidate": candidate, "reason": decision.reason,
                          "previous_champion": None if champion is None
                          else champion["version"]}])
