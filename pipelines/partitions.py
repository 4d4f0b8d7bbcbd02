"""The daily partitions shared by time-based assets."""

from __future__ import annotations

import os

from dagster import DailyPartitionsDefinition

from pipelines.resources import DEFAULT_START_DATE

#: One partition per UTC day from ACCOUNT_HEALTH_START_DATE to yesterday (complete days).
daily_partitions = DailyPartitionsDefinition(
    start_date=os.environ.get("ACCOUNT_HEALTH_START_DATE", DEFAULT_START_DATE),
    timezone="UTC",
)
