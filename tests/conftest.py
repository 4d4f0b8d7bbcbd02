"""Shared fixtures: tiny seeded demo data and pipeline settings in temporary directories."""

from datetime import date
from pathlib import Path

import pytest

from account_health.demo_data import DemoConfig, generate_to_dir
from pipelines.resources import AccountHealthSettings

TINY = DemoConfig(accounts=40, months=5, seed=11, end_date=date(2026, 10, 31))
NOW = "2026-11-01T06:00:00"


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("tiny_data")
    generate_to_dir(data_dir, TINY)
    return data_dir


def make_settings(data_dir: Path, output_dir: Path) -> AccountHealthSettings:
    # A 30-day horizon leaves closed labels inside the five months of tiny data.
    return AccountHealthSettings(data_dir=str(data_dir), output_dir=str(output_dir), now=NOW,
                                 horizon_days=30)
