"""Raw layer, events: one partition per UTC day, validated from one export file or from
day files, with the rows no day can hold."""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetOut,
    BackfillPolicy,
    Failure,
    Output,
    asset,
    multi_asset,
)

from features.contract import ContractError, day_files, read_table
from features.event_ingestion import (
    days_without_events,
    events_from_day_files,
    events_from_export,
    last_day_file,
    parent_account_ids,
)
from features.row_checks import (
    empty_quarantine,
    event_times,
    unplaceable_events,
)
from features.spark_frames import StoredDays
from features.spark_ingestion import check_event_days_on_spark
from pipelines.assets.raw_tables import source_files
from pipelines.engine import ComputeEngine
from pipelines.partitions import daily_partitions, run_days
from pipelines.resources import AccountHealthSettings
from pipelines.storage import AssetStorage

GROUP = "raw"


@multi_asset(
    outs={
        "events": AssetOut(description="Validated product events of the day",
                           metadata={"partition_column": "event_time"}),
        "events_quarantine": AssetOut(description="Rejected events of the day with reasons",
                                      metadata={"partition_column": "partition_date"}),
    },
    deps=["accounts", "subscriptions"],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name=GROUP,
    check_specs=[AssetCheckSpec(
        "events_arrived", asset="events", blocking=True,
        description="The export holds events for the run's last day. Fails (and stops the "
                    "day's features, scores and alerts) when that day's data has not "
                    "arrived, so a late export cannot look like every account going quiet; "
                    "re-run the day once it lands. Earlier empty days are listed.")],
)
def events(context: AssetExecutionContext, settings: AccountHealthSettings,
           storage: AssetStorage, engine: ComputeEngine):
    """Product events (required), one partition per UTC day of ``event_time``.

    From one export file, a run over a range of days reads it once and writes every day in
    the range. From a directory of day files (``events/<day>.parquet``) it reads only the
    files of its days, so a daily run costs the same however long the history is; with the
    spark engine, Spark reads and checks them, a file per task.
    """
    try:
        path = settings.table_file("events")
        if path is None:
            raise Failure(f"required table 'events' not found in {settings.data_dir}")
        window = context.partition_time_window
        known = parent_account_ids(settings.table_file, settings.mapping())
        if path.is_dir():
            accepted, quarantine, arrived, export_ends = _from_day_files(
                path, run_days(context), settings, storage, known, engine)
        else:
            checked = events_from_export(
                path, pd.Timestamp(window.start), pd.Timestamp(window.end),
                mapping=settings.mapping(), pipeline_start=settings.data.start_timestamp(),
                now=settings.data.current_time(), known=known)
            accepted, quarantine, arrived, export_ends = (
                checked.accepted, checked.quarantine, checked.arrived, checked.export_ends)
    except ContractError as exc:
        raise Failure(str(exc)) from exc
    accepted_rows, quarantined_rows = _row_count(accepted), _row_count(quarantine)
    context.log.info(f"events {window.start:%Y-%m-%d}..{window.end:%Y-%m-%d}: "
                     f"{accepted_rows} accepted, {quarantined_rows} quarantined")
    yield Output(accepted, output_name="events", metadata={"accepted_rows": accepted_rows})
    yield Output(quarantine, output_name="events_quarantine",
                 metadata={"quarantined_rows": quarantined_rows})
    yield _events_arrived(window, arrived, export_ends=export_ends)


def _row_count(rows: pd.DataFrame | StoredDays) -> int:
    return rows.total_rows if isinstance(rows, StoredDays) else len(rows)


def _from_day_files(directory, days: pd.DatetimeIndex, settings: AccountHealthSettings,
                    storage: AssetStorage, known: pd.Index | None, engine: ComputeEngine):
    """The day files of ``days``: (accepted, quarantine, days with accepted events, last day
    present). With the spark engine the executors check and store each day's rows, and
    accepted and quarantine are ``StoredDays``."""
    if not engine.on_spark:
        checked = events_from_day_files(
            directory, days, mapping=settings.mapping(),
            pipeline_start=settings.data.start_timestamp(), now=settings.data.current_time(),
            known=known)
        return checked.accepted, checked.quarantine, checked.arrived, checked.export_ends
    files = day_files(directory)
    present = {day: str(path) for day, path in files.items() if day in days}
    accepted, quarantine = check_event_days_on_spark(
        engine.spark_session(), days, present,
        directory_name=directory.name, mapping=settings.mapping(),
        pipeline_start=settings.data.start_timestamp(), now=settings.data.current_time(),
        known_accounts=known, events_dir=storage.partition_dir("events"),
        quarantine_dir=storage.partition_dir("events_quarantine"))
    arrived = {pd.Timestamp(day, tz="UTC") for day, rows in accepted.rows.items() if rows}
    return accepted, quarantine, arrived, last_day_file(files)


def _events_arrived(window, arrived: set[pd.Timestamp],
                    export_ends: pd.Timestamp) -> AssetCheckResult:
    days = pd.date_range(pd.Timestamp(window.start), pd.Timestamp(window.end), freq="D",
                         inclusive="left")
    empty = days_without_events(days, arrived)
    last = f"{days[-1]:%Y-%m-%d}"
    return AssetCheckResult(
        check_name="events_arrived", asset_key="events", passed=last not in empty,
        severity=AssetCheckSeverity.ERROR,
        description=(f"no events for {last} in the export yet" if last in empty else None),
        metadata={"last_day": last, "days_without_events": ", ".join(empty[:30]) or "none",
                  "latest_event_in_export": str(export_ends)})


@asset(group_name=GROUP, deps=[source_files])
def events_unplaceable(settings: AccountHealthSettings) -> pd.DataFrame:
    """Quarantine of event rows no day can hold: missing, unparseable or future times."""
    path = settings.table_file("events")
    if path is None:
        raise Failure(f"required table 'events' not found in {settings.data_dir}")
    if path.is_dir():  # a day file's unplaceable rows are quarantined with its day
        return empty_quarantine()
    frame = read_table(path, "events", settings.mapping())
    return unplaceable_events(frame, event_times(frame), source_file=path.name,
                              pipeline_start=settings.data.start_timestamp(),
                              now=settings.data.current_time())
