"""Typed configuration and storage for the pipeline (Dagster resources).

The embedded default (local files, DuckDB, SQLite) is used unless environment variables
point elsewhere; see README "Configuration".
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource
from feast import FeatureStore

from feature_repo.store import open_store
from features.contract import ContractMapping, find_table_file

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
    #: Fixes "now" (UTC, ISO 8601) for reproducible re-runs and tests; empty means the clock.
    now: str = ""

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

    def table_file(self, table: str) -> Path | None:
        return find_table_file(self.data_path, table)

    def snapshot_dir(self) -> Path:
        """Where the io_manager keeps the daily snapshot partitions (the Feast source)."""
        return self.output_path / "assets" / "account_snapshot"

    def reports_dir(self) -> Path:
        path = self.output_path / "reports"
        path.mkdir(parents=True, exist_ok=True)
        return path


class MlflowTracking(ConfigurableResource):
    """MLflow tracking server and registry; default: SQLite under ``output_dir/mlflow``."""

    tracking_uri: str
    artifact_location: str

    def activate(self) -> str:
        """Point the MLflow client here; returns the experiment id."""
        from models.tracking import use_tracking

        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True,
                                                                           exist_ok=True)
        return use_tracking(self.tracking_uri, self.artifact_location)

    @classmethod
    def local(cls, output_dir: str) -> MlflowTracking:
        root = Path(output_dir).resolve() / "mlflow"
        return cls(tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
                   artifact_location=(root / "artifacts").as_uri())


class FeastFeatureStore(ConfigurableResource):
    """The Feast store over the embedded default stores under ``output_dir/feast``."""

    output_dir: str

    def open(self) -> FeatureStore:
        return open_store(Path(self.output_dir))


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
    )
