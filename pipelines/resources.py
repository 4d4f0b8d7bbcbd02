"""Typed configuration and storage for the pipeline (Dagster resources).

The embedded default (local files, DuckDB, SQLite) is used unless environment variables
point elsewhere; see docs/configuration.md.
"""

from __future__ import annotations

import json
import smtplib
import urllib.request
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path

import pandas as pd
from dagster import Config, ConfigurableResource, Failure
from feast import FeatureStore

from feature_repo.store import LOCAL_CONFIG, open_store
from features.contract import ContractMapping, EventTaxonomy, find_table_file
from features.event_vocabulary import with_tracked_events
from models.analysis.drift import DriftThresholds
from models.scoring.config import ScoringConfig
from models.training_sample import DEFAULT_MAX_TRAINING_ROWS
from models.walk_forward import Fold, NotEnoughHistory, adaptive_folds
from pipelines.environment import SETTINGS_VARIABLES, Environment, read_environment
from pipelines.storage import day_key

#: Where daily partitions begin before any run has recorded where the data begins.
DEFAULT_START_DATE = "2025-01-01"
#: Without a start setting, earlier times are broken clocks (epoch zero, 1900), not history.
EARLIEST_DATA_DATE = "2000-01-01"


class DataRules(Config):
    """What data the pipeline takes and when it stops for it: the first day, the quarantine
    limits, freshness, and the clock."""

    #: First day data is taken from (ISO date); empty: wherever the data begins.
    pipeline_start_date: str = ""
    max_quarantine_rate: float = 0.05
    #: Share of a required table's rows that may be quarantined before the run stops after
    #: ingestion instead of learning from what is left.
    max_required_quarantine_share: float = 0.2
    freshness_hours: int = 48
    #: Fixes "now" (UTC, ISO 8601) for reproducible re-runs and tests; empty means the clock.
    now: str = ""

    def current_time(self) -> pd.Timestamp:
        return pd.Timestamp(self.now, tz="UTC") if self.now else pd.Timestamp.now(tz="UTC")

    def last_complete_day(self) -> pd.Timestamp:
        """Midnight (naive UTC) of the last UTC day that has fully ended."""
        return self.current_time().tz_localize(None).normalize() - pd.Timedelta(days=1)

    def start_timestamp(self) -> pd.Timestamp:
        """The earliest time data is taken from: the setting, else ``EARLIEST_DATA_DATE``."""
        return pd.Timestamp(self.pipeline_start_date or EARLIEST_DATA_DATE, tz="UTC")


class TrainingSettings(Config):
    """How the models learn, are validated walk-forward and are promoted."""

    horizon_days: int = 90
    #: Days between the as-of dates of the training set (7: weekly).
    training_cadence_days: int = 7
    #: Most walk-forward folds (rolling origins); fewer when the history holds fewer, at
    #: least 2. Then the bar a model must clear to be promoted.
    n_folds: int = 6
    #: Least days between two origins (folds test different months when history allows);
    #: fewer when only closer origins fit.
    fold_spacing_days: int = 28
    #: Training as-of dates each fold needs at least (its classifier's calibration needs
    #: later dates than the ones it fits on).
    min_training_dates: int = 4
    #: Training rows the models fit in full; above it, every row of a stratified sample of
    #: accounts (models.training_sample), validated walk-forward on every account.
    max_training_rows: int = DEFAULT_MAX_TRAINING_ROWS
    auc_floor: float = 0.65
    promotion_margin: float = 0.005
    #: Accounts per origin date an expansion list holds when targeting is measured
    #: (precision, lift and ARR captured at N).
    expansion_list_size: int = 100

    def walk_forward_folds(self, as_of_dates: pd.Series) -> list[Fold]:
        """The rolling origins the history allows (at most ``n_folds``, at least two, at
        least ``fold_spacing_days`` apart when enough fit). A Failure that says how much
        more history is needed when fewer than two fit."""
        try:
            return adaptive_folds(as_of_dates, max_folds=self.n_folds,
                                  horizon_days=self.horizon_days,
                                  min_train_dates=self.min_training_dates,
                                  spacing_days=self.fold_spacing_days)
        except NotEnoughHistory as exc:
            raise Failure(description=str(exc)) from exc


class MonitoringSettings(Config):
    """When drift is raised, and the retention targets the reports compare with."""

    #: A feature has drifted from the training data above these (docs/metrics.md).
    drift_psi_threshold: float = DriftThresholds.psi
    drift_ks_threshold: float = DriftThresholds.ks
    #: Comma-separated features measured but never counted as drift: they move by design
    #: (tenure grows as the customer base ages).
    drift_exempt_features: str = "tenure_days"
    #: Monthly retention targets the report draws and compares with (fractions).
    nrr_target: float = 1.0
    grr_target: float = 0.90
    logo_retention_target: float = 0.90


