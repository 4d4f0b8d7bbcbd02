"""Shared fixtures: tiny seeded demo data and pipeline settings in temporary directories."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from account_health.demo_data import DemoConfig, generate_to_dir
from pipelines.resources import AccountHealthSettings
from pipelines.storage import AssetStorage

# Daily partitions from a fixed date, not the first day of whatever data the environment names.
os.environ.setdefault("ACCOUNT_HEALTH_START_DATE", "2025-01-01")

TINY = DemoConfig(accounts=40, months=5, seed=11, end_date=date(2026, 10, 31))
NOW = "2026-11-01T06:00:00"


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("tiny_data")
    generate_to_dir(data_dir, TINY)
    return data_dir


def make_settings(data_dir: Path, output_dir: Path, **overrides) -> AccountHealthSettings:
    # A 30-day horizon leaves closed labels inside the five months of tiny data.
    options = {"now": NOW, "horizon_days": 30, **overrides}
    return AccountHealthSettings.of(data_dir, output_dir, **options)


def storage_of(settings: AccountHealthSettings) -> AssetStorage:
    """The asset storage of a run with ``settings`` (as ``build_resources`` makes it)."""
    return AssetStorage.under(settings.output_dir)


def demo_tables(config: DemoConfig) -> dict:
    """Demo data -> validated tables."""
    import pandas as pd

    from account_health.demo_data import generate
    from features.row_checks import check_table

    now = pd.Timestamp(config.end_date, tz="UTC") + pd.Timedelta(days=1)
    tables = {}
    for table, frame in generate(config).items():
        frame = frame.copy()
        frame.insert(0, "source_row", range(1, len(frame) + 1))
        tables[table] = check_table(table, frame, source_file=table, now=now).accepted
    return tables


def labelled_snapshots(config: DemoConfig, horizon_days: int = 90, tables: dict | None = None):
    """Demo data -> validated tables -> monthly labelled snapshots (no Feast, same rows)."""
    import pandas as pd

    from features.training_set import training_set_from_tables

    return training_set_from_tables(tables or demo_tables(config),
                                    last_data_day=pd.Timestamp(config.end_date),
                                    horizon_days=horizon_days)


# Smaller demos leave too few training rows for a model to clear the 0.65 AUC floor. At 500
# accounts and two folds whether XGBoost beats every baseline on every metric (and so
# becomes champion) depends on the draw; the pipeline tests need a champion, so the seed
# is one where it does (5 stopped doing so when the demo's expansions changed).
DEMO = DemoConfig(accounts=500, months=12, seed=8, end_date=TINY.end_date)


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """Demo data with a champion (v1) and a challenger (v2) trained on it; shared by the
    training and daily-run tests, since training is the slow part."""
    from dagster import DagsterInstance

    from pipelines.run import run_pipeline
    from pipelines.selections import TRAINING_PIPELINE

    data = tmp_path_factory.mktemp("model_data")
    generate_to_dir(data, DEMO)
    settings = make_settings(data, tmp_path_factory.mktemp("model_out"), n_folds=2,
                             horizon_days=60)
    first = run_pipeline(settings, DagsterInstance.ephemeral(), first_day="2025-11-01",
                         last_day="2026-10-31", selection=TRAINING_PIPELINE)
    second = run_pipeline(settings, DagsterInstance.ephemeral(), first_day="2026-10-31",
                          last_day="2026-10-31", selection=TRAINING_PIPELINE)
    return settings, first, second


def use_registry_of(settings: AccountHealthSettings) -> None:
    """Point the global MLflow client at the tracking store and registry these settings'
    pipeline wrote (other tests point it elsewhere)."""
    from pipelines.resources import MlflowTracking

    MlflowTracking.local(settings.output_dir).activate()


def chromium_or_skip() -> str:
    """Debian's Chromium for the browser tests; skips without it (fails under CI=true)."""
    import os
    import shutil

    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser_path is None:
        message = "Debian's chromium is not installed (make test installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return browser_path


@contextmanager
def chromium_page(url: str) -> Iterator[tuple[object, list[str]]]:
    """``url`` open in headless Chromium: (the Playwright page, the page errors so far)."""
    from playwright.sync_api import sync_playwright

    browser_path = chromium_or_skip()
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path,
                                             args=["--no-sandbox"])
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        yield page, errors
        browser.close()
