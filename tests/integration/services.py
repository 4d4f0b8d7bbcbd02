"""This machine's Postgres and Redis standing in for the services of docker-compose.yml.

Helpers for the integration tests: reach the services (skip when they are not there, fail
under CI=true), make and drop the tests' own databases with the postgres service's init
script, and start the compose services' commands as local processes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.compose import REPO, service_environment

PG = {"host": os.environ.get("ACCOUNT_HEALTH_TEST_PG_HOST", "127.0.0.1"),
      "port": int(os.environ.get("ACCOUNT_HEALTH_TEST_PG_PORT", "5432")),
      "user": os.environ.get("ACCOUNT_HEALTH_TEST_PG_USER", "postgres"),
      # the local server trusts loopback; compose refuses an empty password, so pass one
      "password": os.environ.get("ACCOUNT_HEALTH_TEST_PG_PASSWORD", "trust-auth")}
REDIS = os.environ.get("ACCOUNT_HEALTH_TEST_REDIS", "127.0.0.1:6379")
REDIS_PASSWORD = os.environ.get("ACCOUNT_HEALTH_TEST_REDIS_PASSWORD", "")
REDIS_DB = 15


def compose_variables(prefix: str) -> dict[str, str]:
    """What .env would hold for this machine's services, with databases named ``prefix_*``."""
    return {
        "ACCOUNT_HEALTH_POSTGRES_USER": PG["user"],
        "ACCOUNT_HEALTH_POSTGRES_PASSWORD": PG["password"],
        "ACCOUNT_HEALTH_DAGSTER_DATABASE": f"{prefix}_dagster",
        "ACCOUNT_HEALTH_MLFLOW_DATABASE": f"{prefix}_mlflow",
        "ACCOUNT_HEALTH_FEAST_DATABASE": f"{prefix}_feast",
        "ACCOUNT_HEALTH_REDIS_PASSWORD": REDIS_PASSWORD,
        "ACCOUNT_HEALTH_REDIS_DB": str(REDIS_DB),
    }


def databases(variables: dict[str, str]) -> list[str]:
    return [variables[f"ACCOUNT_HEALTH_{name}_DATABASE"] for name in ("DAGSTER", "MLFLOW",
                                                                      "FEAST")]


def admin():
    import psycopg

    return psycopg.connect(dbname="test", autocommit=True, connect_timeout=3, **PG)


def redis_client():
    import redis

    host, port = REDIS.split(":")
    return redis.Redis(host=host, port=int(port), db=REDIS_DB, socket_connect_timeout=3,
                       password=REDIS_PASSWORD or None)


def require_services() -> None:
    """Skip unless Postgres, Redis and psql are here; under CI=true, fail instead."""
    try:
        admin().close()
        redis_client().ping()
        if shutil.which("psql") is None:
            raise RuntimeError("psql (the postgres init script's client) is not installed")
    except Exception as exc:  # any failure to connect means: no services here
        reason = f"Postgres at {PG['host']}:{PG['port']} or Redis at {REDIS} unusable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


def drop_databases(variables: dict[str, str]) -> None:
    with admin() as conn:
        for name in databases(variables):
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    redis_client().flushdb()


def create_databases(variables: dict[str, str]) -> None:
    """The postgres service's init script, run against this machine's server."""
    environment = {**os.environ, **service_environment("postgres", variables),
                   "POSTGRES_USER": PG["user"], "POSTGRES_DB": "test",
                   "PGHOST": PG["host"], "PGPORT": str(PG["port"]),
                   "PGPASSWORD": PG["password"]}
    subprocess.run(["sh", str(REPO / "deploy" / "postgres" / "create-databases.sh")],
                   env=environment, check=True, capture_output=True)


def query(database: str, sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(dbname=database, **PG) as conn:
        return conn.execute(sql, params).fetchall()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def replacements(tmp: Path, mlflow_port: int) -> dict[str, str]:
    """Compose addresses and container paths -> this machine's services and directories."""
    return {"postgres:5432": f"{PG['host']}:{PG['port']}", "redis:6379": REDIS,
            "mlflow:5000": f"127.0.0.1:{mlflow_port}",
            "/mlartifacts": str(tmp / "mlartifacts"), "/data/input": str(tmp / "data"),
            "/data/output": str(tmp / "out"), "/opt/dagster/storage": str(tmp / "storage")}


def code_location_environment(variables: dict[str, str],
                              replaced: dict[str, str]) -> dict[str, str]:
    """The dagster-code service's environment, pointed at this machine."""
    environment = service_environment("dagster-code", variables, replaced)
    # ACCOUNT_HEALTH_POSTGRES_HOST/PORT are compose's postgres service, on its own network
    environment["ACCOUNT_HEALTH_POSTGRES_HOST"] = PG["host"]
    environment["ACCOUNT_HEALTH_POSTGRES_PORT"] = str(PG["port"])
    return environment


def executable(name: str) -> str:
    """A console script of this virtual environment (mlflow, dagster, ...)."""
    return str(Path(sys.executable).with_name(name))


def start_service(command: list[str], environment: dict[str, str], log: Path,
                  ready: Callable[[], bool], *, timeout_s: float = 120) -> subprocess.Popen:
    """Start ``command`` in its own process group; return once ``ready()`` is true."""
    with open(log, "w") as out:
        process = subprocess.Popen([executable(command[0]), *command[1:]],
                                   env={**os.environ, **environment}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{' '.join(command)} exited:\n{log.read_text()[-3000:]}")
        if ready():
            return process
        time.sleep(0.5)
    stop_service(process)
    raise RuntimeError(f"{' '.join(command)} not ready within {timeout_s:.0f} s:\n"
                       f"{log.read_text()[-3000:]}")


def stop_service(process: subprocess.Popen) -> None:
    """Stop the process and whatever it started (a code server's run workers)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def succeeds(command: list[str], environment: dict[str, str]) -> bool:
    """Whether ``command`` (a compose health check) exits 0."""
    return subprocess.run([executable(command[0]), *command[1:]], capture_output=True,
                          env={**os.environ, **environment}, timeout=60).returncode == 0