#: The concerns, fields of ``AccountHealthSettings``.
CONCERNS: dict[str, type[Config]] = {"data": DataRules, "training": TrainingSettings,
                                     "monitoring": MonitoringSettings}
#: The concern each setting belongs to.
SETTING_GROUPS = {name: group for group, kind in CONCERNS.items() for name in kind.model_fields}


class AccountHealthSettings(ConfigurableResource):
    """Where inputs and outputs live, and the pipeline's rules by concern."""

    data_dir: str
    output_dir: str
    mapping_file: str = ""
    #: Health bands, reasons, playbook and alert thresholds (YAML); empty: ``scoring.yaml``
    #: beside the data when there is one, else the defaults.
    scoring_config_file: str = ""
    data: DataRules = DataRules()
    training: TrainingSettings = TrainingSettings()
    monitoring: MonitoringSettings = MonitoringSettings()

    @classmethod
    def of(cls, data_dir: str | Path, output_dir: str | Path, **values) -> AccountHealthSettings:
        """Settings from flat names (``horizon_days=30``), each put in its concern
        (``SETTING_GROUPS``)."""
        grouped: dict[str, dict] = {}
        top = {}
        for name, value in values.items():
            if name in SETTING_GROUPS:
                grouped.setdefault(SETTING_GROUPS[name], {})[name] = value
            else:
                top[name] = value
        return cls(data_dir=str(data_dir), output_dir=str(output_dir), **top,
                   **{group: CONCERNS[group](**chosen) for group, chosen in grouped.items()})

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def output_path(self) -> Path:
        return Path(self.output_dir)

    def event_taxonomy(self, vocabulary: pd.DataFrame | None) -> EventTaxonomy:
        """The mapping's event taxonomy, tracking the names of ``vocabulary`` (the
        ``event_vocabulary`` asset's value, an input of the asset that asks) unless the
        mapping names its own ``tracked_events``."""
        taxonomy = self.mapping().event_taxonomy
        if vocabulary is None:
            return taxonomy
        return with_tracked_events(taxonomy, list(vocabulary["event_name"]))

    def mapping(self) -> ContractMapping:
        path = Path(self.mapping_file) if self.mapping_file else self.data_path / "mapping.yaml"
        return ContractMapping.from_file(path)

    def scoring_config_path(self) -> Path:
        """The scoring YAML: the one named, else ``scoring.yaml`` beside the data (which
        may not exist yet)."""
        return (Path(self.scoring_config_file) if self.scoring_config_file
                else self.data_path / "scoring.yaml")

    def scoring_config(self) -> ScoringConfig:
        """The scoring YAML, parsed once per version of the file in a process (a copy
        each call: a step may narrow it for itself)."""
        path = self.scoring_config_path()
        if not (path.exists() or self.scoring_config_file):
            return _scoring_config(None, None).model_copy(deep=True)
        version = path.stat().st_mtime_ns if path.exists() else None
        return _scoring_config(str(path), version).model_copy(deep=True)

    def table_file(self, table: str) -> Path | None:
        return find_table_file(self.data_path, table)

    def export_file(self, export: str, day: str | pd.Timestamp, suffix: str = "csv") -> Path:
        """A day's export for people and other tools: ``<output_dir>/<export>/<day>.<suffix>``
        (scores, alerts, opportunities, work_queue)."""
        return self.output_path / export / f"{day_key(day)}.{suffix}"

    def reports_dir(self) -> Path:
        path = self.output_path / "reports"
        path.mkdir(parents=True, exist_ok=True)
        return path


@lru_cache(maxsize=8)
def _scoring_config(path: str | None, version: int | None) -> ScoringConfig:
    """The scoring YAML at ``path`` as of its ``version`` (modification time)."""
    return ScoringConfig.load(Path(path) if path else None)


