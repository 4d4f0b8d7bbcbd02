"""`account-health check-data DIR`: what the pipeline will make of an export, before it runs.

Per table: rows, date range, the columns found and mapped, the share of rows that would be
quarantined and why; descriptive values outside the documented sets with the mapping lines
to paste; the export's event names with their volumes; how many walk-forward folds the
history allows. Anything that would stop the run is a problem, and the command exits
non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from features.contract import CONTRACT, REQUIRED_TABLES, ContractError, day_files, read_table
from features.event_vocabulary import top_event_names
from features.row_checks import (
    check_table,
    event_times,
    export_account_ids,
    label_warnings,
    quarantine_stop,
    reason_kind,
    unplaceable_events,
)
from features.training_set import too_little_history, training_as_of_dates
from models.walk_forward import NotEnoughHistory, adaptive_folds
from pipelines.resources import AccountHealthSettings

#: The column that dates each table's rows.
DATE_COLUMNS = {"accounts": "signup_date", "subscriptions": "start_date",
                "events": "event_time", "invoices": "issued_at",
                "support_tickets": "opened_at", "nps_responses": "responded_at",
                "cs_activities": "performed_at"}


@dataclass
class DataCheck:
    """The report's lines, and the problems that would stop the run (empty: it can run)."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_data(settings: AccountHealthSettings) -> DataCheck:
    """Check the export in ``settings.data_dir`` against the contract and the settings."""
    check = DataCheck()
    mapping = settings.mapping()
    frames: dict[str, pd.DataFrame] = {}
    left_out = []
    for table, spec in CONTRACT.items():
        try:
            frames[table] = _read(settings, table)
        except ContractError as exc:
            (check.problems if spec.required else left_out).append(f"{table}: {exc}")
        except FileNotFoundError:
            if spec.required:
                check.problems.append(
                    f"{table}: not found in {settings.data_dir}; expected {table}.csv, "
                    f"{table}.parquet" + (" or events/<day> files" if table == "events" else ""))
            else:
                left_out.append(f"{table}: absent (optional; its features are left out)")
    # as ingestion does: a row's account must be in the accounts table, or without one, in
    # the subscriptions
    in_accounts = export_account_ids(frames["accounts"]) if "accounts" in frames else None
    parents = in_accounts if in_accounts is not None else (
        export_account_ids(frames["subscriptions"]) if "subscriptions" in frames else None)
    summaries, quarantines, warnings = [], [], []
    for table, frame in frames.items():
        known = {"accounts": None, "subscriptions": in_accounts}.get(table, parents)
        result, quarantine = _validate(settings, table, frame, known)
        mapped = mapping.columns.get(table, {})
        dates = _date_range(frame, table)
        check.lines.append(
            f"{table}: {len(frame):,} rows{dates}; columns "
            + ", ".join(c for c in frame.columns if c != "source_row")
            + (f" (mapped: {', '.join(f'{a} -> {b}' for a, b in mapped.items())})"
               if mapped else ""))
        share = len(quarantine) / max(len(frame), 1)
        if len(quarantine):
            kinds = reason_kind(quarantine["reason"].reset_index(drop=True)).value_counts()
            check.lines.append(f"  {len(quarantine):,} rows ({share:.1%}) would be "
                               "quarantined: " + "; ".join(f"{k} ×{n:,}"
                                                           for k, n in kinds.head(4).items()))
        summaries.append({"table": table, "input_rows": len(frame),
                          "quarantined_rows": len(quarantine), "quarantine_rate": share})
        quarantines.append(quarantine)
        warnings.append(label_warnings(table, result.accepted))
    if quarantines:
        stop = quarantine_stop(pd.DataFrame(summaries), pd.concat(quarantines),
                               limit=settings.max_required_quarantine_share,
                               tables=REQUIRED_TABLES)
        if stop:
            check.problems.append(stop)
    kept = pd.concat(warnings, ignore_index=True) if warnings else pd.DataFrame()
    if len(kept):
        check.lines.append("descriptive values kept as given (documented values differ); to "
                           "map one, add its line to mapping.yaml:")
        check.lines += [f"  {w.table}.{w.column} '{w.value}' on {w.rows:,} rows: "
                        f"{w.mapping_line}" for w in kept.itertuples()]
    check.lines += left_out
    if "events" in frames:
        _events(check, settings, frames["events"])
    return check


def _read(settings: AccountHealthSettings, table: str) -> pd.DataFrame:
    path = settings.table_file(table)
    if path is None:
        raise FileNotFoundError(table)
    if path.is_dir():
        parts = [read_table(file, table, settings.mapping())
                 for file in day_files(path).values()]
        if not parts:
            raise ContractError(f"{path.name}/ holds no day files")
        frame = pd.concat(parts, ignore_index=True)
        frame["source_row"] = range(1, len(frame) + 1)
        return frame
    return read_table(path, table, settings.mapping())


