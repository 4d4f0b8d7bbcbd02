"""Raw layer: the exports found, validated row by row and stored; what was quarantined
and why."""

import functools
import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    BackfillPolicy,
    Failure,
    MetadataValue,
    Output,
    asset,
    multi_asset,
)

from features.contract import (
    CONTRACT,
    REQUIRED_TABLES,
    ContractError,
    ContractMapping,
    day_files,
    read_table,
)
from features.row_checks import (
    LABEL_WARNING_COLUMNS,
    RowCheckResult,
    check_event_day,
    check_table,
    describe_quarantine,
    empty_quarantine,
    event_times,
    export_account_ids,
    label_warnings,
    quarantine_stop,
    reason_kind,
    unplaceable_events,
)
from features.spark_frames import StoredDays
from features.spark_ingestion import check_event_days_on_spark
from pipelines.engine import ComputeEngine
from pipelines.io_manager import partition_days
from pipelines.partitions import daily_partitions, run_days
from pipelines.resources import AccountHealthSettings

GROUP = "raw"
#: Where a row's account must exist: the accounts table, or without one, the subscriptions.
PARENT_TABLES = ("accounts", "subscriptions")


def _sha256(path: Path) -> str:
    """Content hash of a file; of a directory of day files, the hash of its listing (names
    and sizes): hashing the whole history's content every morning would undo the point of
    day files."""
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(path.iterdir()):
            digest.update(f"{file.name}\t{file.stat().st_size}\n".encode())
        return digest.hexdigest()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _count_rows(path: Path) -> int:
    if path.is_dir():
        # a day file that cannot be read fails the run of its own day, not every run
        return sum(_count_rows(file) for file in path.iterdir()
                   if file.suffix != ".parquet" or _readable_parquet(file))
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    with path.open("rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


def _readable_parquet(path: Path) -> bool:
    try:
        pq.ParquetFile(path)
    except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
        return False
    return True


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir()) if path.is_dir() else path.stat().st_size


@asset(group_name=GROUP)
def source_files(context: AssetExecutionContext, settings: AccountHealthSettings) -> pd.DataFrame:
    """Inventory of the data directory: which contract tables are present, their size and hash.

    Fails the run when a required table is missing or ambiguous.
    """
    rows = []
    for table, spec in CONTRACT.items():
        try:
            path = settings.table_file(table)
        except ContractError as exc:
            raise Failure(str(exc)) from exc
        if path is None and spec.required:
            raise Failure(
                f"required table '{table}' not found in {settings.data_dir}: expected "
                f"{table}.csv or {table}.parquet (see docs/data-contract.md)")
        rows.append({
            "table": table, "required": spec.required, "present": path is not None,
            "file": path.name if path else None,
            "rows": _count_rows(path) if path else 0,
            "bytes": _size(path) if path else 0,
            "sha256": _sha256(path) if path else None,
        })
    inventory = pd.DataFrame(rows)
    context.add_output_metadata({
        "data_dir": settings.data_dir,
        "tables": MetadataValue.md(inventory.drop(columns="sha256").to_markdown(index=False)),
    })
    return inventory


def _validate_file(settings: AccountHealthSettings, table: str,
                   known: pd.Index | None) -> tuple[RowCheckResult | None, str]:
    """Validated table, or None with the reason when an optional table is absent/unreadable."""
    path = settings.table_file(table)
    if path is None:
        return None, "absent"
    mapping = settings.mapping()
    try:
        frame = read_table(path, table, mapping)
    except ContractError as exc:
        if CONTRACT[table].required:
            raise Failure(str(exc)) from exc
        return None, f"unreadable, left out: {exc}"
    result = check_table(table, frame, source_file=path.name, now=settings.current_time(),
                            known_accounts=known, reporting_currency=mapping.reporting_currency)
    return result, "present"


