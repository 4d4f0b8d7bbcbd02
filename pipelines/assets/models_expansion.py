"""Models layer, expansion: the expansion model's walk-forward validation and training."""

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    MetadataValue,
    asset,
)

from models.expansion.model import (
    EXPANSION_CLASSIFIER,
    decide_expansion_promotion,
    evaluate_expansion,
    train_expansion_model,
)
from models.tracking import (
    EXPANSION_EXPERIMENT,
    EXPANSION_MODEL,
    apply_decision,
    champion_metrics,
    data_hash,
    log_bundle,
    log_expansion_validation,
)
from pipelines.resources import AccountHealthSettings, MlflowTracking

GROUP = "models"
#: Expansions (complete labels) the history must hold before an expansion model is trained.
MIN_EXPANSIONS = 20


@asset(group_name=GROUP, ins={"training_set": AssetIn()})
def expansion_model_validation(context: AssetExecutionContext, settings: AccountHealthSettings,
                               mlflow_tracking: MlflowTracking,
                               training_set: pd.DataFrame) -> pd.DataFrame:
    """Walk-forward top-N targeting of the expansion model against the rule-based rubric and
    random targeting, on the churn model's folds; one run in the expansion experiment."""
    mlflow_tracking.activate(EXPANSION_EXPERIMENT)
    folds = settings.training.walk_forward_folds(training_set["as_of_date"])
    expansions = int(training_set.loc[training_set["expansion_label_complete"],
                                      "expanded_within_horizon"].sum())
    if expansions < MIN_EXPANSIONS:
        reason = (f"{expansions} expansions in the history, fewer than the {MIN_EXPANSIONS} "
                  "an expansion model needs; no expansion model is trained")
        context.add_output_metadata({"skipped": reason})
        return pd.DataFrame([{"model": "none", "skipped": reason}])
    config = EXPANSION_CLASSIFIER
    validation = evaluate_expansion(training_set, folds, n=settings.training.expansion_list_size,
                                    config=config)
    params = {"horizon_days": settings.training.horizon_days, "n_folds": len(folds),
              "list_size": settings.training.expansion_list_size,
              "training_rows": len(training_set), "data_hash": data_hash(training_set),
              **{f"xgboost.{k}": v for k, v in config.params().items()}}
    run_id = log_expansion_validation(validation, folds, params,
                                      run_name=f"walk-forward to {folds[-1].origin.date()}")
    context.add_output_metadata({
        "mlflow_run_id": run_id,
        "pooled_metrics": MetadataValue.md(validation.pooled_metrics.to_markdown(
            index=False, floatfmt=".4f")),
        "expansion_rate": float(training_set["expanded_within_horizon"].mean())})
    return validation.pooled_metrics.assign(mlflow_run_id=run_id)


@asset(group_name=GROUP,
       ins={"training_set": AssetIn(), "expansion_model_validation": AssetIn()})
def expansion_model(context: AssetExecutionContext, settings: AccountHealthSettings,
                    mlflow_tracking: MlflowTracking, training_set: pd.DataFrame,
                    expansion_model_validation: pd.DataFrame) -> pd.DataFrame:
    """The expansion model fitted on every closed label, registered as
    account-health-expansion; champion when it beats the rubric, random targeting and the
    current champion on walk-forward precision at N, else challenger."""
    mlflow_tracking.activate(EXPANSION_EXPERIMENT)
    if "skipped" in expansion_model_validation:
        reason = str(expansion_model_validation["skipped"].iloc[0])
        context.add_output_metadata({"skipped": reason})
        return pd.DataFrame([{"mlflow_run_id": None, "model_uri": None, "version": None,
                              "alias": "none", "promoted": False, "reason": reason}])
    run_id = expansion_model_validation["mlflow_run_id"].iloc[0]
    model = train_expansion_model(training_set, horizon_days=settings.training.horizon_days)
    model_uri, version = log_bundle(run_id, model, training_set, name="expansion_model",
                                    registered_model=EXPANSION_MODEL)
    champion = champion_metrics(EXPANSION_MODEL, metrics=("precision_at_n",))
    decision = decide_expansion_promotion(
        expansion_model_validation, None if champion is None else champion["precision_at_n"],
        margin=settings.training.promotion_margin)
    alias = apply_decision(version, decision, registered_model=EXPANSION_MODEL)
    context.add_output_metadata({"model_uri": model_uri, "version": version, "alias": alias,
                                 "reason": decision.reason})
    return pd.DataFrame([{"mlflow_run_id": run_id, "model_uri": model_uri, "version": version,
                          "alias": alias, "promoted": decision.promote,
                          "reason": decision.reason}])
