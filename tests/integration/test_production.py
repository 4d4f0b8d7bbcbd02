"""The production configuration against real Postgres and Redis (docs/operations.md).

Dagster runs, event logs and schedules, the MLflow backend store, and the Feast registry
and offline store live in Postgres; the Feast online store lives in Redis. The test creates
its own databases (and Redis database) and drops them afterwards, so it can run again on the
same services. Unreachable services skip it, except under CI=true, where they fail it.
"""

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterInstance, DagsterRunStatus

from account_health.demo_data import generate_to_dir
from pipelines.run import run_pipeline
from pipelines.selections import DAILY_SCORING, TRAINING_PIPELINE
from tests.conftest import DEMO, make_settings

REPO = Path(__file__).resolve().parents[2]
PG = {"host": os.environ.get("ACCOUNT_HEALTH_TEST_PG_HOST", "127.0.0.1"),
      "port": int(os.environ.get("ACCOUNT_HEALTH_TEST_PG_PORT", "5432")),
      "user": os.environ.get("ACCOUNT_HEALTH_TEST_PG_USER", "postgres"),
      "password": os.environ.get("ACCOUNT_HEALTH_TEST_PG_PASSWORD", "")}
REDIS = os.environ.get("ACCOUNT_HEALTH_TEST_REDIS", "127.0.0.1:6379")
REDIS_DB = 15
DATABASES = {"dagster": "ah_it_dagster", "mlflow": "ah_it_mlflow", "feast": "ah_it_feast"}
DAY = "2026-10-31"


def _admin():
    import psycopg

    return psycopg.connect(dbname="test", autocommit=True, connect_timeout=3, **PG)


def _redis():
    import redis

    host, port = REDIS.split(":")
    return redis.Redis(host=host, port=int(port), db=REDIS_DB, socket_connect_timeout=3)


def _require_services() -> None:
    try:
        _admin().close()
        _redis().ping()
    except Exception as exc:  # any failure to connect means: no services here
        reason = f"Postgres at {PG['host']}:{PG['port']} or Redis at {REDIS} unreachable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


def _reset(drop_only: bool = False) -> None:
    with _admin() as conn:
        for name in DATABASES.values():
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            if not drop_only:
                conn.execute(f"CREATE DATABASE {name}")
    _redis().flushdb()


def _query(database: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(dbname=DATABASES[database], **PG) as conn:
        return conn.execute(sql).fetchall()


def _production_env(tmp: Path) -> dict[str, str]:
    auth = f"{PG['user']}:{PG['password']}@{PG['host']}:{PG['port']}"
    return {
        "ACCOUNT_HEALTH_ENV": "production",
        "ACCOUNT_HEALTH_POSTGRES_HOST": PG["host"], "ACCOUNT_HEALTH_POSTGRES_PORT": str(PG["port"]),
        "ACCOUNT_HEALTH_POSTGRES_USER": PG["user"],
        "ACCOUNT_HEALTH_POSTGRES_PASSWORD": PG["password"],
        "ACCOUNT_HEALTH_POSTGRES_SSLMODE": "disable",
        "ACCOUNT_HEALTH_FEAST_DATABASE": DATABASES["feast"],
        "ACCOUNT_HEALTH_REDIS_URL": f"{REDIS},db={REDIS_DB}",
        "ACCOUNT_HEALTH_DAGSTER_POSTGRES_URL": f"postgresql+psycopg2://{auth}/{DATABASES['dagster']}",
        "ACCOUNT_HEALTH_MLFLOW_TRACKING_URI": f"postgresql+psycopg2://{auth}/{DATABASES['mlflow']}",
        "ACCOUNT_HEALTH_MLFLOW_ARTIFACT_LOCATION": (tmp / "mlartifacts").as_uri(),
        "DAGSTER_HOME": str(tmp / "dagster_home"),
    }


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """The training pipeline, then the daily run twice, all on the production stores."""
    _require_services()
    _reset()
    tmp = tmp_path_factory.mktemp("production")
    data = tmp / "data"
    generate_to_dir(data, DEMO)
    settings = make_settings(data, tmp / "out", n_folds=2, horizon_days=60)
    with pytest.MonkeyPatch.context() as env:
        for key, value in _production_env(tmp).items():
            env.setenv(key, value)
        home = Path(os.environ["DAGSTER_HOME"])
        home.mkdir()
        shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
        instance = DagsterInstance.get()
        trained = run_pipeline(settings, instance, first_day="2025-11-01", last_day=DAY,
                               selection=TRAINING_PIPELINE)
        daily = [run_pipeline(settings, instance, first_day=DAY, last_day=DAY,
                              selection=DAILY_SCORING) for _ in range(2)]
        yield settings, instance, trained, daily
        instance.dispose()
    _reset(drop_only=True)


def test_dagster_runs_and_events_are_stored_in_postgres(production):
    _, instance, trained, daily = production
    assert trained.success and all(run.success for run in daily)
    stored = dict(_query("dagster", "SELECT run_id, status FROM runs"))
    assert {trained.run_id, *(run.run_id for run in daily)} <= set(stored)
    assert set(stored.values()) == {DagsterRunStatus.SUCCESS.value}
    materialised = _query("dagster", "SELECT count(*) FROM event_logs "
                                     "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
    assert materialised[0][0] > 0


def test_mlflow_runs_and_registry_are_stored_in_postgres(production):
    models = _query("mlflow", "SELECT name, alias, version FROM registered_model_aliases")
    assert ("account-health-churn", "champion", 1) in models
    parents = _query("mlflow", "SELECT count(*) FROM runs r JOIN experiments e "
                               "ON r.experiment_id = e.experiment_id "
                               "WHERE e.name = 'account-health-churn'")
    assert parents[0][0] >= 3  # a parent run and two fold runs


def test_feast_registry_and_offline_store_are_in_postgres(production):
    settings = production[0]
    views = {name for (name,) in _query("feast", "SELECT feature_view_name FROM feature_views")}
    assert {"account_usage", "account_billing"} <= views
    files = sorted(Path(settings.snapshot_dir()).glob("*.parquet"))
    rows_in_files = sum(len(pd.read_parquet(f, columns=["account_id"])) for f in files)
    rows, days, duplicates = _query("feast", """
        SELECT count(*), count(DISTINCT as_of_date),
               count(*) - count(DISTINCT (account_id, as_of_date))
        FROM account_daily_snapshot""")[0]
    # the second daily run re-copied its day: replaced, not appended
    assert (rows, days, duplicates) == (rows_in_files, len(files), 0)


def test_online_store_is_redis_and_serves_the_days_scores(production):
    from pipelines.definitions import build_resources
    from pipelines.online_scoring import score_online

    settings = production[0]
    assert _redis().dbsize() > 0
    daily = pd.read_parquet(Path(settings.output_dir) / "assets" / "account_scores"
                            / f"{DAY}.parquet").set_index("account_id")
    accounts = list(daily.index[:3])
    with pytest.MonkeyPatch.context() as env:
        for key, value in _production_env(Path(settings.output_dir).parent).items():
            env.setenv(key, value)
        resources = build_resources(settings)
        assert resources["feast"].open().config.online_store.type == "redis"
        online = score_online(settings, resources["feast"], resources["mlflow_tracking"],
                              accounts).set_index("account_id")
    columns = ["churn_probability", "health_score", "band", "reasons", "recommended_action"]
    pd.testing.assert_frame_equal(online.loc[accounts, columns], daily.loc[accounts, columns],
                                  check_dtype=False)