def _parent_account_ids(settings: AccountHealthSettings,
                        tables: tuple[str, ...]) -> pd.Index | None:
    """Account ids of the first of ``tables`` in the export, read as written: a dependant
    row is quarantined only when its account is nowhere in that table, never because the
    account's own row was rejected. None when none of the tables can be read."""
    mapping = settings.mapping()
    for table in tables:
        path = settings.table_file(table)
        if path is None:
            continue
        try:
            stat = path.stat()
            return _account_ids_of(str(path), stat.st_mtime_ns, stat.st_size, table,
                                   mapping.model_dump_json())
        except ContractError:
            continue
    return None


@functools.lru_cache(maxsize=4)
def _account_ids_of(path: str, modified_ns: int, size: int, table: str,
                    mapping_json: str) -> pd.Index:
    """The ids of one export file, read once per file version and mapping in a process:
    every table's ingestion asks for them."""
    mapping = ContractMapping.model_validate_json(mapping_json)
    return export_account_ids(read_table(Path(path), table, mapping))


def _outputs(table: str, result: RowCheckResult | None, status: str):
    quarantine = result.quarantine if result is not None else empty_quarantine()
    meta = {"status": status, "accepted_rows": 0 if result is None else len(result.accepted),
            "quarantined_rows": len(quarantine)}
    if len(quarantine):
        meta["examples"] = MetadataValue.md("\n".join(f"- {line}" for line in
                                                      describe_quarantine(quarantine, 10)))
    yield Output(None if result is None else result.accepted, output_name=table, metadata=meta)
    yield Output(quarantine, output_name=f"{table}_quarantine",
                 metadata={"rows": len(quarantine)})


def _table_outs(table: str) -> dict[str, AssetOut]:
    return {
        table: AssetOut(description=f"Validated {table} (contract columns, typed, deduplicated)"),
        f"{table}_quarantine": AssetOut(description=f"Rejected {table} rows with reasons"),
    }


@multi_asset(outs=_table_outs("accounts"), group_name=GROUP, deps=[source_files])
def accounts(settings: AccountHealthSettings):
    """Accounts (optional): segment, industry, signup date, CSM owner."""
    result, status = _validate_file(settings, "accounts", None)
    yield from _outputs("accounts", result, status)


@multi_asset(outs=_table_outs("subscriptions"), group_name=GROUP, deps=["accounts"])
def subscriptions(settings: AccountHealthSettings):
    """Subscriptions (required): plans, MRR, seats and their start and end dates."""
    result, status = _validate_file(settings, "subscriptions",
                                    _parent_account_ids(settings, ("accounts",)))
    yield from _outputs("subscriptions", result, status)


def _optional_table_asset(table: str, description: str):
    @multi_asset(name=f"{table}_ingestion", outs=_table_outs(table), group_name=GROUP,
                 deps=["accounts", "subscriptions"], description=description)
    def _ingest(settings: AccountHealthSettings):
        result, status = _validate_file(settings, table,
                                        _parent_account_ids(settings, PARENT_TABLES))
        yield from _outputs(table, result, status)

    return _ingest


invoices = _optional_table_asset("invoices", "Invoices (optional): payments, late and failed.")
support_tickets = _optional_table_asset("support_tickets", "Support tickets (optional).")
nps_responses = _optional_table_asset("nps_responses", "NPS survey responses (optional).")
cs_activities = _optional_table_asset(
    "cs_activities", "Customer-success activities (optional): outreach and holdouts of flagged "
    "accounts, for measuring whether interventions work.")


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
           engine: ComputeEngine):
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
        known = _parent_account_ids(settings, PARENT_TABLES)
        if path.is_dir():
            accepted, quarantine, arrived, export_ends = _from_day_files(
                path, run_days(context), settings, known, engine)
        else:
            accepted, quarantine, arrived, export_ends = _from_export(
                path, window, settings, known)
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


def _days_of(times: pd.Series) -> set[pd.Timestamp]:
    return set(times.dt.floor("D").dropna().unique())


