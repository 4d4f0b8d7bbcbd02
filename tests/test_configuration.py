"""One switch between the embedded default and production (docs/operations.md)."""

import pytest

from feature_repo.store import PRODUCTION_CONFIG, store_config
from pipelines.definitions import build_resources
from pipelines.environment import read_environment
from tests.conftest import make_settings


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path / "data", tmp_path / "out")


def test_the_embedded_default_needs_no_server(settings, monkeypatch):
    monkeypatch.delenv("ACCOUNT_HEALTH_ENV", raising=False)
    resources = build_resources(settings)
    config = resources["feast"].open().config
    assert (config.offline_store.type, config.online_store.type) == (
        "duckdb", "feature_repo.account_rows.AccountRowsOnlineStore")
    assert str(config.registry.path).startswith(settings.output_dir)
    assert config.online_store.path.startswith(settings.output_dir)
    assert resources["mlflow_tracking"].tracking_uri.startswith("sqlite:///")


def test_production_selects_postgres_redis_and_the_mlflow_server(settings, monkeypatch):
    for name, value in {"ENV": "production", "MLFLOW_TRACKING_URI": "http://mlflow:5000",
                        "POSTGRES_HOST": "db", "POSTGRES_PORT": "5432", "POSTGRES_USER": "u",
                        "POSTGRES_PASSWORD": "p", "POSTGRES_SSLMODE": "disable",
                        "FEAST_DATABASE": "feast", "REDIS_URL": "redis:6379"}.items():
        monkeypatch.setenv(f"ACCOUNT_HEALTH_{name}", value)
    resources = build_resources(settings)
    config = store_config(settings.output_dir, resources["feast"].config_file,
                          read_environment().variables)
    assert (config.offline_store.type, config.online_store.type) == ("postgres", "redis")
    assert config.registry.path == "postgresql+psycopg://u:p@db:5432/feast"
    assert resources["mlflow_tracking"].tracking_uri == "http://mlflow:5000"


def test_production_without_its_variables_says_which_is_missing(settings, monkeypatch):
    monkeypatch.setenv("ACCOUNT_HEALTH_ENV", "production")
    monkeypatch.delenv("ACCOUNT_HEALTH_MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ValueError, match="ACCOUNT_HEALTH_MLFLOW_TRACKING_URI"):
        build_resources(settings)
    for name in ("USER", "PASSWORD", "HOST", "PORT"):
        monkeypatch.delenv(f"ACCOUNT_HEALTH_POSTGRES_{name}", raising=False)
    with pytest.raises(ValueError, match="needs the environment variable "
                                         "ACCOUNT_HEALTH_POSTGRES_USER"):
        store_config(settings.output_dir, PRODUCTION_CONFIG, read_environment().variables)


def test_an_unknown_environment_is_refused_rather_than_run_locally(settings, monkeypatch):
    monkeypatch.setenv("ACCOUNT_HEALTH_ENV", "prod")
    with pytest.raises(ValueError, match="ACCOUNT_HEALTH_ENV='prod'"):
        build_resources(settings)


def test_folds_horizon_cadence_and_promotion_thresholds_come_from_the_environment(
        monkeypatch, tmp_path):
    from pipelines.resources import settings_from_env

    for name, value in {"MAX_FOLDS": "3", "HORIZON_DAYS": "60", "TRAINING_CADENCE_DAYS": "14",
                        "AUC_FLOOR": "0.7", "PROMOTION_MARGIN": "0.01",
                        "MAX_QUARANTINE_SHARE": "0.3"}.items():
        monkeypatch.setenv(f"ACCOUNT_HEALTH_{name}", value)
    monkeypatch.setenv("ACCOUNT_HEALTH_OUTPUT_DIR", str(tmp_path))
    settings = settings_from_env()
    training = settings.training
    assert (training.n_folds, training.horizon_days, training.training_cadence_days) == (
        3, 60, 14)
    assert (settings.training.auc_floor, settings.training.promotion_margin,
            settings.data.max_required_quarantine_share) == (0.7, 0.01, 0.3)
    monkeypatch.setenv("ACCOUNT_HEALTH_MAX_FOLDS", "six")
    with pytest.raises(SystemExit, match="ACCOUNT_HEALTH_MAX_FOLDS"):
        settings_from_env()


def test_the_local_dagster_instance_has_telemetry_off_and_batched_records_unless_configured(
        tmp_path):
    import yaml

    from account_health.run import prepare_dagster_home

    prepare_dagster_home(tmp_path / "home")
    written = yaml.safe_load((tmp_path / "home" / "dagster.yaml").read_text())
    assert written["telemetry"] == {"enabled": False}
    assert written["event_log_storage"]["class"] == "BatchedSqliteEventLogStorage"
    assert written["event_log_storage"]["config"]["base_dir"] == str(
        tmp_path / "home" / "history" / "runs")  # where Dagster's default event log is
    telemetry_only = tmp_path / "telemetry_only"
    telemetry_only.mkdir()
    (telemetry_only / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    prepare_dagster_home(telemetry_only)
    assert "event_log_storage" in yaml.safe_load((telemetry_only / "dagster.yaml").read_text())
    own = tmp_path / "own"
    own.mkdir()
    (own / "dagster.yaml").write_text("run_monitoring:\n  enabled: true\n")
    prepare_dagster_home(own)
    assert (own / "dagster.yaml").read_text() == "run_monitoring:\n  enabled: true\n"


def test_the_last_complete_day_is_the_utc_day_before_now(tmp_path):
    import pandas as pd

    settings = make_settings(tmp_path, tmp_path, now="2026-11-01T00:30:00")
    assert settings.data.last_complete_day() == pd.Timestamp("2026-10-31")


def test_the_scoring_yaml_is_read_once_per_version_and_each_step_gets_its_own_copy(tmp_path):
    import os

    from tests.conftest import make_settings

    path = tmp_path / "scoring.yaml"
    path.write_text("n_reasons: 2\n")
    settings = make_settings(tmp_path, tmp_path / "out", scoring_config_file=str(path))
    first = settings.scoring_config()
    first.n_reasons = 5  # one step narrowing its copy leaves the others alone
    assert settings.scoring_config().n_reasons == 2
    path.write_text("n_reasons: 4\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert settings.scoring_config().n_reasons == 4
