"""The single Dagster ``Definitions`` of account-health.

Serve it with ``dagster dev -m pipelines.definitions`` (``make dagster-ui``).
"""


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
    models_activation,
    models_churn,
    models_expansion,
    models_indicators,
    models_interventions,
    models_playbooks,
    models_renewals,
    monitoring_accounts,
    monitoring_drift,
    monitoring_outcomes,
    monitoring_pages,
    monitoring_retention,
    raw_events,
    raw_quarantine,
    raw_tables,
    reports_cs,
    scoring_alerts,
    scoring_history,
    scoring_queue,
    scoring_scores,
    scoring_work_items,
    training,
)
from pipelines.engine import engine_from
from pipelines.environment import Environment, read_environment
from pipelines.io_manager import PartitionedParquetIOManager
from pipelines.progress import progress_logger
from pipelines.resources import (
    AccountHealthSettings,
    AlertEmail,
    AlertWebhook,
    FeastFeatureStore,
    MlflowTracking,
    settings_from,
)
from pipelines.schedules import schedules_from
from pipelines.selections import (
    DAILY_SCORING,
    FEATURE_PIPELINE,
    MONTHLY_REPORT,
    RETRAINING,
    WEEKLY_REPORT,
)
from pipelines.storage import AssetStorage

all_assets = load_assets_from_modules([
    raw_tables,
    raw_events,
    raw_quarantine,
    features_snapshot,
    features_store,
    training,
    models_activation,
    models_churn,
    models_expansion,
    models_indicators,
    models_interventions,
    models_playbooks,
    scoring_scores,
    scoring_alerts,
    scoring_history,
    scoring_queue,
    scoring_work_items,
    models_renewals,
    monitoring_retention,
    monitoring_drift,
    monitoring_outcomes,
    monitoring_pages,
    monitoring_accounts,
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


def build_resources(settings: AccountHealthSettings | None = None,
                    environment: Environment | None = None) -> dict:
    """Resources for the given settings and environment (default: this process's).

    ``ACCOUNT_HEALTH_ENV=production`` selects the production stores (docs/operations.md):
    Feast on Postgres and Redis, MLflow at ``ACCOUNT_HEALTH_MLFLOW_TRACKING_URI``. This is
    the only place the two configurations differ. ``ACCOUNT_HEALTH_ENGINE=spark`` runs the
    heavy stages on Spark (``pipelines.engine``).
    """
    environment = environment or read_environment()
    settings = settings or settings_from(environment)
    deployment, delivery = environment.deployment, environment.delivery
    engine = engine_from(deployment)
    if deployment.environment not in ("local", "production"):
        # a typo must not quietly run a production deployment on local files
        raise ValueError(f"ACCOUNT_HEALTH_ENV={deployment.environment!r}: expected local or "
                         "production")
    feast = FeastFeatureStore(output_dir=settings.output_dir, config_file=str(
        config_file_for(deployment.environment, engine.name)))
    if deployment.environment == "production":
        if not deployment.mlflow_tracking_uri:
            raise ValueError("ACCOUNT_HEALTH_ENV=production needs "
                             "ACCOUNT_HEALTH_MLFLOW_TRACKING_URI (see .env.example)")
        mlflow_tracking = MlflowTracking(
            tracking_uri=deployment.mlflow_tracking_uri,
            artifact_location=deployment.mlflow_artifact_location)
    else:
        mlflow_tracking = MlflowTracking.local(settings.output_dir)
    storage = AssetStorage.under(settings.output_dir)
    return {
        "settings": settings,
        "engine": engine,
        "feast": feast,
        "mlflow_tracking": mlflow_tracking,
        "io_manager": PartitionedParquetIOManager(base_dir=storage.base_dir),
        "storage": storage,
        "alert_webhook": AlertWebhook(url=delivery.webhook_url),
        "alert_email": AlertEmail(
            outbox_dir=str(settings.output_path / "alerts" / "outbox"),
            smtp_host=delivery.smtp_host, smtp_port=int(delivery.smtp_port),
            sender=delivery.sender),
    }


def definitions(settings: AccountHealthSettings | None = None,
                environment: Environment | None = None) -> Definitions:
    """Assets, checks, jobs and schedules with the resources of ``settings`` and
    ``environment`` (default: this process's environment, read once here)."""
    environment = environment or read_environment()
    return Definitions(
        assets=all_assets,
        asset_checks=all_checks,
        jobs=[feature_pipeline_job, train_churn_models_job, daily_scoring_job,
              weekly_operations_job, monthly_executive_job],
        schedules=schedules_from(environment.schedule, daily_scoring_job,
                                 train_churn_models_job, weekly_operations_job,
                                 monthly_executive_job),
        resources=build_resources(settings, environment),
        loggers={"console": colored_console_logger, "progress": progress_logger},
    )


defs = definitions()
