"""Dagster's code server, daemon and webserver from docker-compose.yml, on Postgres storage.

Each runs its compose command, with the compose environment and the image's dagster.yaml and
workspace.yaml, pointed at this machine (tests/integration/services.py); each is declared
ready by its compose health check. The daily schedule is set a couple of minutes ahead so the
daemon has to fire it: the run it queues is then read back from Postgres, and the webserver
shows the code location and the running schedules.
"""

import json
import shutil
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from pipelines.schedules import scored_day
from tests.compose import REPO, load_compose, replace_option, service_command
from tests.integration.services import (
    code_location_environment,
    compose_variables,
    create_databases,
    drop_databases,
    free_port,
    query,
    replacements,
    require_services,
    start_service,
    stop_service,
    succeeds,
)

VARIABLES = compose_variables("ah_svc")
SCHEDULES_QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  location { name } schedules { name cronSchedule scheduleState { status } } } } }
  workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def _healthcheck(service: str, port_option: str, port: int) -> list[str]:
    command = load_compose()["services"][service]["healthcheck"]["test"][1:]  # after "CMD"
    return replace_option(command, port_option, str(port)) if port_option else command


def _graphql(port: int, text: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql",
                                     data=json.dumps({"query": text}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]


def _location_loaded(port: int) -> bool:
    """The webserver answers and has finished loading the code location (or failed to)."""
    try:
        data = _graphql(port, "{ workspaceOrError { ... on Workspace { locationEntries { "
                              "loadStatus } } } }")
    except OSError:
        return False
    entries = data["workspaceOrError"].get("locationEntries", [])
    return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)


@pytest.fixture(scope="module")
def dagster_services(tmp_path_factory):
    require_services()
    drop_databases(VARIABLES)
    create_databases(VARIABLES)
    tmp = tmp_path_factory.mktemp("dagster_services")
    code_port, web_port = free_port(), free_port()
    environment = code_location_environment(VARIABLES, replacements(tmp, free_port()))
    # The daemon starts a schedule from the first tick after it first sees it: leave time
    # for the three services to start.
    fire_at = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    environment.update({"ACCOUNT_HEALTH_DAILY_RUN_AT": fire_at.strftime("%H:%M"),
                        "ACCOUNT_HEALTH_TIMEZONE": "UTC"})
    # what the Dockerfile does: DAGSTER_HOME holds deploy/dagster.yaml and workspace.yaml,
    # the workspace naming where this machine's code server listens
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    workspace = yaml.safe_load((REPO / "deploy" / "workspace.yaml").read_text())
    workspace["load_from"][0]["grpc_server"].update(host="127.0.0.1", port=code_port)
    (home / "workspace.yaml").write_text(yaml.safe_dump(workspace))
    environment["DAGSTER_HOME"] = str(home)

    def in_home(command: list[str]) -> list[str]:
        return replace_option(command, "--workspace", str(home / "workspace.yaml"))

    started = []
    try:
        code = replace_option(replace_option(service_command("dagster-code"), "--host",
                                             "127.0.0.1"), "--port", str(code_port))
        started.append(start_service(
            code, environment, tmp / "code-server.log",
            ready=lambda: succeeds(_healthcheck("dagster-code", "--port", code_port),
                                   environment)))
        started.append(start_service(
            in_home(service_command("dagster-daemon")), environment, tmp / "daemon.log",
            ready=lambda: succeeds(_healthcheck("dagster-daemon", "", 0), environment)))
        web = replace_option(replace_option(in_home(service_command("dagster-webserver")),
                                            "--host", "127.0.0.1"), "--port", str(web_port))
        started.append(start_service(
            web, environment, tmp / "webserver.log",
            ready=lambda: _location_loaded(web_port)))
        yield {"web_port": web_port, "fire_at": fire_at, "tmp": tmp}
    finally:
        for process in reversed(started):
            stop_service(process)
        drop_databases(VARIABLES)


def test_webserver_loads_the_code_location_with_its_schedules_running(dagster_services):
    data = _graphql(dagster_services["web_port"], SCHEDULES_QUERY)
    locations = data["workspaceOrError"]["locationEntries"]
    assert [entry["locationOrLoadError"]["__typename"] for entry in locations] == [
        "RepositoryLocation"], locations
    [repository] = data["repositoriesOrError"]["nodes"]
    assert repository["location"]["name"] == "account_health"
    schedules = {s["name"]: s for s in repository["schedules"]}
    fire_at = dagster_services["fire_at"]
    assert schedules["daily_scoring_schedule"]["cronSchedule"] == (
        f"{fire_at.minute} {fire_at.hour} * * *")
    assert {s["scheduleState"]["status"] for s in schedules.values()} == {"RUNNING"}


def test_daemon_heartbeats_are_stored_in_postgres(dagster_services):
    beating = {kind for (kind,) in query(VARIABLES["ACCOUNT_HEALTH_DAGSTER_DATABASE"],
                                         "SELECT daemon_type FROM daemon_heartbeats")}
    assert {"SCHEDULER", "QUEUED_RUN_COORDINATOR"} <= beating


def test_daemon_fires_the_daily_schedule_into_a_queued_run(dagster_services):
    fire_at = dagster_services["fire_at"]
    sql = """SELECT t.value FROM runs r JOIN run_tags t ON t.run_id = r.run_id
             WHERE t.key = 'dagster/partition' AND r.run_id IN (
                 SELECT run_id FROM run_tags WHERE key = 'dagster/schedule_name'
                                               AND value = 'daily_scoring_schedule')"""
    deadline = fire_at + timedelta(seconds=150)
    partitions = []
    while not partitions and datetime.now(UTC) < deadline:
        partitions = query(VARIABLES["ACCOUNT_HEALTH_DAGSTER_DATABASE"], sql)
        time.sleep(2)
    assert partitions == [(scored_day(fire_at),)]
