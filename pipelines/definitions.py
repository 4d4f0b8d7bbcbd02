"""The single Dagster ``Definitions`` of account-health.

Serve it with ``dagster dev -m pipelines.definitions`` (``make dagster-ui``).
"""

import os

from dagster import (
    Definitions,
    colored_console_logger,
    define_asset_job,
    load_assets_from_modules,
)

from feature_repo.store import config_file_for
from pipelines import checks
from pipelines.assets import (
    features_snapshot,
    features_store,
    models_analysis,
    models_churn,
    models_expansion,
    monitoring_models,
    monitoring_pages,
    monitoring_retention,
    raw_events,
    raw_quarantine,
    raw_tables,
    reports_cs,
    scoring_alerts,
    scoring_queue,
    scoring_scores,
    training,
)
from pipelines.engine import engine_from_env
from pipelines.io_manager import PartitionedParquetIOManager
from pipelines.progress import progress_logger
from pipelines.resources import (
    AccountHealthSettings,
    AlertEmail,
    AlertWebhook,
    FeastFeatureStore,
    MlflowTracking,
    settings_from_env,
)
from pipelines.schedules import schedules_from_env
from pipelines.selections import (
    DAILY_SCORING,
    FEATURE_PIPELINE,
    MONTHLY_REPORT,
    RETRAINING,
    WEEKLY_REPORT,
)

all_assets = load_assets_from_modules([
    raw_tables,
    raw_events,
    raw_quarantine,
    features_snapshot,
    features_store,
    training,
    models_churn,
    models_expansion,
    models_analysis,
    scoring_scores,
    scoring_alerts,
    scoring_queue,
    monitoring_retention,
    monitoring_models,
    monitoring_pages,
    reports_cs,
])
all_checks = [checks.required_tables_present, checks.quarantine_rate_within_limit,
              checks.snapshot_freshness,
              checks.model_beats_baselines, checks.model_auc_above_floor]

#: Ingest, validate, compute features, publish them to Feast and build the training set.
feature_pipeline_job = define_asset_job(
    "feature_pipeline", selection=FEATURE_PIPELINE,
    description="Ingest and validate exports, build daily snapshots, apply and serve Feast, "
                "build the labelled training set")


#: Rebuild the training set, validate walk-forward, retrain, register and promote.
train_churn_models_job = define_asset_job(
    "train_churn_models",
    selection=RETRAINING,
    description="Walk-forward validation, training, MLflow registration and promotion")

#: One day: ingest and validate, snapshot, Feast (offline and online), scores, alerts.
daily_scoring_job = define_asset_job(
    "daily_scoring",
    selection=DAILY_SCORING,
    description="The morning run: a day's features, scores with reasons and actions, alerts")


#: The weekly operations report (alerts per CSM, SLA adherence, engagement, band moves).
weekly_operations_job = define_asset_job(
    "weekly_operations", selection=WEEKLY_REPORT,
    description="The weekly operations report as of the latest scored day")

#: The monthly executive report (NRR/GRR, renewals, churn split, top risks).
monthly_executive_job = define_asset_job(
    "monthly_executive", selection=MONTHLY_REPORT,
    description="The monthly executive report as of the latest scored day")


def build_resources(settings: AccountHealthSettings | None = None) -> dict:
    """Resources for the given settings (default: from ACCOUNT_HEALTH_* variables).

    ``ACCOUNT_HEALTH_ENV=production`` selects the production stores (docs/operations.md):
    Feast on Postgres and Redis, MLflow at ``ACCOUNT_HEALTH_MLFLOW_TRACKING_URI``. This is
    the only place the two configurations differ. ``ACCOUNT_HEALTH_ENGINE=spark`` runs the
    heavy stages on Spark (``pipelines.engine``).
    """
    settings = settings or settings_from_env()
    engine = engine_from_env()
    environment = os.environ.get("ACCOUNT_HEALTH_ENV", "local")
    if environment not in ("local", "production"):
        # a typo must not quietly run a production deployment on local files
        raise ValueError(f"ACCOUNT_HEALTH_ENV={environment!r}: expected local or production")
    if environment == "production":
        tracking_uri = os.environ.get("ACCOUNT_HEALTH_MLFLOW_TRACKING_URI")
        if not tracking_uri:
            raise ValueError("ACCOUNT_HEALTH_ENV=production needs "
                             "ACCOUNT_HEALTH_MLFLOW_TRACKING_URI (see .env.example)")
        feast = FeastFeatureStore(output_dir=settings.output_dir,
                                  config_file=str(config_file_for(environment, engine.name)))
        mlflow_tracking = MlflowTracking(
            tracking_uri=tracking_uri,
            artifact_location=os.environ.get("ACCOUNT_HEALTH_MLFLOW_ARTIFACT_LOCATION", ""))
    else:
        feast = FeastFeatureStore(output_dir=settings.output_dir,
                                  config_file=str(config_file_for(environment, engine.name)))
        mlflow_tracking = MlflowTracking.local(settings.output_dir)
    return {
        "settings": settings,
        "engine": engine,
        "feast": feast,
        "mlflow_tracking": mlflow_tracking,
        "io_manager": PartitionedParquetIOManager(base_dir=str(settings.assets_dir())),
        "alert_webhook": AlertWebhook(
            url=os.environ.get("ACCOUNT_HEALTH_ALERT_WEBHOOK_URL", "")),
        "alert_email": AlertEmail(
            outbox_dir=str(settings.output_path / "alerts" / "outbox"),
            smtp_host=os.environ.get("ACCOUNT_HEALTH_SMTP_HOST", ""),
            smtp_port=int(os.environ.get("ACCOUNT_HEALTH_SMTP_PORT", "25")),
            sender=os.environ.get("ACCOUNT_HEALTH_ALERT_SENDER", "account-health@localhost")),
    }


def definitions(settings: AccountHealthSettings | None = None) -> Definitions:
    """Assets, checks, jobs and schedules with the resources of ``settings`` (default: from
    the environment)."""
    return Definitions(
        assets=all_assets,
        asset_checks=all_checks,
        jobs=[feature_pipeline_job, train_churn_models_job, daily_scoring_job,
              weekly_operations_job, monthly_executive_job],
        schedules=schedules_from_env(daily_scoring_job, train_churn_models_job,
                                     weekly_operations_job, monthly_executive_job),
        resources=build_resources(settings),
        loggers={"console": colored_console_logger, "progress": progress_logger},
    )


defs = definitions()
