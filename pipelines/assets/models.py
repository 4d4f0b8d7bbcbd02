"""Model layer: walk-forward validation, final training and registry promotion (MLflow)."""

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MetadataValue, asset

from models.bundle import train_bundle
from models.classifier import ClassifierConfig
from models.evaluation import evaluate_walk_forward, pooled_summary
from models.features import feature_columns
from models.model_health import reference_predictions
from models.promotion import decide_promotion
from models.survival import SurvivalConfig
from models.tracking import (
    apply_decision,
    champion_metrics,
    data_hash,
    log_bundle,
    log_walk_forward,
)
from models.validation import walk_forward_folds
from pipelines.resources import AccountHealthSettings, MlflowTracking

GROUP = "models"


@asset(group_name=GROUP, ins={"training_set": AssetIn()})
def churn_model_validation(context: AssetExecutionContext, settings: AccountHealthSettings,
                           mlflow_tracking: MlflowTracking,
                           training_set: pd.DataFrame) -> pd.DataFrame:
    """Walk-forward metrics of XGBoost, Cox and the baselines; one MLflow parent run."""
    mlflow_tracking.activate()
    folds = walk_forward_folds(training_set["as_of_date"], n_folds=settings.n_folds,
                               horizon_days=settings.horizon_days)
    classifier, survival = ClassifierConfig(), SurvivalConfig()
    result = evaluate_walk_forward(training_set, folds, classifier_config=classifier,
                                   survival_config=survival)
    params = {
        "horizon_days": settings.horizon_days, "n_folds": len(folds),
        "fold_origins": ",".join(f.origin.date().isoformat() for f in folds),
        "features": ",".join(feature_columns(training_set)),
        "training_rows": len(training_set), "data_hash": data_hash(training_set),
        **{f"xgboost.{k}": v for k, v in classifier.params().items()},
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
    })
    return result.pooled_metrics.assign(mlflow_run_id=run_id)


@asset(group_name=GROUP, ins={"training_set": AssetIn(), "churn_model_validation": AssetIn()})
def churn_model(context: AssetExecutionContext, settings: AccountHealthSettings,
                mlflow_tracking: MlflowTracking, training_set: pd.DataFrame,
                churn_model_validation: pd.DataFrame) -> pd.DataFrame:
    """Classifier + Cox model fitted on all rows, logged and registered in MLflow."""
    mlflow_tracking.activate()
    run_id = churn_model_validation["mlflow_run_id"].iloc[0]
    bundle = train_bundle(training_set, horizon_days=settings.horizon_days)
    model_uri, version = log_bundle(run_id, bundle, training_set,
                                    reference=reference_predictions(bundle, training_set))
    context.add_output_metadata({"model_uri": model_uri, "registered_version": version})
    return pd.DataFrame([{"mlflow_run_id": run_id, "model_uri": model_uri, "version": version}])


@asset(group_name=GROUP, ins={"churn_model": AssetIn(), "churn_model_validation": AssetIn()})
def churn_model_promotion(context: AssetExecutionContext, settings: AccountHealthSettings,
                          mlflow_tracking: MlflowTracking, churn_model: pd.DataFrame,
                          churn_model_validation: pd.DataFrame) -> pd.DataFrame:
    """Champion if it beats the champion and baselines by the margin, else challenger."""
    mlflow_tracking.activate()
    pooled = churn_model_validation.set_index("model")
    version = str(churn_model["version"].iloc[0])
    champion = champion_metrics()
    decision = decide_promotion(
        pooled.loc["xgboost"].to_dict(),
        {b: pooled.loc[b].to_dict() for b in ("health_score", "base_rate")},
        champion, margin=settings.promotion_margin, auc_floor=settings.auc_floor)
    alias = apply_decision(version, decision)
    context.add_output_metadata({"version": version, "alias": alias, "reason": decision.reason})
    return pd.DataFrame([{"version": version, "alias": alias, "promoted": decision.promote,
                          "reason": decision.reason,
                          "previous_champion": None if champion is None
                          else champion["version"]}])
