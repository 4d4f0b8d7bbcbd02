"""The production configuration of docker-compose.yml against real Postgres and Redis.

Everything comes from the compose file (tests/compose.py): the databases are created by the
postgres service's init script, the MLflow tracking server runs the mlflow service's command
and environment, and the pipeline runs with the dagster-code service's environment and the
image's dagster.yaml. Compose addresses (postgres:5432, redis:6379, mlflow:5000) and container
paths are pointed at this machine (tests/integration/services.py). Dagster storage, the
MLflow backend store and the Feast registry and offline store end up in Postgres, the Feast
online store in Redis, MLflow's artifacts behind its server. The test makes its own
databases and Redis database and drops them afterwards, so it can run again on the same
services. Unreachable services skip it, except under CI=true, where they fail it.
"""

import json
import shutil
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterInstance, DagsterRunStatus

from account_health.demo_data import generate_to_dir
from feature_repo.definitions import FEATURE_VIEW
from pipelines.run import run_pipeline
from pipelines.selections import DAILY_SCORING, TRAINING_PIPELINE
from tests.compose import REPO, replace_option, service_command, service_environment
from tests.conftest import DEMO, make_settings, storage_of
from tests.integration.services import (
    code_location_environment,
    compose_variables,
    create_databases,
    drop_databases,
    free_port,
    query,
    redis_client,
    replacements,
    require_services,
    start_service,
    stop_service,
)

VARIABLES = compose_variables("ah_it")
DAY = "2026-10-31"


def _query(database: str, sql: str) -> list[tuple]:
    return query(VARIABLES[f"ACCOUNT_HEALTH_{database.upper()}_DATABASE"], sql)


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """The training pipeline, then the daily run twice, all on the production stores."""
    require_services()
    drop_databases(VARIABLES)
    create_databases(VARIABLES)
    tmp = tmp_path_factory.mktemp("production")
    port = free_port()
    replaced = replacements(tmp, port)
    environment = code_location_environment(VARIABLES, replaced)
    generate_to_dir(tmp / "data", DEMO)
    settings = make_settings(environment["ACCOUNT_HEALTH_DATA_DIR"],
                             environment["ACCOUNT_HEALTH_OUTPUT_DIR"], n_folds=2,
                             # four-weekly training dates: this checks the stores, and the
                             # Postgres point-in-time join costs by the entity row
                             horizon_days=60, training_cadence_days=28)
    mlflow_command = replace_option(replace_option(service_command("mlflow"), "--host",
                                                   "127.0.0.1"), "--port", str(port))
    server = start_service(mlflow_command, service_environment("mlflow", VARIABLES, replaced),
                           tmp / "mlflow-server.log",
                           ready=lambda: _answers(f"http://127.0.0.1:{port}/health"))
    try:
        with pytest.MonkeyPatch.context() as env:
            for key, value in environment.items():
                env.setenv(key, value)
            # what the Dockerfile does: DAGSTER_HOME holds deploy/dagster.yaml
            home = tmp / "dagster_home"
            home.mkdir()
            env.setenv("DAGSTER_HOME", str(home))
            shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
            instance = DagsterInstance.get()
            trained = run_pipeline(settings, instance, first_day="2025-11-01", last_day=DAY,
                                   selection=TRAINING_PIPELINE)
            daily = [run_pipeline(settings, instance, first_day=DAY, last_day=DAY,
                                  selection=DAILY_SCORING) for _ in range(2)]
            yield settings, instance, trained, daily, tmp
            instance.dispose()
    finally:
        stop_service(server)
        drop_databases(VARIABLES)


def test_dagster_runs_and_events_are_stored_in_postgres(production):
    _, instance, trained, daily, tmp = production
    assert trained.success and all(run.success for run in daily)
    stored = dict(_query("dagster", "SELECT run_id, status FROM runs"))
    assert {trained.run_id, *(run.run_id for run in daily)} <= set(stored)
    assert set(stored.values()) == {DagsterRunStatus.SUCCESS.value}
    materialised = _query("dagster", "SELECT count(*) FROM event_logs "
                                     "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
    assert materialised[0][0] > 0
    # compute logs go to the volume the webserver shares, not under DAGSTER_HOME
    assert any((tmp / "storage" / "compute_logs").rglob("*"))


def test_mlflow_server_keeps_runs_and_registry_in_postgres_and_serves_artifacts(production):
    models = _query("mlflow", "SELECT name, alias, version FROM registered_model_aliases")
    assert ("account-health-churn", "champion", 1) in models
    parents = _query("mlflow", "SELECT count(*) FROM runs r JOIN experiments e "
                               "ON r.experiment_id = e.experiment_id "
                               "WHERE e.name = 'account-health-churn'")
    assert parents[0][0] >= 3  # a parent run and two fold runs
    artifact_roots = {root for (root,) in _query("mlflow", "SELECT artifact_location "
                                                           "FROM experiments")}
    assert all(root.startswith("mlflow-artifacts:") for root in artifact_roots)
    # uploaded through the server into the mlflow service's artifact volume
    tmp = production[4]
    assert any(path.name == "MLmodel" for path in (tmp / "mlartifacts").rglob("*"))


def test_feast_registry_and_offline_store_are_in_postgres(production):
    settings = production[0]
    views = {name for (name,) in _query("feast", "SELECT feature_view_name FROM feature_views")}
    assert FEATURE_VIEW in views
    files = sorted(storage_of(settings).partition_dir("account_snapshot").glob("*.parquet"))
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
    assert redis_client().dbsize() > 0
    daily = pd.read_parquet(Path(settings.output_dir) / "assets" / "account_scores"
                            / f"{DAY}.parquet").set_index("account_id")
    accounts = list(daily.index[:3])
    resources = build_resources(settings)
    assert resources["feast"].open().config.online_store.type == "redis"
    online = score_online(settings, resources["feast"], resources["mlflow_tracking"],
                          accounts).set_index("account_id")
    columns = ["churn_probability", "health_score", "band", "reasons", "recommended_action"]
    pd.testing.assert_frame_equal(online.loc[accounts, columns], daily.loc[accounts, columns],
                                  check_dtype=False)


def test_feast_ui_serves_the_production_registry(production):
    """The feast-ui service's command, on the registry the pipeline wrote to Postgres."""
    tmp = production[4]
    port = free_port()
    command = [part.replace("/app/", f"{REPO}/") for part in service_command("feast-ui")]
    command = replace_option(replace_option(command, "--host", "127.0.0.1"), "--port", str(port))
    ui = start_service(command, {}, tmp / "feast-ui.log",
                       ready=lambda: _answers(f"http://127.0.0.1:{port}/health"))
    try:
        url = f"http://127.0.0.1:{port}/api/v1/feature_views?project=account_health"
        with urllib.request.urlopen(url, timeout=30) as response:
            listed = json.load(response)
    finally:
        stop_service(ui)
    names = {view["spec"]["name"] for view in listed["featureViews"]}
    assert FEATURE_VIEW in names
