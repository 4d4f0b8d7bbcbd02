"""Typed configuration and storage for the pipeline (Dagster resources).

The embedded default (local files, DuckDB, SQLite) is used unless environment variables
point elsewhere; see README "Configuration".
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource, Failure
from feast import FeatureStore

from feature_repo.store import LOCAL_CONFIG, open_store
from features.contract import ContractMapping, find_table_file
from models.drift import DriftThresholds
from models.scoring_config import ScoringConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT_DIR = REPO_ROOT / "output"
DEFAULT_START_DATE = "2025-01-01"


class AccountHealthSettings(ConfigurableResource):
    """Where inputs and outputs live and the thresholds the pipeline enforces."""

    data_dir: str
    output_dir: str
    mapping_file: str = ""
    pipeline_start_date: str = DEFAULT_START_DATE
    max_quarantine_rate: float = 0.05
    freshness_hours: int = 48
    horizon_days: int = 90
    #: Walk-forward folds (monthly origins) and the bar a model must clear to be promoted.
    n_folds: int = 6
    auc_floor: float = 0.65
    promotion_margin: float = 0.005
    #: Accounts per origin date an expansion list holds when targeting is measured
    #: (precision, lift and ARR captured at N; the seeds' target list has 100).
    expansion_list_size: int = 100
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
    #: Fixes "now" (UTC, ISO 8601) for reproducible re-runs and tests; empty means the clock.
    now: str = ""
    #: Health bands, reasons, playbook and alert thresholds (YAML); empty: the defaults.
    scoring_config_file: str = ""

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def output_path(self) -> Path:
        return Path(self.output_dir)

    def current_time(self) -> pd.Timestamp:
        return pd.Timestamp(self.now, tz="UTC") if self.now else pd.Timestamp.now(tz="UTC")

    def start_timestamp(self) -> pd.Timestamp:
        return pd.Timestamp(self.pipeline_start_date, tz="UTC")

    def mapping(self) -> ContractMapping:
        path = Path(self.mapping_file) if self.mapping_file else self.data_path / "mapping.yaml"
        return ContractMapping.from_file(path)

    def scoring_config(self) -> ScoringConfig:
        return ScoringConfig.load(Path(self.scoring_config_file)
                                  if self.scoring_config_file else None)

    def table_file(self, table: str) -> Path | None:
        return find_table_file(self.data_path, table)

    def snapshot_dir(self) -> Path:
        """Where the io_manager keeps the daily snapshot partitions (the Feast source)."""
        return self.output_path / "assets" / "account_snapshot"

    def snapshot_days(self) -> list[str]:
        """Days (``YYYY-MM-DD``) with a stored snapshot partition, oldest first."""
        return sorted(p.stem for p in self.snapshot_dir().glob("*.parquet"))

    def reports_dir(self) -> Path:
        path = self.output_path / "reports"
        path.mkdir(parents=True, exist_ok=True)
        return path


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
        model = mlflow.pyfunc.load_model(f"models:/{name}@{CHAMPION}")
        return model.unwrap_python_model(), str(version.version)

    @classmethod
    def local(cls, output_dir: str) -> MlflowTracking:
        root = Path(output_dir).resolve() / "mlflow"
        return cls(tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
                   artifact_location=(root / "artifacts").as_uri())


class FeastFeatureStore(ConfigurableResource):
    """The Feast store: ``config_file`` names its feature_store.yaml (default: the embedded
    stores under ``output_dir/feast``; production: feature_store.production.yaml)."""

    output_dir: str
    config_file: str = str(LOCAL_CONFIG)

    def open(self) -> FeatureStore:
        return open_store(Path(self.output_dir), Path(self.config_file))


class AlertWebhook(ConfigurableResource):
    """Where new alerts are posted (Slack-compatible JSON); an empty url posts nothing."""

    url: str = ""
    timeout_seconds: float = 10.0

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def post(self, payload: dict) -> None:
        """POST the payload as JSON; raises ``OSError`` (urllib's errors) on an HTTP error
        status or a network error."""
        request = urllib.request.Request(self.url, data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=self.timeout_seconds).close()


def settings_from_env() -> AccountHealthSettings:
    """Settings from ACCOUNT_HEALTH_* variables, defaulting to demo data under ./output."""
    output_dir = Path(os.environ.get("ACCOUNT_HEALTH_OUTPUT_DIR") or DEFAULT_OUTPUT_DIR)
    data_dir = os.environ.get("ACCOUNT_HEALTH_DATA_DIR") or str(output_dir / "demo_data")
    return AccountHealthSettings(
        data_dir=str(Path(data_dir).resolve()),
        output_dir=str(output_dir.resolve()),
        mapping_file=os.environ.get("ACCOUNT_HEALTH_MAPPING_FILE", ""),
        pipeline_start_date=os.environ.get("ACCOUNT_HEALTH_START_DATE", DEFAULT_START_DATE),
        now=os.environ.get("ACCOUNT_HEALTH_NOW", ""),
        scoring_config_file=os.environ.get("ACCOUNT_HEALTH_SCORING_CONFIG", ""),
    )
