"""The daily partitions shared by time-based assets."""

from __future__ import annotations

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    DailyPartitionsDefinition,
    TimeWindowPartitionMapping,
)

from features.contract import ContractError
from pipelines.environment import read_environment
from pipelines.resources import DEFAULT_START_DATE, settings_from
from pipelines.run import first_event_day


def partitions_start() -> str:
    """The first daily partition: ``ACCOUNT_HEALTH_START_DATE`` when set, else the first day
    of the data (``pipelines.run.first_event_day``), so no day before the data shows as
    missing or is offered to a backfill; the default start date when there is no data."""
    environment = read_environment()
    explicit = environment.settings.get("pipeline_start_date")
    if explicit:
        return explicit
    try:
        return first_event_day(settings_from(environment))
    except (SystemExit, ContractError, OSError, ValueError):  # no events to read yet
        return DEFAULT_START_DATE


#: One partition per UTC day from the start (``partitions_start``) to yesterday.
daily_partitions = DailyPartitionsDefinition(start_date=partitions_start(), timezone="UTC")


def daily_asset(group: str, partition_column: str = "as_of") -> dict:
    """The options of a daily asset of ``group`` whose rows carry their day in
    ``partition_column``: daily partitions, a range of days in one run."""
    return {"partitions_def": daily_partitions, "backfill_policy": BackfillPolicy.single_run(),
            "group_name": group, "metadata": {"partition_column": partition_column}}


def stored_days_around(key: str, start_offset: int, end_offset: int = 0,
                       **metadata) -> AssetIn:
    """An input of the stored days of ``key`` from ``start_offset`` to ``end_offset`` days
    around the run's days (negative: before); days never stored are left out, and none at
    all loads as None. ``metadata`` goes to the IO manager (``columns``)."""
    return AssetIn(key=key, metadata={"missing_ok": True, **metadata},
                   partition_mapping=TimeWindowPartitionMapping(
                       start_offset=start_offset, end_offset=end_offset,
                       allow_nonexistent_upstream_partitions=True))


def run_days(context: AssetExecutionContext) -> pd.DatetimeIndex:
    """The days (midnight, naive UTC) a partitioned run covers: one, or a backfill's range."""
    window = context.partition_time_window
    return pd.date_range(pd.Timestamp(window.start).tz_localize(None),
                         pd.Timestamp(window.end).tz_localize(None), inclusive="left")
