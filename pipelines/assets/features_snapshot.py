"""Features layer: the tracked event names, the daily usage rollups and the daily account
snapshot."""

from functools import partial

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    MetadataValue,
    Output,
    TimeWindowPartitionMapping,
    asset,
)

from features.event_vocabulary import top_event_names
from features.snapshot import (
    EVENT_LOOKBACK_DAYS,
    compute_snapshots,
)
from features.spark_features import compute_snapshots_on_spark, daily_rollup_on_spark
from features.usage_rollup import current_sources, daily_rollup
from pipelines.engine import ComputeEngine
from pipelines.partitions import daily_partitions, run_days
from pipelines.resources import AccountHealthSettings
from pipelines.storage import AssetStorage

GROUP = "features"


@asset(group_name=GROUP, deps=["events"])
def event_vocabulary(context: AssetExecutionContext, settings: AccountHealthSettings,
                     storage: AssetStorage) -> pd.DataFrame:
    """The event names that get usage features of their own (``event_1_*`` ...): the
    mapping's ``tracked_events``, or the export's names used by the most accounts. Chosen
    once per data directory and then kept, so ``event_k`` means the same name in every
    snapshot and model; delete ``assets/event_vocabulary.parquet`` to choose again."""
    explicit = settings.mapping().event_taxonomy.tracked_events
    previous = storage.stored("event_vocabulary")  # this asset's own previous value
    if explicit:
        names, source = list(explicit), "mapping.yaml tracked_events"
    elif previous is not None and len(previous) and (
            "data_dir" not in previous or (previous["data_dir"] == settings.data_dir).all()):
        names, source = list(previous["event_name"]), "kept from the first run on this data"
    else:
        files = sorted(storage.partition_dir("events").glob("*.parquet"))
        names, source = top_event_names(files), "most widely used in the export"
    context.add_output_metadata({"source": source, "events": ", ".join(names) or "none"})
    return pd.DataFrame({"slot": [f"event_{k}" for k in range(1, len(names) + 1)],
                         "event_name": names, "data_dir": settings.data_dir})


@asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_column": "day"},
    deps=["events"],
)
def usage_rollup(context: AssetExecutionContext, settings: AccountHealthSettings,
                 storage: AssetStorage,
                 engine: ComputeEngine, event_vocabulary: pd.DataFrame | None) -> Output:
    """Each day's validated events per account, user and day (counts by kind, core features
    and tracked event names used): the rolling-window state usage features read instead of
    90 days of raw events."""
    days = run_days(context)
    taxonomy = settings.event_taxonomy(event_vocabulary)
    files = {day: path for day in days if (path := storage.asset_file("events", day)).exists()}
    if engine.on_spark:  # the executors write the day files
        rollup = daily_rollup_on_spark(
            engine.spark_session(), days, {day: str(path) for day, path in files.items()},
            taxonomy, output_dir=str(storage.partition_dir("usage_rollup")))
        rows = rollup.total_rows
    else:
        rollup = daily_rollup(list(files.values()), taxonomy)
        rows = len(rollup)
    # an Output, not an annotated frame: with the spark engine it carries StoredDays
    return Output(rollup, metadata={"rows": rows, "event_files": len(files)})


@asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_column": "as_of_date"},
    # Usage comes from the lookback's daily rollups (or, for a day without a current one, its
    # validated events), read straight from their day files by DuckDB, not through pandas.
    deps=[*(AssetDep(name, partition_mapping=TimeWindowPartitionMapping(
        start_offset=-EVENT_LOOKBACK_DAYS, allow_nonexistent_upstream_partitions=True))
        for name in ("events", "usage_rollup")),
        # stops here when a required table was mostly quarantined
        "quarantine_report"],
    ins={
        "subscriptions": AssetIn(), "accounts": AssetIn(), "invoices": AssetIn(),
        "support_tickets": AssetIn(), "nps_responses": AssetIn(), "cs_activities": AssetIn(),
        "event_vocabulary": AssetIn(),
    },
    # checked on the days the run computes: re-reading every day's file each morning would
    # make the daily run grow with the length of history
    check_specs=[AssetCheckSpec(
        "snapshot_unique_and_complete", asset="account_snapshot",
        description="Snapshot is complete: one row per account and day, no key gaps")],
)
def account_snapshot(context: AssetExecutionContext, settings: AccountHealthSettings,
                     storage: AssetStorage, engine: ComputeEngine, subscriptions: pd.DataFrame,
                     accounts: pd.DataFrame | None, invoices: pd.DataFrame | None,
                     support_tickets: pd.DataFrame | None,
                     nps_responses: pd.DataFrame | None, cs_activities: pd.DataFrame | None,
                     event_vocabulary: pd.DataFrame | None):
    """One row per active account and day with point-in-time features (see features/);
    with the spark engine, computed on Spark by the same definitions."""
    dates = run_days(context)
    taxonomy = settings.event_taxonomy(event_vocabulary)
    lookback = pd.date_range(dates[0] - pd.Timedelta(days=EVENT_LOOKBACK_DAYS), dates[-1])
    event_files, rollup_files = current_sources(
        lookback, partial(storage.asset_file, "events"),
        partial(storage.asset_file, "usage_rollup"), taxonomy)
    tables = {"subscriptions": subscriptions, "accounts": accounts, "invoices": invoices,
              "support_tickets": support_tickets, "nps_responses": nps_responses,
              "cs_activities": cs_activities}
    activity_taxonomy = settings.mapping().activity_taxonomy
    if engine.on_spark:  # the executors write the day files (features.spark_features)
        snapshot = compute_snapshots_on_spark(
            engine.spark_session(), dates, event_files=[str(f) for f in event_files],
            rollup_files=[str(f) for f in rollup_files], taxonomy=taxonomy,
            activity_taxonomy=activity_taxonomy,
            output_dir=str(storage.partition_dir("account_snapshot")), **tables)
        rows, duplicates = snapshot.total_rows, snapshot.duplicate_keys
        missing_billing = snapshot.rows_missing_billing
    else:
        snapshot = compute_snapshots(dates, events=event_files, usage_rollups=rollup_files,
                                     taxonomy=taxonomy, activity_taxonomy=activity_taxonomy,
                                     **tables)
        rows = len(snapshot)
        duplicates = int(snapshot.duplicated(["account_id", "as_of_date"]).sum())
        missing_billing = int(snapshot[["mrr", "plan"]].isna().any(axis=1).sum())
    yield Output(snapshot, metadata={
        "days_read_from_rollups": len(rollup_files), "days_read_from_events": len(event_files),
        "accounts_per_day": MetadataValue.float(rows / max(len(dates), 1)),
    })
    yield AssetCheckResult(
        check_name="snapshot_unique_and_complete", asset_key="account_snapshot",
        passed=duplicates == 0 and missing_billing == 0,
        metadata={"rows": rows, "duplicate_keys": duplicates,
                  "rows_missing_billing": missing_billing})
