"""`account-health check-data DIR`: what the pipeline will make of an export, before it runs.

Per table: rows, date range, the columns found and mapped, the share of rows that would be
quarantined and why; descriptive values outside the documented sets with the mapping lines
to paste; the export's event names with their volumes; how many walk-forward folds the
history allows. Anything that would stop the run is a problem, and the command exits
non-zero.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.billing import payment_measurement_gaps
from features.contract import (
    CONTRACT,
    REQUIRED_TABLES,
    ContractError,
    day_files,
    read_table,
    read_table_batches,
)
from features.event_vocabulary import top_event_names
from features.row_checks import (
    LABEL_WARNING_COLUMNS,
    check_table,
    event_times,
    export_account_ids,
    label_warnings,
    quarantine_rows,
    quarantine_stop,
    reason_kind,
    run_day_range,
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
    #: First and last UTC day (YYYY-MM-DD) of the events a daily partition can hold, the
    #: last no later than yesterday: the days a run covers. None without such events.
    event_days: tuple[str, str] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


#: What an absent optional table leaves unmeasured, where more than its features.
ABSENT_TABLE_EFFECTS = {
    "cs_activities": "no engagement features (CSM touches, meetings, executive contact), no "
                     "intervention or playbook effects, and no alert escalates",
    "invoices": "no payment features or payment alerts",
}


def check_data(settings: AccountHealthSettings, *, event_rows: bool = True) -> DataCheck:
    """Check the export in ``settings.data_dir`` against the contract and the settings.

    Events are read in batches (``EVENT_BATCH_ROWS``), so memory stays bounded whatever the
    export's size. ``event_rows=False`` leaves the events' row checks to ingestion (which
    quarantines, reports and stops on the same rules) and reads only what the summary,
    the event names and the folds need.
    """
    check = DataCheck()
    mapping = settings.mapping()
    frames: dict[str, pd.DataFrame] = {}
    left_out = []
    for table, spec in CONTRACT.items():
        if table == "events":
            continue
        try:
            frames[table] = _read(settings, table)
        except ContractError as exc:
            (check.problems if spec.required else left_out).append(f"{table}: {exc}")
        except FileNotFoundError:
            if spec.required:
                check.problems.append(f"{table}: not found in {settings.data_dir}; expected "
                                      f"{table}.csv or {table}.parquet")
            else:
                left_out.append(f"{table}: absent (optional; "
                                f"{ABSENT_TABLE_EFFECTS.get(table, 'its features are left out')})")
    # as ingestion does: a row's account must be in the accounts table, or without one, in
    # the subscriptions
    in_accounts = export_account_ids(frames["accounts"]) if "accounts" in frames else None
    parents = in_accounts if in_accounts is not None else (
        export_account_ids(frames["subscriptions"]) if "subscriptions" in frames else None)
    summaries, quarantines, warnings = [], [], []

    def report(table: str, rows: int, columns: list[str], dates: str, quarantine: pd.DataFrame,
               quarantined_rows: int, kinds: pd.Series) -> None:
        mapped = mapping.columns.get(table, {})
        check.lines.append(
            f"{table}: {rows:,} rows{dates}; columns "
            + ", ".join(c for c in columns if c != "source_row")
            + (f" (mapped: {', '.join(f'{a} -> {b}' for a, b in mapped.items())})"
               if mapped else ""))
        share = quarantined_rows / max(rows, 1)
        if quarantined_rows:
            check.lines.append(f"  {quarantined_rows:,} rows ({share:.1%}) would be "
                               "quarantined: " + "; ".join(f"{k} ×{n:,}"
                                                           for k, n in kinds.head(4).items()))
        summaries.append({"table": table, "input_rows": rows,
                          "quarantined_rows": quarantined_rows, "quarantine_rate": share})
        quarantines.append(quarantine)

    for table, frame in frames.items():
        known = {"accounts": None, "subscriptions": in_accounts}.get(table, parents)
        result = check_table(table, frame, source_file=table, now=settings.data.current_time(),
                             known_accounts=known,
                             reporting_currency=mapping.reporting_currency)
        quarantine = result.quarantine
        report(table, len(frame), list(frame.columns), _date_range(frame, table), quarantine,
               len(quarantine), reason_kind(quarantine["reason"].reset_index(drop=True))
               .value_counts())
        warnings.append(label_warnings(table, result.accepted))
        if table == "invoices":
            check.lines += [f"  {gap}" for gap in payment_measurement_gaps(result.accepted)]
    tally = None
    try:
        tally = _tally_events(settings, parents, validate=event_rows)
    except ContractError as exc:
        check.problems.append(f"events: {exc}")
    except FileNotFoundError:
        check.problems.append(f"events: not found in {settings.data_dir}; expected "
                              "events.csv, events.parquet or events/<day> files")
    if tally is not None:
        report("events", tally.rows, tally.columns, tally.date_range(), tally.quarantine_sample,
               tally.quarantined_rows, tally.reason_kinds.sort_values(ascending=False))
        if not event_rows:
            check.lines.append("  (row checks of events run at ingestion)")
        warnings.append(tally.label_warnings())
    if quarantines:
        stop = quarantine_stop(pd.DataFrame(summaries), pd.concat(quarantines),
                               limit=settings.data.max_required_quarantine_share,
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
    if tally is not None:
        _events(check, settings, tally)
        check.event_days = tally.days(settings.data.current_time())
        if check.event_days is None and check.ok:
            check.problems.append(
                f"events: none falls between {settings.data.start_timestamp():%Y-%m-%d} and now "
                f"({settings.data.current_time():%Y-%m-%d}), so no day can be computed")
    return check


#: Event rows checked at a time: the check's memory stays bounded whatever the export's size.
EVENT_BATCH_ROWS = 250_000
#: Quarantined event rows kept to explain a stop (the counts cover every row).
QUARANTINE_SAMPLE_ROWS = 10_000


@dataclass
class EventTally:
    """What the check keeps of the events, batch by batch: counts, never the rows."""

    rows: int = 0
    columns: list[str] = field(default_factory=list)
    quarantined_rows: int = 0
    reason_kinds: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))
    quarantine_sample: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Events per account and event name (``event_count`` summed).
    usage: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[pd.DataFrame] = field(default_factory=list)
    #: Valid event times: all of them, and those a daily partition can hold.
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    first_placeable: pd.Timestamp | None = None
    last_placeable: pd.Timestamp | None = None
    #: Hashes of accepted event ids, for duplicates across batches.
    seen_ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))

    def days(self, now: pd.Timestamp) -> tuple[str, str] | None:
        """The first and last day of placeable events, the last no later than yesterday."""
        if self.first_placeable is None:
            return None
        return run_day_range(self.first_placeable, self.last_placeable, now)

    def date_range(self) -> str:
        return "" if self.first is None else f", {self.first:%Y-%m-%d} to {self.last:%Y-%m-%d}"

    def label_warnings(self) -> pd.DataFrame:
        found = [w for w in self.warnings if len(w)]
        if not found:
            return pd.DataFrame(columns=LABEL_WARNING_COLUMNS)
        keys = [c for c in LABEL_WARNING_COLUMNS if c != "rows"]
        return (pd.concat(found, ignore_index=True).groupby(keys, as_index=False)["rows"]
                .sum()[LABEL_WARNING_COLUMNS])

    def add_quarantine(self, quarantine: pd.DataFrame) -> None:
        if quarantine.empty:
            return
        self.quarantined_rows += len(quarantine)
        kinds = reason_kind(quarantine["reason"].reset_index(drop=True)).value_counts()
        self.reason_kinds = self.reason_kinds.add(kinds, fill_value=0).astype("int64")
        room = QUARANTINE_SAMPLE_ROWS - len(self.quarantine_sample)
        if room > 0:
            self.quarantine_sample = pd.concat([self.quarantine_sample, quarantine.head(room)],
                                               ignore_index=True)

    def add_times(self, times: pd.Series, placeable: pd.Series) -> None:
        valid, kept = times.dropna(), times[placeable].dropna()
        if len(valid):
            self.first = _earliest(self.first, valid.min())
            self.last = _latest(self.last, valid.max())
        if len(kept):
            self.first_placeable = _earliest(self.first_placeable, kept.min())
            self.last_placeable = _latest(self.last_placeable, kept.max())

    def add_usage(self, events: pd.DataFrame) -> None:
        counts = (pd.to_numeric(events["event_count"], errors="coerce").fillna(1)
                  if "event_count" in events else pd.Series(1.0, index=events.index))
        usage = (events.assign(event_count=counts.to_numpy(),
                               event_name=events["event_name"].astype(str),
                               account_id=events["account_id"].astype(str))
                 .groupby(["account_id", "event_name"], as_index=False)["event_count"].sum())
        self.usage = usage if self.usage.empty else (
            pd.concat([self.usage, usage]).groupby(["account_id", "event_name"],
                                                   as_index=False)["event_count"].sum())

    def duplicates_of_earlier_batches(self, accepted: pd.DataFrame) -> pd.Series:
        """Accepted rows whose event id an earlier batch accepted; remembers this batch's."""
        hashes = pd.util.hash_array(accepted["event_id"].astype(str).to_numpy(object))
        repeated = np.zeros(len(hashes), dtype=bool)
        if len(self.seen_ids):
            position = np.searchsorted(self.seen_ids, hashes).clip(max=len(self.seen_ids) - 1)
            repeated = self.seen_ids[position] == hashes
        # two sorted runs: the stable sort merges them in linear time
        self.seen_ids = np.sort(np.concatenate([self.seen_ids, np.sort(hashes)]), kind="stable")
        return pd.Series(repeated, index=accepted.index)