def _validate(settings: AccountHealthSettings, table: str, frame: pd.DataFrame,
              known: pd.Index | None):
    """(validation result, every quarantined row) as ingestion would make them."""
    now = settings.current_time()
    if table != "events":
        result = check_table(table, frame, source_file=table, now=now, known_accounts=known,
                                reporting_currency=settings.mapping().reporting_currency)
        return result, result.quarantine
    times = event_times(frame)
    unplaceable = unplaceable_events(frame, times, source_file=table,
                                     pipeline_start=settings.start_timestamp(), now=now)
    placeable = ~frame["source_row"].isin(unplaceable["source_row"])
    result = check_table(table, frame[placeable], source_file=table, now=now,
                            known_accounts=known)
    return result, pd.concat([unplaceable, result.quarantine], ignore_index=True)


def _date_range(frame: pd.DataFrame, table: str) -> str:
    column = DATE_COLUMNS.get(table)
    if column not in frame.columns:
        return ""
    times = event_times(frame.rename(columns={column: "event_time"}))
    if times.notna().sum() == 0:
        return ""
    return f", {times.min():%Y-%m-%d} to {times.max():%Y-%m-%d}"


def _events(check: DataCheck, settings: AccountHealthSettings, frame: pd.DataFrame) -> None:
    """Event names and volumes, the start date the export needs, and the folds it allows."""
    counted = frame.assign(n=pd.to_numeric(frame["event_count"], errors="coerce").fillna(1)
                           if "event_count" in frame else 1)
    volumes = (counted.groupby(counted["event_name"].astype(str))
               .agg(events=("n", "sum"), accounts=("account_id", "nunique"))
               .sort_values(["accounts", "events"], ascending=False))
    tracked = settings.mapping().event_taxonomy.tracked_events or top_event_names(
        counted.assign(event_name=counted["event_name"].astype(str))
        [["account_id", "event_name"]])
    check.lines.append(f"event names ({len(volumes)}; per-event features for "
                       f"{', '.join(tracked)}):")
    check.lines += [f"  {name}: {row.events:,.0f} events, {row.accounts:,} accounts"
                    for name, row in volumes.head(20).iterrows()]
    times = event_times(frame).dropna()
    if times.empty:
        check.problems.append("events: no event has a valid event_time")
        return
    first, last = times.min(), times.max()
    start = settings.start_timestamp()
    if last < start:
        check.problems.append(
            f"events: every event_time is before the pipeline start {start:%Y-%m-%d} (the "
            f"data runs {first:%Y-%m-%d} to {last:%Y-%m-%d}); unset "
            "ACCOUNT_HEALTH_START_DATE, or set it on or before the first day you want")
        return
    if first < start:
        check.lines.append(
            f"events start {first:%Y-%m-%d}, before the pipeline start {start:%Y-%m-%d}: "
            + (f"earlier events are quarantined unless you set ACCOUNT_HEALTH_START_DATE="
               f"{first:%Y-%m-%d}" if settings.pipeline_start_date else
               "earlier times are taken as broken clocks and quarantined"))
        first = start
    last_day = min(last, settings.current_time()).tz_localize(None).normalize()
    dates = training_as_of_dates(first.tz_localize(None), last_day,
                                 horizon_days=settings.horizon_days,
                                 cadence_days=settings.training_cadence_days)
    if dates.empty:
        check.problems.append(too_little_history(first.tz_localize(None), last_day,
                                                 horizon_days=settings.horizon_days))
        return
    try:
        folds = adaptive_folds(dates, max_folds=settings.n_folds,
                               horizon_days=settings.horizon_days,
                               min_train_dates=settings.min_training_dates,
                               spacing_days=settings.fold_spacing_days)
    except NotEnoughHistory as exc:
        check.problems.append(f"history {first:%Y-%m-%d} to {last_day:%Y-%m-%d}: {exc}")
        return
    check.lines.append(
        f"history {first:%Y-%m-%d} to {last_day:%Y-%m-%d}: {len(dates)} training dates every "
        f"{settings.training_cadence_days} days, {len(folds)} walk-forward folds (origins "
        + ", ".join(f"{f.origin:%Y-%m-%d}" for f in folds) + ")")


def format_check(check: DataCheck) -> str:
    """The report as text, problems last."""
    text = "\n".join(check.lines)
    if check.problems:
        text += "\n\nwhat would stop the run:\n" + "\n".join(f"- {p}" for p in check.problems)
    else:
        text += "\n\nno problems: the export can run"
    return text