def _from_export(path: Path, window, settings: AccountHealthSettings, known: pd.Index):
    """The window's rows of a whole export: (accepted, quarantine, days with accepted
    events, last time)."""
    frame = read_table(path, "events", settings.mapping())
    now = settings.current_time()
    times = event_times(frame)
    in_window = ((times >= pd.Timestamp(window.start)) & (times < pd.Timestamp(window.end))
                 & (times <= now) & (times >= settings.start_timestamp()))
    result = check_table("events", frame[in_window], source_file=path.name, now=now,
                            known_accounts=known)
    quarantine = result.quarantine.copy()
    rows = quarantine["source_row"].to_numpy() - 1
    # iloc keeps the times as datetimes; to_numpy() would box 4.6M of them as objects
    quarantine["partition_date"] = partition_days(
        times.iloc[rows].reset_index(drop=True)).to_numpy()
    return (result.accepted, quarantine, _days_of(result.accepted["event_time"]),
            times[times <= now].max())


def _from_day_files(directory: Path, days: pd.DatetimeIndex, settings: AccountHealthSettings,
                    known: pd.Index, engine: ComputeEngine):
    """The day files of ``days``, each checked by ``check_event_day``: (accepted,
    quarantine, days with accepted events, last day present). With the spark engine the
    executors store each day's rows, and accepted and quarantine are ``StoredDays``."""
    files = day_files(directory)
    now = settings.current_time()
    present = {day: files[day] for day in days if day in files}
    export_ends = max(files).tz_localize("UTC") if files else pd.NaT
    if engine.on_spark:
        accepted, quarantine = check_event_days_on_spark(
            engine.spark_session(), days, {day: str(path) for day, path in present.items()},
            directory_name=directory.name, mapping=settings.mapping(),
            pipeline_start=settings.start_timestamp(), now=now, known_accounts=known,
            events_dir=settings.partition_dir("events"),
            quarantine_dir=settings.partition_dir("events_quarantine"))
        arrived = {pd.Timestamp(day, tz="UTC") for day, rows in accepted.rows.items() if rows}
        return accepted, quarantine, arrived, export_ends
    results = [check_event_day(read_table(path, "events", settings.mapping()), day,
                               source_file=f"{directory.name}/{path.name}",
                               pipeline_start=settings.start_timestamp(), now=now,
                               known_accounts=known)
               for day, path in present.items()]
    accepted = [result.accepted for result in results]
    quarantines = [result.quarantine for result in results]
    if not accepted:  # none of the days has a file yet
        nothing = pd.DataFrame(columns=["source_row", *CONTRACT["events"].columns])
        accepted = [check_table("events", nothing, source_file=directory.name, now=now,
                                known_accounts=known).accepted]
        quarantines = [empty_quarantine().assign(partition_date=pd.Series(dtype=str))]
    result = pd.concat(accepted, ignore_index=True)
    return (result, pd.concat(quarantines, ignore_index=True),
            _days_of(result["event_time"]), export_ends)


def _events_arrived(window, arrived: set[pd.Timestamp],
                    export_ends: pd.Timestamp) -> AssetCheckResult:
    days = pd.date_range(pd.Timestamp(window.start), pd.Timestamp(window.end), freq="D",
                         inclusive="left")
    empty = [f"{day:%Y-%m-%d}" for day in days if day not in arrived]
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
                              pipeline_start=settings.start_timestamp(),
                              now=settings.current_time())


QUARANTINE_INPUTS = ["accounts", "subscriptions", "events", "invoices", "support_tickets",
                     "nps_responses", "cs_activities"]
#: Tables with descriptive columns whose values are documented (features.contract).
LABELLED_INPUTS = ["accounts", "support_tickets"]