def _earliest(a: pd.Timestamp | None, b: pd.Timestamp) -> pd.Timestamp:
    return b if a is None else min(a, b)


def _latest(a: pd.Timestamp | None, b: pd.Timestamp) -> pd.Timestamp:
    return b if a is None else max(a, b)


def _event_batches(settings: AccountHealthSettings) -> Iterator[pd.DataFrame]:
    path = settings.table_file("events")
    if path is None:
        raise FileNotFoundError("events")
    if not path.is_dir():
        yield from read_table_batches(path, "events", settings.mapping(),
                                      batch_rows=EVENT_BATCH_ROWS)
        return
    files = day_files(path)
    if not files:
        raise ContractError(f"{path.name}/ holds no day files")
    offset = 0
    for file in files.values():
        frame = read_table(file, "events", settings.mapping())
        frame["source_row"] += offset
        offset += len(frame)
        yield frame


def _tally_events(settings: AccountHealthSettings, known: pd.Index | None, *,
                  validate: bool) -> EventTally:
    """The events' counts, times, usage and (``validate``) quarantine as ingestion would
    make them, one batch at a time."""
    now, start = settings.data.current_time(), settings.data.start_timestamp()
    tally = EventTally()
    for batch in _event_batches(settings):
        tally.rows += len(batch)
        tally.columns = tally.columns or list(batch.columns)
        times = event_times(batch)
        placeable = times.notna() & (times >= start) & (times <= now)
        tally.add_times(times, placeable)
        if not validate:
            tally.add_usage(batch[placeable.to_numpy()])
            continue
        unplaceable = unplaceable_events(batch, times, source_file="events",
                                         pipeline_start=start, now=now)
        result = check_table("events", batch[placeable.to_numpy()], source_file="events",
                             now=now, known_accounts=known)
        accepted = result.accepted
        repeated = tally.duplicates_of_earlier_batches(accepted)
        if repeated.any():
            tally.add_quarantine(quarantine_rows(
                "events", "events", batch.loc[repeated[repeated].index],
                "duplicate event_id '" + accepted.loc[repeated, "event_id"].astype(str)
                + "' (first kept in an earlier row)"))
            accepted = accepted[~repeated]
        tally.add_quarantine(unplaceable)
        tally.add_quarantine(result.quarantine)
        tally.add_usage(accepted)
        tally.warnings.append(label_warnings("events", accepted))
    return tally


