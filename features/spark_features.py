"""The daily rollup and snapshots computed on Spark with the local engine's definitions.

Spark reads the usage inputs (validated events and daily rollups, from local paths or
``s3a://`` URLs), sends each account's rows to the task of its account group, and each task
runs ``daily_rollup`` or ``compute_snapshots`` for its group's accounts. Every feature is
computed from one account's own rows, so a group's rows are those the whole-table
computation gives for its accounts: there is one definition of each feature, whichever
engine runs it.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from features.contract import ActivityTaxonomy, EventTaxonomy
from features.parquet_files import write_parquet_atomic
from features.snapshot import (
    compute_snapshots,
    empty_snapshot,
    feature_groups_for,
    snapshot_schema,
)
from features.spark_frames import (
    RESULT_SCHEMA,
    StoredDays,
    bytes_frame,
    collect_parts,
    fill_missing_days,
    frame_bytes,
    result_rows,
    run_per_file,
    unsigned_from_signed,
)
from features.usage_rollup import ROLLUP_COLUMNS, daily_rollup

#: Accounts per Spark task: enough that a task's fixed cost is small beside its work.
ACCOUNTS_PER_GROUP = 2_000
#: Session settings the Spark engine needs: the validated tables keep pandas' nanosecond
#: timestamps, which Spark reads only as integers (converted back in each task).
SPARK_CONF = {"spark.sql.legacy.parquet.nanosAsLong": "true",
              "spark.sql.session.timeZone": "UTC"}
#: Event columns usage features read (``event_count`` when the export has it).
EVENT_COLUMNS = ["account_id", "user_id", "event_name", "event_time", "event_count"]


def account_groups(account_ids: pd.Series, parallelism: int,
                   accounts_per_group: int = ACCOUNTS_PER_GROUP) -> pd.DataFrame:
    """Each account's group (``account_id``, ``group``): at least one group per core,
    otherwise about ``accounts_per_group`` accounts each, dealt round-robin over the sorted
    ids so groups are alike in size."""
    ids = np.sort(pd.unique(account_ids.astype(str)))
    n_groups = max(parallelism, -(-len(ids) // accounts_per_group), 1)
    return pd.DataFrame({"account_id": ids, "group": np.arange(len(ids)) % n_groups})


def compute_snapshots_on_spark(
    spark,
    as_of_dates: pd.DatetimeIndex,
    *,
    event_files: Sequence[str],
    rollup_files: Sequence[str],
    subscriptions: pd.DataFrame,
    accounts: pd.DataFrame | None = None,
    invoices: pd.DataFrame | None = None,
    support_tickets: pd.DataFrame | None = None,
    nps_responses: pd.DataFrame | None = None,
    cs_activities: pd.DataFrame | None = None,
    taxonomy: EventTaxonomy | None = None,
    activity_taxonomy: ActivityTaxonomy | None = None,
    accounts_per_group: int = ACCOUNTS_PER_GROUP,
    output_dir: str | None = None,
) -> pd.DataFrame | StoredDays:
    """``features.snapshot.compute_snapshots`` on Spark: the same rows, in the same order
    (as-of date, then account id), from the same event and rollup files.

    With ``output_dir``, the executors write each as-of date's rows to
    ``<output_dir>/<YYYY-MM-DD>.parquet`` themselves (an empty file for a date without
    rows), as the local engine's IO manager stores them, and only counts come back: the
    driver never holds a backfill's snapshots.
    """
    from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

    groups = account_groups(subscriptions["account_id"],
                            spark.sparkContext.defaultParallelism, accounts_per_group)
    group_of = spark.createDataFrame(groups)
    anchors = spark.createDataFrame(groups.drop_duplicates("group")[["group"]])

    usage = anchors.withColumn("account_id", F.lit(None).cast("string"))
    if event_files:
        usage = usage.unionByName(
            _read_events(spark, event_files).join(F.broadcast(group_of), "account_id"),
            allowMissingColumns=True)
    if rollup_files:
        rollups = (spark.read.parquet(*rollup_files)
                   # UINT64 arrives as decimal(20,0); shifted into a long (see
                   # unsigned_from_signed)
                   .withColumn("user_key", F.expr(f"CAST(user_key - {1 << 63}BD AS BIGINT)"))
                   .join(F.broadcast(group_of), "account_id"))
    else:
        rollups = spark.createDataFrame([], "group long, account_id string")

    tables = {"subscriptions": subscriptions, "accounts": accounts, "invoices": invoices,
              "support_tickets": support_tickets, "nps_responses": nps_responses,
              "cs_activities": cs_activities}
    account_group = groups.set_index("account_id")["group"]
    dates = pd.DatetimeIndex(as_of_dates)

    def snapshot_of_group(usage_rows: pd.DataFrame, rollup_rows: pd.DataFrame) -> pd.DataFrame:
        group = int(usage_rows["group"].iloc[0] if len(usage_rows)
                    else rollup_rows["group"].iloc[0])
        members = account_group.index[account_group.to_numpy() == group]
        own = {name: None if table is None
               else table[table["account_id"].astype(str).isin(members)]
               for name, table in tables.items()}
        event_rows = usage_rows[usage_rows["account_id"].notna()]
        # no rows: the roll-up of stored rollups alone, as for a local run without events
        events = _event_frame(event_rows) if len(event_rows) else []
        snapshot = compute_snapshots(
            dates, events=events, taxonomy=taxonomy, activity_taxonomy=activity_taxonomy,
            usage_rollups=_rollup_frame(rollup_rows), **own)
        if output_dir is None:
            return result_rows(f"{group:08d}", {"snapshot": snapshot})
        # one part per as-of date, sent on to the task that writes that date's file
        days = snapshot["as_of_date"].dt.strftime("%Y-%m-%d")
        return pd.DataFrame([(day, f"{group:08d}", frame_bytes(rows))
                             for day, rows in snapshot.groupby(days, sort=True)],
                            columns=["group", "part", "payload"])

    snapshots = (usage.groupBy("group").cogroup(rollups.groupBy("group"))
                 .applyInPandas(snapshot_of_group, RESULT_SCHEMA))
    if output_dir is None:
        snapshot = pd.concat(collect_parts(snapshots.toPandas())["snapshot"],
                             ignore_index=True)
        return snapshot.sort_values(["as_of_date", "account_id"], kind="stable",
                                    ignore_index=True)
    groups_present = feature_groups_for(
        {"events", "subscriptions"} | {name for name, table in tables.items()
                                       if table is not None})
    schema = snapshot_schema(groups_present)
    # with pandas' metadata, so an empty day reads back with the columns' pandas types
    empty_schema = pa.Table.from_pandas(empty_snapshot(groups_present), schema=schema,
                                        preserve_index=False).schema
    return _write_days(snapshots, dates, output_dir, schema, empty_schema)


def _write_days(parts, dates: pd.DatetimeIndex, output_dir: str, schema: pa.Schema,
                empty_schema: pa.Schema) -> StoredDays:
    """Each date's parts (``RESULT_SCHEMA`` rows keyed by the date) gathered in one task,
    put in account order and written to ``<output_dir>/<date>.parquet``; counts back."""
    directory = Path(output_dir)

    def write_day(rows: pd.DataFrame) -> pd.DataFrame:
        day = rows["group"].iloc[0]
        frame = pd.concat([bytes_frame(payload) for payload in rows["payload"]],
                          ignore_index=True).sort_values("account_id", kind="stable",
                                                         ignore_index=True)
        write_parquet_atomic(pa.Table.from_pandas(frame, schema=schema, preserve_index=False),
                             directory / f"{day}.parquet")
        counts = pd.DataFrame([{
            "day": day, "rows": len(frame),
            "duplicate_keys": int(frame.duplicated(["account_id", "as_of_date"]).sum()),
            "rows_missing_billing": int(frame[["mrr", "plan"]].isna().any(axis=1).sum())}])
        return result_rows(day, {"counts": counts})

    written = collect_parts(parts.groupBy("group").applyInPandas(write_day, RESULT_SCHEMA)
                            .toPandas())
    counts = pd.concat(written.get("counts", []) or [pd.DataFrame(
        columns=["day", "rows", "duplicate_keys", "rows_missing_billing"])], ignore_index=True)
    stored = fill_missing_days(directory, [f"{day:%Y-%m-%d}" for day in dates],
                               dict(zip(counts["day"], counts["rows"], strict=True)),
                               empty_schema)
    return dataclasses.replace(stored, duplicate_keys=int(counts["duplicate_keys"].sum()),
                               rows_missing_billing=int(counts["rows_missing_billing"].sum()))


def daily_rollup_on_spark(spark, days: pd.DatetimeIndex, event_files: dict[pd.Timestamp, str],
                          taxonomy: EventTaxonomy, output_dir: str) -> StoredDays:
    """``features.usage_rollup.daily_rollup`` on Spark, a task per validated event day file
    (a day's rollup reads that day's events only), each writing
    ``<output_dir>/<YYYY-MM-DD>.parquet`` itself; a day of ``days`` without events gets an
    empty file. Rows per day come back."""
    directory = Path(output_dir)
    day_of = {str(path): day for day, path in event_files.items()}

    def roll_up_day(path: str, content: bytes) -> dict[str, pd.DataFrame]:
        with tempfile.TemporaryDirectory() as scratch:  # daily_rollup reads files
            copy = Path(scratch) / "events.parquet"
            copy.write_bytes(content)
            rollup = daily_rollup([copy], taxonomy)
        day = f"{day_of[path]:%Y-%m-%d}"
        write_parquet_atomic(rollup, directory / f"{day}.parquet")
        return {"counts": pd.DataFrame({"day": [day], "rows": [len(rollup)]})}

    parts = run_per_file(spark, list(event_files.values()), roll_up_day)
    counts = pd.concat(parts.get("counts", []) or [pd.DataFrame(columns=["day", "rows"])],
                       ignore_index=True)
    return fill_missing_days(
        directory, [f"{day:%Y-%m-%d}" for day in days],
        dict(zip(counts["day"], counts["rows"], strict=True)),
        pa.Schema.from_pandas(daily_rollup([], taxonomy), preserve_index=False))


def _read_events(spark, event_files: Sequence[str]):
    """The usage columns of validated event files as a Spark DataFrame."""
    events = spark.read.parquet(*event_files)
    return events.select(*[c for c in EVENT_COLUMNS if c in events.columns])


def _event_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """A task's event rows with the types the local engine reads them in."""
    frame = rows[[c for c in EVENT_COLUMNS if c in rows.columns]].copy()
    if frame["event_time"].dtype.kind in "iuf":  # nanoseconds (see SPARK_CONF)
        frame["event_time"] = pd.to_datetime(frame["event_time"], unit="ns", utc=True)
    if "event_count" in frame:
        frame["event_count"] = frame["event_count"].astype("Int64")
    return frame


def _rollup_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """A task's rollup rows with the types ``daily_rollup`` stored them in."""
    if not len(rows):
        return pd.DataFrame(columns=ROLLUP_COLUMNS)
    frame = rows[[c for c in ROLLUP_COLUMNS if c in rows.columns]].copy()
    frame["user_key"] = unsigned_from_signed(frame["user_key"])
    return frame
