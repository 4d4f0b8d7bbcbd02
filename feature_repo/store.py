"""Open the Feast feature store for an output directory and keep its registry in sync.

Two configurations, same code: ``feature_store.yaml`` (embedded default: DuckDB over the
snapshot's Parquet files, SQLite online store, file registry) and
``feature_store.production.yaml`` (Postgres registry and offline store, Redis online store);
on the spark engine, ``feature_store.spark.yaml`` and ``feature_store.spark.production.yaml``
(Spark offline store and materialisation, the same registries and online stores).
``${VARIABLES}`` in either file are filled in from the environment. The embedded stores'
files are named relative to this folder, in the default output directory (so Feast's own CLI
finds them after ``make run``), and moved under the run's output directory here.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from string import Template

import pandas as pd
import yaml
from feast import FeatureStore, FeatureView
from feast.repo_config import RepoConfig

from feature_repo.definitions import SNAPSHOT_SOURCE, quiet_spark_notices, repo_objects
from features.snapshot import FEATURE_GROUPS
from pipelines.environment import DEFAULT_OUTPUT_DIR

REPO_DIR = Path(__file__).resolve().parent
LOCAL_CONFIG = REPO_DIR / "feature_store.yaml"
PRODUCTION_CONFIG = REPO_DIR / "feature_store.production.yaml"
#: The same two on the spark engine: Spark offline store and Spark materialisation.
SPARK_CONFIG = REPO_DIR / "feature_store.spark.yaml"
SPARK_PRODUCTION_CONFIG = REPO_DIR / "feature_store.spark.production.yaml"


def config_file_for(environment: str, engine: str) -> Path:
    """The feature_store.yaml of a deployment (``local``/``production``) and engine
    (``local``/``spark``)."""
    return {("local", "local"): LOCAL_CONFIG, ("production", "local"): PRODUCTION_CONFIG,
            ("local", "spark"): SPARK_CONFIG,
            ("production", "spark"): SPARK_PRODUCTION_CONFIG}[(environment, engine)]


def store_config(output_dir: Path, config_file: Path = LOCAL_CONFIG,
                 variables: Mapping[str, str] | None = None) -> RepoConfig:
    """``config_file`` with its ``${...}`` placeholders filled in from ``variables`` (the
    environment's) and its files under ``output_dir``."""
    values = {"ACCOUNT_HEALTH_SPARK_MASTER": "local[*]", **(variables or {})}
    try:
        text = Template(Path(config_file).read_text()).substitute(values)
    except KeyError as exc:
        raise ValueError(f"{config_file} needs the environment variable {exc.args[0]} "
                         "(see .env.example)") from None
    raw = yaml.safe_load(text)
    if isinstance(raw.get("registry"), str):
        raw["registry"] = _under(output_dir, raw["registry"])
    if "path" in raw.get("online_store", {}):
        raw["online_store"]["path"] = _under(output_dir, raw["online_store"]["path"])
    return RepoConfig(repo_path=REPO_DIR, **raw)


def _under(output_dir: Path, path: str) -> str:
    """A yaml file path in the default output directory, moved to the same place under
    ``output_dir``; other paths as they are."""
    default = (REPO_DIR / path).resolve()
    if not default.is_relative_to(DEFAULT_OUTPUT_DIR):
        return path
    return str(Path(output_dir).resolve() / default.relative_to(DEFAULT_OUTPUT_DIR))


def open_store(output_dir: Path, config_file: Path = LOCAL_CONFIG,
               variables: Mapping[str, str] | None = None) -> FeatureStore:
    """A FeatureStore for ``config_file`` (default: the embedded stores under
    ``output_dir/feast``), its placeholders filled in from ``variables``."""
    (Path(output_dir) / "feast").mkdir(parents=True, exist_ok=True)
    config = store_config(output_dir, config_file, variables)
    if config.offline_store.type == "spark":
        quiet_spark_notices()
    return FeatureStore(config=config)



def apply_definitions(store: FeatureStore, snapshot_glob: str, groups: list[str]) -> list[str]:
    """Apply the objects for ``groups`` and delete views of groups no longer present.

    Returns the names of the applied feature views.
    """
    objects = repo_objects(snapshot_glob, groups, store.config.offline_store.type)
    applied = {o.name for o in objects if isinstance(o, FeatureView)}
    stale = [v for v in store.list_feature_views() if v.name not in applied]
    store.apply(objects, objects_to_delete=stale, partial=False)
    return sorted(applied)


def service_features(store: FeatureStore, feature_service: str) -> list[str]:
    """The feature names a feature service serves, in its views' order."""
    service = store.get_feature_service(feature_service)
    return [feature.name for projection in service.feature_view_projections
            for feature in projection.features]


def day_features(store: FeatureStore, snapshot_file: Path, feature_service: str,
                 event_timestamp: pd.Timestamp) -> pd.DataFrame:
    """The service's features of every account in one snapshot day file.

    This is what Feast's point-in-time join returns for those accounts at
    ``event_timestamp`` when the file holds that day (its rows are stamped with it, and no
    later row can be at or before it); it reads the one file instead of scanning every
    day's, so a daily run does not grow with the length of history.
    """
    features = service_features(store, feature_service)
    rows = pd.read_parquet(snapshot_file, columns=["account_id", "event_timestamp", *features])
    stamped = pd.to_datetime(rows["event_timestamp"], utc=True)
    if len(rows) and not (stamped == event_timestamp).all():
        raise ValueError(f"{snapshot_file} holds rows stamped other than {event_timestamp}")
    return rows


#: Postgres column types by Feast feature kind; the table is typed like the feature views so
#: the offline store hands back what the online store serves (1, not 1.0, for a count).
PG_TYPES = {"int": "bigint", "float": "double precision", "str": "text"}
FEATURE_KINDS = {name: kind for group in FEATURE_GROUPS.values() for name, kind in group.items()}


def _pg_type(column: str, dtype) -> str:
    if column in FEATURE_KINDS:
        return PG_TYPES[FEATURE_KINDS[column]]
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "timestamptz"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "timestamp"
    return "text"


def sync_offline_snapshot(store: FeatureStore, snapshot_dir: Path) -> int:
    """Copy changed snapshot day files into the Postgres offline store's table.

    Does nothing for the file-based offline store (the Parquet files are its source). A day
    is copied again only when its file changed (size and modification time are recorded
    per day), replacing that day's rows; days whose file is gone are deleted. Returns the
    number of days copied.
    """
    config = store.config.offline_store
    if config.type != "postgres":
        return 0
    import psycopg

    files = {p.stem: p for p in sorted(Path(snapshot_dir).glob("*.parquet"))}
    stamps = {day: f"{p.stat().st_size}-{p.stat().st_mtime_ns}" for day, p in files.items()}
    table, ledger = SNAPSHOT_SOURCE, f"{SNAPSHOT_SOURCE}_files"
    with psycopg.connect(host=config.host, port=config.port, dbname=config.database,
                         user=config.user, password=config.password,
                         sslmode=config.sslmode or "prefer") as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {ledger} (day text PRIMARY KEY, stamp text)")
        cur.execute(f"SELECT day, stamp FROM {ledger}")
        copied = dict(cur.fetchall())
        for day in sorted(set(copied) - set(files)):
            cur.execute(f"DELETE FROM {table} WHERE as_of_date = %s", (day,))
            cur.execute(f"DELETE FROM {ledger} WHERE day = %s", (day,))
        changed = [day for day in files if copied.get(day) != stamps[day]]
        for day in changed:
            frame = pd.read_parquet(files[day])
            # a day with a missing count stores it as float in Parquet; COPY wants "1", not "1.0"
            frame = frame.astype({c: "Int64" for c in frame if FEATURE_KINDS.get(c) == "int"})
            columns = ", ".join(f'"{c}" {_pg_type(c, t)}' for c, t in frame.dtypes.items())
            cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
            for name, dtype in frame.dtypes.items():
                cur.execute(f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "{name}" '
                            f"{_pg_type(name, dtype)}")
            cur.execute(f"DELETE FROM {table} WHERE as_of_date = %s", (day,))
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False, header=False)
            quoted = ", ".join(f'"{c}"' for c in frame.columns)
            with cur.copy(f"COPY {table} ({quoted}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
            cur.execute(f"INSERT INTO {ledger} (day, stamp) VALUES (%s, %s) ON CONFLICT (day) "
                        "DO UPDATE SET stamp = EXCLUDED.stamp", (day, stamps[day]))
        if changed:
            cur.execute(f"CREATE INDEX IF NOT EXISTS {table}_account_time ON {table} "
                        "(account_id, event_timestamp)")
    return len(changed)