def _read(settings: AccountHealthSettings, table: str) -> pd.DataFrame:
    path = settings.table_file(table)
    if path is None:
        raise FileNotFoundError(table)
    return read_table(path, table, settings.mapping())


def _date_range(frame: pd.DataFrame, table: str) -> str:
    column = DATE_COLUMNS.get(table)
    if column not in frame.columns:
        return ""
    times = event_times(frame.rename(columns={column: "event_time"}))
    if times.notna().sum() == 0:
        return ""
    return f", {times.min():%Y-%m-%d} to {times.max():%Y-%m-%d}"


def _events(check: DataCheck, settings: AccountHealthSettings, tally: EventTally) -> None:
    """Event names and volumes, the start date the export needs, and the folds it allows."""
    usage = tally.usage
    if usage.empty:
        usage = pd.DataFrame(columns=["account_id", "event_name", "event_count"])
    volumes = (usage.groupby("event_name")
               .agg(events=("event_count", "sum"), accounts=("account_id", "nunique"))
               .sort_values(["accounts", "events"], ascending=False))
    tracked = settings.mapping().event_taxonomy.tracked_events or top_event_names(usage)
    check.lines.append(f"event names ({len(volumes)}; per-event features for "
                       f"{', '.join(tracked)}):")
    check.lines += [f"  {row.Index}: {row.events:,.0f} events, {row.accounts:,} accounts"
                    for row in volumes.head(20).itertuples()]
    if tally.first is None:
        check.problems.append("events: no event has a valid event_time")
        return
    first, last = tally.first, tally.last
    start = settings.data.start_timestamp()
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
               f"{first:%Y-%m-%d}" if settings.data.pipeline_start_date else
               "earlier times are taken as broken clocks and quarantined"))
        first = start
    last_day = min(last, settings.data.current_time()).tz_localize(None).normalize()
    dates = training_as_of_dates(first.tz_localize(None), last_day,
                                 horizon_days=settings.training.horizon_days,
                                 cadence_days=settings.training.training_cadence_days)
    if dates.empty:
        check.problems.append(too_little_history(first.tz_localize(None), last_day,
                                                 horizon_days=settings.training.horizon_days))
        return
    try:
        folds = adaptive_folds(dates, max_folds=settings.training.n_folds,
                               horizon_days=settings.training.horizon_days,
                               min_train_dates=settings.training.min_training_dates,
                               spacing_days=settings.training.fold_spacing_days)
    except NotEnoughHistory as exc:
        check.problems.append(f"history {first:%Y-%m-%d} to {last_day:%Y-%m-%d}: {exc}")
        return
    check.lines.append(
        f"history {first:%Y-%m-%d} to {last_day:%Y-%m-%d}: {len(dates)} training dates every "
        f"{settings.training.training_cadence_days} days, {len(folds)} walk-forward folds (origins "
        + ", ".join(f"{f.origin:%Y-%m-%d}" for f in folds) + ")")


def format_check(check: DataCheck) -> str:
    """The report as text, problems last."""
    text = "\n".join(check.lines)
    if check.problems:
        text += "\n\nwhat would stop the run:\n" + "\n".join(f"- {p}" for p in check.problems)
    else:
        text += "\n\nno problems: the export can run"
    return text
