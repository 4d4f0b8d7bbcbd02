"""Event day files validated on Spark: one task per file, checked by the same
``check_event_day`` as the local engine, so both quarantine the same rows for the same
reasons. Each task writes its day's validated events and quarantine itself: a backfill's
events never pass through the driver."""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath

import pandas as pd
import pyarrow as pa

from features.contract import CONTRACT, ContractError, ContractMapping, read_table
from features.parquet_files import write_parquet_atomic
from features.row_checks import check_event_day, check_table, empty_quarantine
from features.spark_frames import StoredDays, fill_missing_days, run_per_file


def check_event_days_on_spark(spark, days: pd.DatetimeIndex, files: dict[pd.Timestamp, str],
                              *, directory_name: str, mapping: ContractMapping,
                              pipeline_start: pd.Timestamp, now: pd.Timestamp,
                              known_accounts: pd.Index | None, events_dir: Path,
                              quarantine_dir: Path) -> tuple[StoredDays, StoredDays]:
    """Each day file of ``files`` (day -> path or URL Spark can read) read and checked on
    Spark, its accepted rows written to ``<events_dir>/<day>.parquet`` and its quarantine to
    ``<quarantine_dir>/<day>.parquet``; a day of ``days`` without a file gets empty ones.
    Returns the rows written per day: (events, quarantine).

    A file that cannot be read raises ``ContractError`` with the local engine's message
    (other days' files may be written by then; re-running rewrites them identically).
    """
    day_of = {str(path): day for day, path in files.items()}
    mapping_json = mapping.model_dump_json()

    def check(path: str, content: bytes) -> dict[str, pd.DataFrame]:
        day = day_of[path]
        try:
            result = check_event_day(
                _read_day_file(path, content, ContractMapping.model_validate_json(mapping_json)),
                day, source_file=f"{directory_name}/{PurePosixPath(path).name}",
                pipeline_start=pipeline_start,
                now=now, known_accounts=known_accounts)
        except ContractError as exc:
            return {"error": pd.DataFrame({"message": [str(exc)]})}
        file_name = f"{day:%Y-%m-%d}.parquet"
        write_parquet_atomic(result.accepted, events_dir / file_name)
        write_parquet_atomic(result.quarantine, quarantine_dir / file_name)
        return {"counts": pd.DataFrame({"day": [f"{day:%Y-%m-%d}"],
                                        "accepted": [len(result.accepted)],
                                        "quarantined": [len(result.quarantine)]})}

    parts = run_per_file(spark, [str(path) for path in files.values()], check)
    if "error" in parts:
        raise ContractError(parts["error"][0]["message"].iloc[0])
    counts = pd.concat(parts.get("counts", []) or [pd.DataFrame(
        columns=["day", "accepted", "quarantined"])], ignore_index=True)
    wanted = [f"{day:%Y-%m-%d}" for day in days]
    accepted = fill_missing_days(events_dir, wanted,
                                 dict(zip(counts["day"], counts["accepted"], strict=True)),
                                 _schema(_no_events(now)))
    quarantined = fill_missing_days(
        quarantine_dir, wanted, dict(zip(counts["day"], counts["quarantined"], strict=True)),
        _schema(empty_quarantine().assign(partition_date=pd.Series(dtype=str))))
    return accepted, quarantined


def _read_day_file(path: str, content: bytes, mapping: ContractMapping) -> pd.DataFrame:
    """``read_table`` of a day file's bytes; its errors name ``path``, as the local engine's
    do."""
    # read_table reads a path: the bytes go to a file of the same name, so the suffix picks
    # the parser
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / PurePosixPath(path).name
        copy.write_bytes(content)
        try:
            return read_table(copy, "events", mapping)
        except ContractError as exc:
            raise ContractError(str(exc).replace(str(copy), path)) from exc


def _no_events(now: pd.Timestamp) -> pd.DataFrame:
    """The validated events of a file without rows, typed as the checks type them."""
    nothing = pd.DataFrame(columns=["source_row", *CONTRACT["events"].columns])
    return check_table("events", nothing, source_file="", now=now).accepted


def _schema(frame: pd.DataFrame) -> pa.Schema:
    return pa.Schema.from_pandas(frame, preserve_index=False)