class MlflowTracking(ConfigurableResource):
    """MLflow tracking server and registry; default: SQLite under ``output_dir/mlflow``."""

    tracking_uri: str
    #: Where new experiments keep artifacts; empty: the tracking server decides.
    artifact_location: str = ""

    def activate(self, experiment: str | None = None) -> str:
        """Point the MLflow client here and at ``experiment`` (default: the churn models');
        returns the experiment id."""
        from models.tracking import EXPERIMENT, use_tracking

        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True,
                                                                           exist_ok=True)
        return use_tracking(self.tracking_uri, self.artifact_location, experiment or EXPERIMENT)

    def load_champion(self, registered_model: str | None = None, *, required: bool = True):
        """(model, version) of the registry's champion of ``registered_model`` (default: the
        churn model). Without one: a Failure saying what to run, or None when not
        ``required``."""
        import mlflow
        from mlflow import MlflowClient

        from models.tracking import CHAMPION, REGISTERED_MODEL

        name = registered_model or REGISTERED_MODEL
        self.activate()
        try:
            version = MlflowClient().get_model_version_by_alias(name, CHAMPION)
        except mlflow.exceptions.MlflowException as exc:
            if not required:
                return None
            raise Failure(f"No champion model: the MLflow registry at {self.tracking_uri} has "
                          f"no {name}@{CHAMPION}. Train one first (job "
                          "train_churn_models, or make run).") from exc
        return _load_version(name, CHAMPION, str(version.version)), str(version.version)

    def load_scoring_model(self):
        """(model, version, status) of the churn model that scores the day: the champion
        (status ``champion``), or while there is none, the latest challenger, with a status
        that says plainly it is below the promotion bar and why. A Failure saying what to
        run when the registry has neither."""
        import mlflow
        from mlflow import MlflowClient

        from models.tracking import CHALLENGER, REGISTERED_MODEL

        found = self.load_champion(required=False)
        if found is not None:
            return (*found, "champion")
        try:
            version = MlflowClient().get_model_version_by_alias(REGISTERED_MODEL, CHALLENGER)
        except mlflow.exceptions.MlflowException:
            return (*self.load_champion(), "champion")  # raises the Failure saying what to run
        model = _load_version(REGISTERED_MODEL, CHALLENGER, str(version.version))
        reason = version.tags.get("promotion_reason", "it did not clear the promotion rule")
        return (model, str(version.version),
                f"below the bar, no champion yet: {reason}")

    @classmethod
    def local(cls, output_dir: str) -> MlflowTracking:
        root = Path(output_dir).resolve() / "mlflow"
        return cls(tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
                   artifact_location=(root / "artifacts").as_uri())


def _load_version(name: str, alias: str, version: str):
    """The Python model of ``name@alias``; a Failure saying what to do when it was saved by
    code whose modules no longer exist (a model from before an upgrade)."""
    import mlflow

    try:
        return mlflow.pyfunc.load_model(f"models:/{name}@{alias}").unwrap_python_model()
    except (ModuleNotFoundError, AttributeError) as exc:
        raise Failure(f"{name} v{version} ({alias}) was saved by an earlier version of "
                      f"account-health and cannot be loaded ({exc}). Train a new one (job "
                      "train_churn_models, or make run) and, if it stays challenger, make it "
                      "champion: account-health champion --set <version> --reason ...") from exc


class FeastFeatureStore(ConfigurableResource):
    """The Feast store: ``config_file`` names its feature_store.yaml (default: the embedded
    stores under ``output_dir/feast``; production: feature_store.production.yaml)."""

    output_dir: str
    config_file: str = str(LOCAL_CONFIG)

    def open(self) -> FeatureStore:
        return open_store(Path(self.output_dir), Path(self.config_file),
                          read_environment().variables)


class AlertWebhook(ConfigurableResource):
    """Where new alerts are posted (Slack-compatible JSON); an empty url posts nothing."""

    url: str = ""
    timeout_seconds: float = 10.0

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def post(self, payload: dict, url: str = "") -> None:
        """POST the payload as JSON to ``url`` (default: this webhook's); raises ``OSError``
        (urllib's errors) on an HTTP error status or a network error."""
        request = urllib.request.Request(url or self.url, data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=self.timeout_seconds).close()


class AlertEmail(ConfigurableResource):
    """Where e-mailed alerts go: an SMTP server when ``smtp_host`` is set, otherwise
    ``.eml`` files in ``outbox_dir`` for a mail relay (or a person) to pick up."""

    outbox_dir: str
    smtp_host: str = ""
    smtp_port: int = 25
    sender: str = "account-health@localhost"

    def send(self, message: EmailMessage, name: str) -> str:
        """Send ``message``; returns where it went."""
        if self.smtp_host:
            with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=30) as server:
                server.send_message(message)
            return f"smtp {self.smtp_host}"
        outbox = Path(self.outbox_dir)
        outbox.mkdir(parents=True, exist_ok=True)
        (outbox / f"{name}.eml").write_bytes(bytes(message))
        return str(outbox / f"{name}.eml")


def settings_from(environment: Environment) -> AccountHealthSettings:
    """Settings from the environment's paths and ``ACCOUNT_HEALTH_*`` pipeline variables,
    defaulting to demo data under ./output."""
    chosen = environment.settings
    try:
        return AccountHealthSettings.of(environment.paths.data_dir,
                                        environment.paths.output_dir, **chosen)
    except ValueError as exc:  # pydantic names the field and the value it could not read
        names = {field: name for name, field in SETTINGS_VARIABLES.items()}
        raise SystemExit(f"a setting cannot be read ({', '.join(names[f] for f in chosen)}): "
                         f"{exc}") from exc


def settings_from_env() -> AccountHealthSettings:
    """``settings_from`` this process's environment."""
    return settings_from(read_environment())
