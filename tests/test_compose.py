"""docker-compose.yml: valid Compose, safe defaults, and the configuration the integration
tests run (no Docker engine here; tests/integration runs the services' commands)."""

import copy
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft201909Validator

from tests.compose import REPO, interpolate, load_compose, service_command, variables_in

SCHEMA_FILE = REPO / ".tools" / "compose-spec.json"
DOCKERFILE = (REPO / "Dockerfile").read_text()


@pytest.fixture(scope="module")
def validator() -> Draft201909Validator:
    if not SCHEMA_FILE.exists():
        pytest.fail(f"{SCHEMA_FILE} is missing: `make test` downloads it "
                    "(make .tools/compose-spec.json)")
    return Draft201909Validator(json.loads(SCHEMA_FILE.read_text()))


def test_compose_file_follows_the_compose_specification(validator):
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}"
              for e in validator.iter_errors(load_compose())]
    assert errors == []


def test_the_schema_check_catches_a_misspelt_key(validator):
    broken = copy.deepcopy(load_compose())
    broken["services"]["mlflow"]["helthcheck"] = broken["services"]["mlflow"].pop("healthcheck")
    assert not validator.is_valid(broken)


def test_every_published_port_is_bound_to_loopback():
    published = [port for service in load_compose()["services"].values()
                 for port in service.get("ports", [])]
    assert published
    assert all(str(port).startswith("127.0.0.1:") for port in published)


def test_every_service_has_a_health_check():
    services = load_compose()["services"]
    assert {name for name, s in services.items() if "healthcheck" not in s} == set()


def test_named_volumes_are_declared_and_used():
    compose = load_compose()
    used = {mount.split(":")[0] for s in compose["services"].values()
            for mount in s.get("volumes", []) if not mount.startswith((".", "/", "$"))}
    assert used == set(compose["volumes"])


def test_no_secret_is_written_in_the_file_and_every_variable_is_in_env_example():
    text = (REPO / "docker-compose.yml").read_text()
    # Every variable filled with its own name in brackets: what is left is written in the file.
    filled = interpolate(text, {name: f"<{name}>" for name in variables_in(text)})
    passwords = re.findall(r"PASSWORD\w*: (.*)", filled) + re.findall(r"://[^:/@\s]+:([^@\s]*)@",
                                                                     filled)
    assert len(passwords) >= 4
    assert all(re.fullmatch(r"<ACCOUNT_HEALTH_\w+_PASSWORD>", p) for p in passwords), passwords
    example = (REPO / ".env.example").read_text()
    documented = set(re.findall(r"^(\w+)=", example, flags=re.MULTILINE))
    assert variables_in(text) <= documented


def test_compose_refuses_to_start_without_the_passwords():
    text = (REPO / "docker-compose.yml").read_text()
    with pytest.raises(KeyError, match="ACCOUNT_HEALTH_POSTGRES_PASSWORD"):
        interpolate(text, {"ACCOUNT_HEALTH_REDIS_PASSWORD": "x"})
    with pytest.raises(KeyError, match="ACCOUNT_HEALTH_REDIS_PASSWORD"):
        interpolate(text, {"ACCOUNT_HEALTH_POSTGRES_PASSWORD": "x"})


def test_code_location_serves_the_projects_definitions():
    module = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dagster"]
    command = service_command("dagster-code")
    assert command[command.index("--module-name") + 1] == module["module_name"]
    assert command[command.index("--location-name") + 1] == module["code_location_name"]


def test_webserver_and_daemon_find_the_code_location_through_the_workspace():
    workspace = yaml.safe_load((REPO / "deploy" / "workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    code = service_command("dagster-code")
    assert server["host"] == "dagster-code"
    assert str(server["port"]) == code[code.index("--port") + 1]
    for service in ("dagster-webserver", "dagster-daemon"):
        command = service_command(service)
        assert command[command.index("--workspace") + 1] == "/opt/dagster/home/workspace.yaml"
    assert "COPY deploy/dagster.yaml deploy/workspace.yaml /opt/dagster/home/" in DOCKERFILE
    assert "DAGSTER_HOME=/opt/dagster/home" in DOCKERFILE


def test_dagster_services_share_one_environment_and_select_production():
    services = load_compose()["services"]
    environments = [services[name]["environment"]
                    for name in ("dagster-code", "dagster-webserver", "dagster-daemon")]
    assert environments[0] == environments[1] == environments[2]
    assert environments[0]["ACCOUNT_HEALTH_ENV"] == "production"
    assert environments[0]["ACCOUNT_HEALTH_MLFLOW_TRACKING_URI"] == "http://mlflow:5000"


def test_postgres_creates_the_databases_the_services_use():
    postgres = load_compose()["services"]["postgres"]
    init = "./deploy/postgres/create-databases.sh:/docker-entrypoint-initdb.d/"
    assert any(mount.startswith(init) for mount in postgres["volumes"])
    script = (REPO / "deploy" / "postgres" / "create-databases.sh").read_text()
    for database in ("DAGSTER", "MLFLOW", "FEAST"):
        assert f"ACCOUNT_HEALTH_{database}_DATABASE" in postgres["environment"]
        assert f"$ACCOUNT_HEALTH_{database}_DATABASE" in script


def test_dockerfile_builds_from_the_lock_file_with_every_package():
    assert "uv sync --frozen --no-dev" in DOCKERFILE
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"]["wheel"]["packages"]
    for package in packages:
        assert f"COPY {package} ./{package}" in DOCKERFILE
        assert Path(REPO / package).is_dir()


def test_spark_profile_runs_the_release_the_locked_pyspark_drives():
    services = load_compose()["services"]
    assert services["spark-master"]["profiles"] == services["spark-worker"]["profiles"] == [
        "spark"]
    lock = (REPO / "uv.lock").read_text()
    pyspark = re.search(r'name = "pyspark"\nversion = "([^"]+)"', lock).group(1)
    assert services["spark-master"]["image"] == f"apache/spark:{pyspark}"
    assert "spark://spark-master:7077" in service_command("spark-worker")
    master = service_command("spark-master")
    assert master[master.index("--port") + 1] == "7077"
    # the engine submits to that master unless told otherwise
    environment = services["dagster-code"]["environment"]
    assert environment["ACCOUNT_HEALTH_SPARK_MASTER"].endswith("spark://spark-master:7077}")
