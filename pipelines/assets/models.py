"""Model layer: walk-forward validation, final training and registry promotion (MLflow)."""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    MetadataValue,
    Output,
    asset,
)

from features.expansion import expansion_events
from models.baselines import HEALTH_WEIGHTS, correlation_weights
from models.bundle import train_bundle
from models.classifier import ClassifierConfig
from models.evaluation import BASELINES, evaluate_walk_forward, pooled_summary
from models.expansion import (
    decide_expansion_promotion,
    evaluate_expansion,
    train_expansion_model,
)
from models.features import LABEL, feature_columns
from models.leading_indicators import (
    churn_outcomes,
    collinear_groups,
    expansion_outcomes,
    indicator_table,
)
from models.model_health import reference_predictions
from models.promotion import decide_promotion
from models.signals_report import render_signals_page
from models.survival import SurvivalConfig
from models.tracking import (
    EXPANSION_EXPERIMENT,
    EXPANSION_MODEL,
    apply_decision,
    champion_metrics,
    data_hash,
    log_bundle,
    log_expansion_validation,
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
        {b: pooled.loc[b].to_dict() for b in BASELINES if b in pooled.index},
        champion, margin=settings.promotion_margin, auc_floor=settings.auc_floor)
    alias = apply_decision(version, decision)
    context.add_output_metadata({"version": version, "alias": alias, "reason": decision.reason})
    return pd.DataFrame([{"version": version, "alias": alias, "promoted": decision.promote,
                          "reason": decision.reason,
                          "previous_champion": None if champion is None
                          else champion["version"]}])


@asset(group_name=GROUP, ins={"training_set": AssetIn(), "subscriptions": AssetIn()},
       check_specs=[AssetCheckSpec(
           "indicators_from_training_dates_only", asset="leading_indicators",
           description="Every numeric signal has figures for every outcome and lead time, "
                       "computed only from as-of dates whose outcome windows closed before "
                       "the last walk-forward origin")])
def leading_indicators(context: AssetExecutionContext, settings: AccountHealthSettings,
                       training_set: pd.DataFrame, subscriptions: pd.DataFrame):
    """Which signals lead churn and expansion, and how far ahead: univariate AUC (with
    account-bootstrap intervals), Spearman and point-biserial correlation per signal, lead
    time (30/60/90 days) and segment, collinear groups and VIFs; the data-driven health
    weights beside the hand-set ones; and the page ``reports/leading_indicators.html``."""
    folds = walk_forward_folds(training_set["as_of_date"], n_folds=settings.n_folds,
                               horizon_days=settings.horizon_days)
    origin = folds[-1].origin
    train = training_set[folds[-1].train_mask(training_set["as_of_date"])].reset_index(
        drop=True)
    signals = [c for c in feature_columns(train) if pd.api.types.is_numeric_dtype(train[c])]
    outcomes = {"churn": churn_outcomes(train),
                "expansion": expansion_outcomes(train, expansion_events(subscriptions),
                                                observed_until=origin)}
    table = indicator_table(train, signals, outcomes).merge(
        collinear_groups(train, signals), on="feature", how="left")
    data_weights = correlation_weights(train, train[LABEL])
    weights = pd.DataFrame({"component": list(data_weights),
                            "hand": [HEALTH_WEIGHTS[c] for c in data_weights],
                            "data": list(data_weights.values())})
    dates = f"{train['as_of_date'].min():%Y-%m-%d} to {train['as_of_date'].max():%Y-%m-%d}"
    page = settings.reports_dir() / "leading_indicators.html"
    page.write_text(render_signals_page(table, training_dates=dates, health_weights=weights))
    top = table[(table["segment"] == "all") & (table["rank"] == 1)]
    yield Output(table, metadata={
        "training_dates": dates, "signals": len(signals),
        "strongest": MetadataValue.md(top[["outcome", "lead_days", "feature", "auc", "auc_low",
                                           "auc_high"]].to_markdown(index=False,
                                                                    floatfmt=".3f")),
        "correlation_health_weights": MetadataValue.json(data_weights),
        "report": MetadataValue.path(str(page)), "open": MetadataValue.url(page.as_uri())})
    overall = table[table["segment"] == "all"]
    expected = len(outcomes) * len(next(iter(outcomes.values()))) * len(signals)
    latest_window_end = train["as_of_date"].max() + pd.Timedelta(days=settings.horizon_days)
    yield AssetCheckResult(
        check_name="indicators_from_training_dates_only", asset_key="leading_indicators",
        passed=len(overall) == expected and latest_window_end <= origin,
        metadata={"rows_overall": len(overall), "expected": expected,
                  "latest_window_end": str(latest_window_end.date()),
                  "last_origin": str(origin.date())})


@asset(group_name=GROUP, ins={"training_set": AssetIn()})
def expansion_model_validation(context: AssetExecutionContext, settings: AccountHealthSettings,
                               mlflow_tracking: MlflowTracking,
                               training_set: pd.DataFrame) -> pd.DataFrame:
    """Walk-forward top-N targeting of the expansion model against the seeds' rubric and
    random targeting, on the churn model's folds; one run in the expansion experiment."""
    mlflow_tracking.activate(EXPANSION_EXPERIMENT)
    folds = walk_forward_folds(training_set["as_of_date"], n_folds=settings.n_folds,
                               horizon_days=settings.horizon_days)
    config = ClassifierConfig()
    validation = evaluate_expansion(training_set, folds, n=settings.expansion_list_size,
                                    config=config)
    params = {"horizon_days": settings.horizon_days, "n_folds": len(folds),
              "list_size": settings.expansion_list_size,
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
    run_id = expansion_model_validation["mlflow_run_id"].iloc[0]
    model = train_expansion_model(training_set, horizon_days=settings.horizon_days)
    model_uri, version = log_bundle(run_id, model, training_set, name="expansion_model",
                                    registered_model=EXPANSION_MODEL)
    champion = champion_metrics(EXPANSION_MODEL, metrics=("precision_at_n",))
    decision = decide_expansion_promotion(
        expansion_model_validation, None if champion is None else champion["precision_at_n"],
        margin=settings.promotion_margin)
    alias = apply_decision(version, decision, registered_model=EXPANSION_MODEL)
    context.add_output_metadata({"model_uri": model_uri, "version": version, "alias": alias,
                                 "reason": decision.reason})
    return pd.DataFrame([{"mlflow_run_id": run_id, "model_uri": model_uri, "version": version,
                          "alias": alias, "promoted": decision.promote,
                          "reason": decision.reason}])
