"""The single Dagster ``Definitions`` of account-health.

Serve it with ``dagster dev -m pipelines.definitions`` (see README).
"""

from __future__ import annotations

from dagster import (
    AssetSelection,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
    load_assets_from_modules,
)

from pipelines import checks
from pipelines.assets import features, ingestion, models, reports, scoring
from pipelines.io_manager import PartitionedParquetIOManager
from pipelines.resources import FeastFeatureStore, MlflowTracking, settings_from_env

all_assets = load_assets_from_modules([ingestion, features, reports, models, scoring])
all_checks = [checks.required_tables_present, checks.quarantine_rate_within_limit,
              checks.snapshot_freshness, checks.snapshot_unique_and_complete,
              checks.model_beats_baselines, checks.model_auc_above_floor]

#: Ingest, validate, compute features and publish them to Feast (offline and online).
feature_pipeline_job = define_asset_job(
    "feature_pipeline", selection=AssetSelection.all(),
    description="Ingest and validate exports, build daily snapshots, apply and serve Feast")


#: Rebuild the training set, validate walk-forward, retrain, register and promote.
train_churn_models_job = define_asset_job(
    "train_churn_models",
    selection=AssetSelection.assets("training_set").downstream(),
    description="Walk-forward validation, training, MLflow registration and promotion")
weekly_training_schedule = ScheduleDefinition(
    job=train_churn_models_job, cron_schedule="0 3 * * 1", execution_timezone="UTC",
    description="Retrain every Monday 03:00 UTC on the latest features")


def build_resources(settings=None) -> dict:
    """Resources for the given settings (default: from ACCOUNT_HEALTH_* variables)."""
    settings = settings or settings_from_env()
    return {
        "settings": settings,
        "feast": FeastFeatureStore(output_dir=settings.output_dir),
        "mlflow_tracking": MlflowTracking.local(settings.output_dir),
        "io_manager": PartitionedParquetIOManager(base_dir=f"{settings.output_dir}/assets"),
    }


defs = Definitions(
    assets=all_assets,
    asset_checks=all_checks,
    jobs=[feature_pipeline_job, train_churn_models_job],
    schedules=[weekly_training_schedule],
    resources=build_resources(),
)
