"""Monitoring layer, drift: the day's features and predictions against the training data."""

import functools

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from features.event_vocabulary import readable_event_columns
from models.analysis import model_quality
from models.analysis.drift import DriftThresholds, feature_drift
from models.inputs import feature_columns
from models.tracking import validation_of
from pipelines.assets.features_snapshot import account_snapshot
from pipelines.assets.scoring_scores import account_scores
from pipelines.partitions import daily_partitions, run_days
from pipelines.resources import AccountHealthSettings, MlflowTracking
from pipelines.storage import AssetStorage

GROUP = "monitoring"


@asset(
    name="feature_drift",
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={"training_set": AssetIn(), "event_vocabulary": AssetIn()},
    deps=[account_snapshot],
    metadata={"partition_column": "as_of_date"},
    check_specs=[AssetCheckSpec(
        "features_have_not_drifted", asset="feature_drift",
        description="Warns when a feature's distribution today has moved away from the "
                    "training data (PSI or KS above the thresholds): the model is scoring "
                    "a population it was not trained on; retrain (job train_churn_models).")],
)
def feature_drift_asset(context: AssetExecutionContext, settings: AccountHealthSettings,
                        storage: AssetStorage,
                        training_set: pd.DataFrame, event_vocabulary: pd.DataFrame | None):
    """Per day and feature: PSI and KS of the day's snapshot against the training set."""
    features = feature_columns(training_set)
    thresholds = DriftThresholds(psi=settings.monitoring.drift_psi_threshold,
                                 ks=settings.monitoring.drift_ks_threshold)
    exempt = tuple(f.strip() for f in settings.monitoring.drift_exempt_features.split(",")
                   if f.strip())
    days = run_days(context)
    event_names = settings.event_taxonomy(event_vocabulary).tracked_events
    tables = []
    for day in days:
        snapshot_file = storage.partition_dir("account_snapshot") / f"{day:%Y-%m-%d}.parquet"
        if not snapshot_file.exists():
            raise Failure(f"no account_snapshot for {day:%Y-%m-%d}; materialise it first")
        today = readable_event_columns(pd.read_parquet(snapshot_file), event_names)
        tables.append(feature_drift(training_set, today, features, thresholds=thresholds,
                                    exempt=exempt).assign(as_of_date=day))
    result = pd.concat(tables, ignore_index=True)
    last = result[result["as_of_date"] == days[-1]]
    drifted = last.loc[last["drifted"], "feature"].tolist()
    yield Output(result, metadata={"max_psi": float(last["psi"].max()),
                                   "drifted_features": ", ".join(drifted) or "none"})
    yield AssetCheckResult(
        check_name="features_have_not_drifted", asset_key="feature_drift",
        passed=not drifted, severity=AssetCheckSeverity.WARN,
        description=(f"{len(drifted)} feature(s) drifted on {days[-1]:%Y-%m-%d}: "
                     f"{', '.join(drifted)}; retraining is recommended (job "
                     "train_churn_models)" if drifted else None),
        metadata={"day": f"{days[-1]:%Y-%m-%d}", "drifted_features": ", ".join(drifted) or "none",
                  "top_psi": MetadataValue.md(last.head(5)[["feature", "psi", "ks_statistic"]]
                                              .to_markdown(index=False, floatfmt=".3f"))})


def scoring_model_validation(mlflow_tracking: MlflowTracking):
    """The walk-forward validation of a model version, fetched from MLflow once per run."""
    mlflow_tracking.activate()
    return functools.cache(validation_of)


@asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=[account_scores],
    metadata={"partition_column": "as_of_date"},
    check_specs=[AssetCheckSpec(
        "predictions_have_not_drifted", asset="prediction_drift",
        description="Warns when today's churn probabilities are distributed unlike the "
                    "same model's predictions on its latest training dates (PSI or KS above "
                    "the drift thresholds): the population it scores has moved from the one "
                    "it was trained and validated on; retrain (job train_churn_models).")],
)
def prediction_drift(context: AssetExecutionContext, settings: AccountHealthSettings,
                     storage: AssetStorage,
                     mlflow_tracking: MlflowTracking):
    """Per day: PSI and KS of the scored churn probabilities against the scoring model's own
    predictions on its latest training dates, the mean of each and the share flagged red
    in each."""
    validation = scoring_model_validation(mlflow_tracking)
    health = settings.scoring_config().health
    thresholds = DriftThresholds(psi=settings.monitoring.drift_psi_threshold,
                                 ks=settings.monitoring.drift_ks_threshold)
    days = run_days(context)
    rows = []
    for day in days:
        scores = pd.read_parquet(storage.asset_file("account_scores", day),
                                 columns=["churn_probability", "color", "model_version"])
        version = str(scores["model_version"].iloc[0])
        reference = validation(version)
        row = {"as_of_date": day, "model_version": version}
        if reference is not None and reference.reference is not None:
            predictions = reference.reference["churn_probability"]
            segments = reference.reference["segment"]
            flagged = model_quality.bands_of(predictions, segments, health)["color"] == "red"
            row |= model_quality.prediction_drift(
                predictions, scores["churn_probability"], thresholds=thresholds,
                flagged_reference=flagged, flagged_current=scores["color"] == "red")
        rows.append(row)
    result = pd.DataFrame(rows)
    last = rows[-1]
    yield Output(result, metadata={k: v for k, v in last.items() if k != "as_of_date"})
    if "psi" not in last:
        yield AssetCheckResult(
            check_name="predictions_have_not_drifted", asset_key="prediction_drift",
            passed=True, description=f"model version {last['model_version']} has no saved "
            "reference predictions to compare with (trained before they were logged)")
        return
    yield AssetCheckResult(
        check_name="predictions_have_not_drifted", asset_key="prediction_drift",
        passed=not last["drifted"], severity=AssetCheckSeverity.WARN,
        description=(f"churn probabilities on {days[-1]:%Y-%m-%d} drifted from training "
                     f"(PSI {last['psi']:.3f}, KS {last['ks_statistic']:.3f}; mean "
                     f"{last['mean_current']:.3f} against {last['mean_reference']:.3f}); "
                     "retraining is recommended (job train_churn_models)"
                     if last["drifted"] else None),
        metadata={"day": f"{days[-1]:%Y-%m-%d}", "psi": last["psi"],
                  "ks_statistic": last["ks_statistic"]})
