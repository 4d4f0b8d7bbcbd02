"""Feast objects, in the order of the `feast init` template: entity, source, views, service.

Features are computed upstream by Dagster (features/snapshot.py); Feast registers them,
joins them point-in-time for training and serves the latest values online. One feature view
holds every feature of the groups whose source table is present in the input; each field's
``group`` tag names its feature group (Feast's point-in-time join costs a join per view, and
every group comes from the same snapshot rows).

The pipeline applies these objects itself (asset ``feast_feature_store``). They are also
module-level objects, so Feast's own CLI works on this folder as on any Feast repository,
from any shell, after ``make run``::

    .venv/bin/feast -c feature_repo feature-views list

Like ``feature_store.yaml``, the module-level objects describe the default output directory
(``./output``): its snapshot files, and the feature groups those files hold.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.data_source import DataSource
from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import (
    PostgreSQLSource,
)
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
from feast.types import Float64, Int64, String

from features.snapshot import FEATURE_GROUPS, groups_in
from pipelines.environment import read_environment

FEAST_TYPES = {"int": Int64, "float": Float64, "str": String}
#: The churn model's features; scoring must use the same service as training.
CHURN_FEATURE_SERVICE = "churn_model_v1"
#: The snapshot's name as a Feast source, and as a table where the offline store is Postgres.
SNAPSHOT_SOURCE = "account_daily_snapshot"
#: The one feature view over the snapshot source.
FEATURE_VIEW = "account_features"
#: How far back a snapshot may be used for an as-of time (one missed daily run is tolerated).
SNAPSHOT_TTL = timedelta(days=2)

account = Entity(
    name="account",
    join_keys=["account_id"],
    value_type=ValueType.STRING,
    description="A customer account (the unit that churns)",
)


def account_daily_snapshot(snapshot_glob: str, offline_store: str = "duckdb",
                           groups: list[str] | None = None) -> DataSource:
    """The daily snapshot written by the `account_snapshot` asset: its Parquet day files, or
    the table they are copied to when the offline store is Postgres. On Spark, a query over
    the day files with the columns of ``groups`` (default: every group)."""
    description = "One row per account and as-of date; event_timestamp = end of as-of date"
    if offline_store == "postgres":
        return PostgreSQLSource(name=SNAPSHOT_SOURCE, table=SNAPSHOT_SOURCE,
                                timestamp_field="event_timestamp", description=description)
    if offline_store == "spark":
        quiet_spark_notices()
        return SparkSource(name=SNAPSHOT_SOURCE, query=spark_snapshot_query(
            snapshot_glob, list(FEATURE_GROUPS) if groups is None else groups),
            timestamp_field="event_timestamp", description=description)
    return FileSource(name=SNAPSHOT_SOURCE, path=snapshot_glob,
                      timestamp_field="event_timestamp", description=description)


def spark_snapshot_query(snapshot_glob: str, groups: list[str]) -> str:
    """Spark SQL reading the snapshot day files. They keep pandas' nanosecond timestamps,
    which Spark reads as integers (``spark.sql.legacy.parquet.nanosAsLong``, set by the
    engine and by feature_store.spark*.yaml): the query turns them back into timestamps."""
    columns = ", ".join(f"`{name}`" for group in groups for name in FEATURE_GROUPS[group])
    return (f"SELECT account_id, timestamp_micros(div(event_timestamp, 1000)) AS "
            f"event_timestamp, {columns} FROM parquet.`{snapshot_glob}`")


def quiet_spark_notices() -> None:
    """Silence the notice Feast repeats on every use of its Spark offline store and source
    (alpha; docs/operations.md says so once). Importing that module puts Feast's own filter
    first, so ours goes in after it."""
    import feast.infra.offline_stores.contrib.spark_offline_store.spark  # noqa: F401

    warnings.filterwarnings("ignore", message="The spark .* experimental",
                            category=RuntimeWarning)


def feature_view(source: DataSource, groups: list[str]) -> FeatureView:
    """The features of every present group, each field tagged with its group."""
    return FeatureView(
        name=FEATURE_VIEW,
        entities=[account],
        ttl=SNAPSHOT_TTL,
        schema=[Field(name=name, dtype=FEAST_TYPES[kind], tags={"group": group})
                for group in groups for name, kind in FEATURE_GROUPS[group].items()],
        source=source,
        online=True,
        tags={"groups": ",".join(groups)},
    )


def churn_feature_service(view: FeatureView) -> FeatureService:
    """Every present feature: the features the churn models train and score on."""
    return FeatureService(name=CHURN_FEATURE_SERVICE, features=[view],
                          description="Features of the churn classifier and survival model")


def repo_objects(snapshot_glob: str, groups: list[str], offline_store: str = "duckdb") -> list:
    """Everything to apply to the registry for the given feature groups."""
    source = account_daily_snapshot(snapshot_glob, offline_store, groups)
    view = feature_view(source, groups)
    return [account, source, view, churn_feature_service(view)]


def stored_groups(snapshot_dir: Path) -> list[str]:
    """The feature groups of the latest stored snapshot file (the pipeline leaves out the
    groups whose table the export lacks); every group before any snapshot is stored."""
    files = sorted(Path(snapshot_dir).glob("*.parquet"))
    if not files:
        return list(FEATURE_GROUPS)
    return groups_in(pq.read_schema(files[-1]).names)


# Module-level objects for Feast's CLI (see the module docstring), whose entry point this is:
# the source's kind follows the deployment the environment names.
_snapshot_dir = (Path(__file__).resolve().parent.parent / "output"  # where the YAML points
                 / "assets" / "account_snapshot")
_deployment = read_environment().deployment
_offline_store = ("spark" if _deployment.engine == "spark"
                  else "postgres" if _deployment.environment == "production" else "duckdb")
account_daily_snapshot_source = account_daily_snapshot(
    str(_snapshot_dir / "*.parquet"), _offline_store, stored_groups(_snapshot_dir))
account_features = feature_view(account_daily_snapshot_source, stored_groups(_snapshot_dir))
churn_model_v1 = churn_feature_service(account_features)
