"""The daily partitions shared by time-based assets."""

from __future__ import annotations

import json

import pandas as pd
from dagster import AssetExecutionContext, DailyPartitionsDefinition

from pipelines.environment import read_environment
from pipelines.resources import DEFAULT_START_DATE, settings_from


def partitions_start() -> str:
    """The first daily partition: ``ACCOUNT_HEALTH_START_DATE`` when set, else the first day
    of the data as the last run recorded it (``pipelines.run.record_data_window``), so no
    day before the data shows as missing; before any run, the default start date."""
    environment = read_environment()
    explicit = environment.settings.get("pipeline_start_date")
    if explicit:
        return explicit
    settings = settings_from(environment)
    try:
        window = json.loads(settings.data_window_file().read_text())
    except (OSError, ValueError):
        return DEFAULT_START_DATE
    if window.get("data_dir") != settings.data_dir or "first_day" not in window:
        return DEFAULT_START_DATE
    return window["first_day"]


#: One partition per UTC day from the start (``partitions_start``) to yesterday.
daily_partitions = DailyPartitionsDefinition(start_date=partitions_start(), timezone="UTC")


def run_days(context: AssetExecutionContext) -> pd.DatetimeIndex:
    """The days (midnight, naive UTC) a partitioned run covers: one, or a backfill's range."""
    window = context.partition_time_window
    return pd.date_range(pd.Timestamp(window.start).tz_localize(None),
                         pd.Timestamp(window.end).tz_localize(None), inclusive="left")
