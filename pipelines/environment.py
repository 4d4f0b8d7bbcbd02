"""The one module that reads the process environment (docs/configuration.md lists every
variable).

The entry points (``make run``, the CLI, Dagster's code location in
``pipelines.definitions``) read it once with ``read_environment`` and hand the typed parts
on: paths and pipeline settings to ``AccountHealthSettings``, the deployment to the
resources and the engine, the schedule to the schedules. The few settings this process
gives the libraries it starts (Dagster's run batching, Spark's Python) are written here too.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Where ``make run`` writes unless ``ACCOUNT_HEALTH_OUTPUT_DIR`` names another directory;
#: feature_repo/feature_store.yaml's relative paths point here too.
DEFAULT_OUTPUT_DIR = Path(__file__).resolve().parent.parent / "output"

#: Variables that set an ``AccountHealthSettings`` field, by the field they set.
SETTINGS_VARIABLES = {
    "ACCOUNT_HEALTH_MAPPING_FILE": "mapping_file",
    "ACCOUNT_HEALTH_START_DATE": "pipeline_start_date",
    "ACCOUNT_HEALTH_NOW": "now",
    "ACCOUNT_HEALTH_SCORING_CONFIG": "scoring_config_file",
    "ACCOUNT_HEALTH_MAX_QUARANTINE_SHARE": "max_required_quarantine_share",
    "ACCOUNT_HEALTH_HORIZON_DAYS": "horizon_days",
    "ACCOUNT_HEALTH_TRAINING_CADENCE_DAYS": "training_cadence_days",
    "ACCOUNT_HEALTH_MAX_FOLDS": "n_folds",
    "ACCOUNT_HEALTH_AUC_FLOOR": "auc_floor",
    "ACCOUNT_HEALTH_MAX_TRAINING_ROWS": "max_training_rows",
    "ACCOUNT_HEALTH_PROMOTION_MARGIN": "promotion_margin",
}


@dataclass(frozen=True)
class Paths:
    """Where the export is read and everything is written; ``demo`` when no data directory
    was named (the demo data under the output directory)."""

    output_dir: Path
    data_dir: Path
    demo: bool


@dataclass(frozen=True)
class Deployment:
    """Where the stores and the heavy stages run (validated where they are used)."""

    environment: str  # ACCOUNT_HEALTH_ENV: local or production
    engine: str  # ACCOUNT_HEALTH_ENGINE: local or spark
    spark_master: str
    spark_conf: str  # a JSON object of Spark settings
    mlflow_tracking_uri: str
    mlflow_artifact_location: str


@dataclass(frozen=True)
class Schedule:
    status: str
    daily_run_at: str
    timezone: str


@dataclass(frozen=True)
class Delivery:
    """Where alerts go."""

    webhook_url: str
    smtp_host: str
    smtp_port: str
    sender: str


@dataclass(frozen=True)
class Environment:
    """The product's settings as the environment gives them, by concern."""

    paths: Paths
    #: ``AccountHealthSettings`` fields set by a variable (``SETTINGS_VARIABLES``), as text
    settings: dict[str, str]
    deployment: Deployment
    schedule: Schedule
    delivery: Delivery
    demo_accounts: str
    demo_months: str
    #: weeks of daily scores the first ``make run`` builds, so trends have a history
    scored_history_weeks: str
    dagster_home: str
    #: every variable, for the ``${...}`` placeholders of the production Feast YAML
    variables: Mapping[str, str] = field(repr=False)


def read_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """The product's settings from ``environ`` (default: this process's environment)."""
    values = dict(os.environ if environ is None else environ)

    def get(name: str, default: str = "") -> str:
        return values.get(name) or default

    output_dir = Path(get("ACCOUNT_HEALTH_OUTPUT_DIR") or DEFAULT_OUTPUT_DIR).resolve()
    data_dir = get("ACCOUNT_HEALTH_DATA_DIR")
    return Environment(
        paths=Paths(output_dir=output_dir,
                    data_dir=Path(data_dir or output_dir / "demo_data").resolve(),
                    demo=not data_dir),
        settings={field_name: values[name] for name, field_name in SETTINGS_VARIABLES.items()
                  if values.get(name)},
        deployment=Deployment(
            environment=get("ACCOUNT_HEALTH_ENV", "local"),
            engine=get("ACCOUNT_HEALTH_ENGINE", "local"),
            spark_master=get("ACCOUNT_HEALTH_SPARK_MASTER", "local[*]"),
            spark_conf=get("ACCOUNT_HEALTH_SPARK_CONF", "{}"),
            mlflow_tracking_uri=get("ACCOUNT_HEALTH_MLFLOW_TRACKING_URI"),
            mlflow_artifact_location=get("ACCOUNT_HEALTH_MLFLOW_ARTIFACT_LOCATION")),
        schedule=Schedule(status=get("ACCOUNT_HEALTH_SCHEDULES", "stopped"),
                          daily_run_at=get("ACCOUNT_HEALTH_DAILY_RUN_AT", "06:00"),
                          timezone=get("ACCOUNT_HEALTH_TIMEZONE", "UTC")),
        delivery=Delivery(webhook_url=get("ACCOUNT_HEALTH_ALERT_WEBHOOK_URL"),
                          smtp_host=get("ACCOUNT_HEALTH_SMTP_HOST"),
                          smtp_port=get("ACCOUNT_HEALTH_SMTP_PORT", "25"),
                          sender=get("ACCOUNT_HEALTH_ALERT_SENDER", "account-health@localhost")),
        demo_accounts=get("ACCOUNT_HEALTH_DEMO_ACCOUNTS", "2000"),
        demo_months=get("ACCOUNT_HEALTH_DEMO_MONTHS", "18"),
        scored_history_weeks=get("ACCOUNT_HEALTH_SCORED_HISTORY_WEEKS", "5"),
        dagster_home=get("DAGSTER_HOME"),
        variables=values,
    )


def java_available() -> bool:
    """Whether a Java runtime is there for Spark (``JAVA_HOME`` or ``java`` on the path)."""
    return bool(os.environ.get("JAVA_HOME") or shutil.which("java"))


def prepare_spark_process() -> None:
    """Spark's workers run this interpreter and bind to the loopback address, unless the
    environment says otherwise."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


#: Dagster's switch for one planned event per asset and run, carrying the run's partition
#: range. Without it a run over 548 days writes some 12,600 events into the instance, one by
#: one, before its first step starts (over a minute on SQLite). The cost Dagster states: a
#: failed run does not mark its planned partitions as failed; they show as missing.
PLANNED_EVENTS_AS_RANGES = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
#: Dagster's switch for handing an output's per-day materialisation records to the event
#: log as one batch, which the local instance's storage writes in one transaction
#: (``pipelines.event_log``); a batch holds up to this many days.
RECORD_BATCH_SIZE = "DAGSTER_EVENT_BATCH_SIZE"


def plan_runs_by_range() -> None:
    """Turn on ``PLANNED_EVENTS_AS_RANGES`` and ``RECORD_BATCH_SIZE`` for runs this process
    creates, unless the environment already says otherwise (the webserver and daemon get
    them from the image or ``make dagster-ui``)."""
    os.environ.setdefault(PLANNED_EVENTS_AS_RANGES, "true")
    os.environ.setdefault(RECORD_BATCH_SIZE, "1000")


def use_dagster_home(default: Path) -> Path:
    """``DAGSTER_HOME``, set to ``default`` when the environment names none."""
    return Path(os.environ.setdefault("DAGSTER_HOME", str(default)))


def quiet_mlflow() -> None:
    """MLflow's notes and upload progress bars off, unless the environment asks for them."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