def summarise_quarantine(inventory: pd.DataFrame, quarantine: pd.DataFrame) -> pd.DataFrame:
    """Per table: input rows, quarantined rows, quarantine rate and the count per reason."""
    counts = quarantine.groupby("table").size()
    summary = inventory.set_index("table")[["present", "rows"]].rename(
        columns={"rows": "input_rows"})
    summary["quarantined_rows"] = counts.reindex(summary.index).fillna(0).astype(int)
    summary["quarantine_rate"] = (summary["quarantined_rows"]
                                  / summary["input_rows"].where(summary["input_rows"] > 0))
    summary["quarantine_rate"] = summary["quarantine_rate"].fillna(0.0)
    if len(quarantine):
        kinds = reason_kind(quarantine["reason"].reset_index(drop=True))
        tables = quarantine["table"].reset_index(drop=True).loc[kinds.index]
        top = (pd.DataFrame({"table": tables.to_numpy(), "kind": kinds.to_numpy()})
               .value_counts().reset_index(name="n"))
        summary["reasons"] = top.groupby("table").apply(
            lambda g: "; ".join(f"{k} ×{n}" for k, n in zip(g["kind"], g["n"], strict=True)),
            include_groups=False).reindex(summary.index).fillna("")
    else:
        summary["reasons"] = ""
    return summary.reset_index()


@asset(
    group_name="raw",
    ins={
        "source_files": AssetIn(),
        "events_unplaceable": AssetIn(),
        **{f"{t}_quarantine": AssetIn() for t in QUARANTINE_INPUTS},
        **{t: AssetIn() for t in LABELLED_INPUTS},
    },
)
def quarantine_report(context: AssetExecutionContext, settings: AccountHealthSettings,
                      source_files: pd.DataFrame, events_unplaceable: pd.DataFrame,
                      **inputs: pd.DataFrame | None) -> pd.DataFrame:
    """Counts and reasons of every quarantined row, and descriptive values kept outside the
    documented sets (warnings with the mapping line that would map them); writes
    reports/quarantine_report.{csv,md} and reports/label_warnings.csv.

    The rows themselves stay in the ``*_quarantine`` assets with their raw values. Stops the
    run when more than ``max_required_quarantine_share`` of a required table was rejected.
    """
    frames = [inputs[f"{t}_quarantine"].drop(columns="partition_date", errors="ignore")
              for t in QUARANTINE_INPUTS]
    everything = pd.concat([*frames, events_unplaceable], ignore_index=True)
    summary = summarise_quarantine(source_files, everything)
    warnings = pd.concat([pd.DataFrame(columns=LABEL_WARNING_COLUMNS)] + [
        label_warnings(t, inputs[t]) for t in LABELLED_INPUTS if inputs[t] is not None],
        ignore_index=True)
    out = settings.reports_dir()
    summary.to_csv(out / "quarantine_report.csv", index=False)
    warnings.to_csv(out / "label_warnings.csv", index=False)
    examples = describe_quarantine(everything, 20)
    markdown = (summary.to_markdown(index=False, floatfmt=".4f")
                + "\n\nExamples:\n" + "\n".join(f"- {line}" for line in examples) + "\n")
    if len(warnings):
        markdown += ("\nKept as given (not a documented value; to map one, add its line to "
                     "mapping.yaml):\n" + "\n".join(
                         f"- {w.table}.{w.column} '{w.value}' on {w.rows:,} rows: "
                         f"{w.mapping_line}" for w in warnings.itertuples()) + "\n")
    (out / "quarantine_report.md").write_text(markdown)
    context.add_output_metadata({"report": MetadataValue.md(markdown),
                                 "quarantined_rows": int(summary["quarantined_rows"].sum()),
                                 "label_warnings": len(warnings)})
    stop = quarantine_stop(summary, everything, limit=settings.max_required_quarantine_share,
                           tables=REQUIRED_TABLES)
    if stop:
        raise Failure(description=stop, metadata={"report": MetadataValue.md(markdown)})
    return summary
