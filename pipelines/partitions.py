"""The daily partitions shared by time-based assets."""

from __future__ import annotations

import os

import pandas as pd
from dagster import AssetExecutionContext, DailyPartitionsDefinition

from pipelines.resources import DEFAULT_START_DATE

#: One partition per UTC day from ACCOUNT_HEALTH_START_DATE to yesterday (complete days).
daily_partitions = DailyPartitionsDefinition(
    start_date=os.environ.get("ACCOUNT_HEALTH_START_DATE", DEFAULT_START_DATE),
    timezone="UTC",
)


def run_days(context: AssetExecutionContext) -> pd.DatetimeIndex:
    """The days (midnight, naive UTC) a partitioned run covers: one, or a backfill's range."""
    window = context.partition_time_window
    return pd.date_range(pd.Timestamp(window.start).tz_localize(None),
                         pd.Timestamp(window.end).tz_localize(None), inclusive="left")
