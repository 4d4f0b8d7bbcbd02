"""Reading and checking the events of a run's days, from one export file or from day files,
and the account ids that dependant rows must belong to."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.contract import CONTRACT, ContractError, ContractMapping, day_files, read_table
from features.row_checks import (
    check_event_day,
    check_table,
    empty_quarantine,
    event_times,
    export_account_ids,
)
from features.utc_days import partition_days

#: Where a row's account must exist: the accounts table, or without one, the subscriptions.
PARENT_TABLES = ("accounts", "subscriptions")


@dataclass(frozen=True)
class CheckedEvents:
    """A run's events: the accepted rows, the quarantined ones (with their
    ``partition_date``), the days that have accepted events, and where the export ends (its
    latest event time, or its last day file)."""

    accepted: pd.DataFrame
    quarantine: pd.DataFrame
    arrived: set[pd.Timestamp]
    export_ends: pd.Timestamp


def days_of(times: pd.Series) -> set[pd.Timestamp]:
    """The distinct UTC days of ``times``."""
    return set(times.dt.floor("D").dropna().unique())


def events_from_export(path: Path, start: pd.Timestamp, end: pd.Timestamp, *,
                       mapping: ContractMapping, pipeline_start: pd.Timestamp,
                       now: pd.Timestamp, known: pd.Index | None) -> CheckedEvents:
    """The rows of a whole export whose time falls in [start, end), checked."""
    frame = read_table(path, "events", mapping)
    times = event_times(frame)
    in_window = ((times >= start) & (times < end) & (times <= now) & (times >= pipeline_start))
    result = check_table("events", frame[in_window], source_file=path.name, now=now,
                         known_accounts=known)
    quarantine = result.quarantine.copy()
    rows = quarantine["source_row"].to_numpy() - 1
    # iloc keeps the times as datetimes; to_numpy() would box millions of them as objects
    quarantine["partition_date"] = partition_days(
        times.iloc[rows].reset_index(drop=True)).to_numpy()
    return CheckedEvents(result.accepted, quarantine, days_of(result.accepted["event_time"]),
                         times[times <= now].max())


def events_from_day_files(directory: Path, days: Iterable[pd.Timestamp], *,
                          mapping: ContractMapping, pipeline_start: pd.Timestamp,
                          now: pd.Timestamp, known: pd.Index | None) -> CheckedEvents:
    """The day files of ``days`` (those present), each checked by ``check_event_day``."""
    files = day_files(directory)
    present = {day: files[day] for day in days if day in files}
    results = [check_event_day(read_table(path, "events", mapping), day,
                               source_file=f"{directory.name}/{path.name}",
                               pipeline_start=pipeline_start, now=now, known_accounts=known)
               for day, path in present.items()]
    accepted = [result.accepted for result in results]
    quarantines = [result.quarantine for result in results]
    if not accepted:  # none of the days has a file yet
        nothing = pd.DataFrame(columns=["source_row", *CONTRACT["events"].columns])
        accepted = [check_table("events", nothing, source_file=directory.name, now=now,
                                known_accounts=known).accepted]
        quarantines = [empty_quarantine().assign(partition_date=pd.Series(dtype=str))]
    rows = pd.concat(accepted, ignore_index=True)
    return CheckedEvents(rows, pd.concat(quarantines, ignore_index=True),
                         days_of(rows["event_time"]), last_day_file(files))


def last_day_file(files: Mapping[pd.Timestamp, Path]) -> pd.Timestamp:
    """The last day of a directory's day files (``day_files``; midnight UTC), NaT when there
    are none."""
    return max(files).tz_localize("UTC") if files else pd.NaT


def days_without_events(days: pd.DatetimeIndex, arrived: set[pd.Timestamp]) -> list[str]:
    """The ``days`` (YYYY-MM-DD) on which no event was accepted."""
    return [f"{day:%Y-%m-%d}" for day in days if day not in arrived]


def parent_account_ids(table_file: Callable[[str], Path | None], mapping: ContractMapping,
                       tables: tuple[str, ...] = PARENT_TABLES) -> pd.Index | None:
    """Account ids of the first of ``tables`` in the export (``table_file`` finds a table's
    file), read as written: a dependant row is quarantined only when its account is nowhere
    in that table, never because the account's own row was rejected. None when none of the
    tables can be read."""
    for table in tables:
        path = table_file(table)
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
