"""How pandas results travel from Spark tasks to the driver unchanged.

The Spark engine runs the same feature and validation functions as the local engine, one
group of accounts or one day file per task. A task's result goes back pickled, not as Spark
rows: every column (nullable integers, Arrow strings, time zones) then arrives with exactly
the type the local engine gives it, so both engines store identical files. The bytes are
written and read only by this package's own tasks, in the same environment.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.parquet_files import write_parquet_atomic


@dataclass(frozen=True)
class StoredDays:
    """Day files Spark's executors wrote themselves (``<directory>/<YYYY-MM-DD>.parquet``),
    in place of a frame for the driver to write: rows per day and the checks' counts."""

    rows: dict[str, int]
    duplicate_keys: int = 0
    rows_missing_billing: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


#: The schema of a task's results: which part of which group, and the part's bytes.
RESULT_SCHEMA = "group string, part string, payload binary"


def frame_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as bytes, every column's type kept."""
    return pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)


def bytes_frame(payload: bytes) -> pd.DataFrame:
    """The frame ``frame_bytes`` wrote."""
    return pickle.loads(payload)  # noqa: S301 - written by this package's own tasks


def result_rows(group: str, parts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One task's named result frames as rows of ``RESULT_SCHEMA``."""
    return pd.DataFrame({"group": [group] * len(parts), "part": list(parts),
                         "payload": [frame_bytes(frame) for frame in parts.values()]})


def collect_parts(results: pd.DataFrame) -> dict[str, list[pd.DataFrame]]:
    """Collected ``RESULT_SCHEMA`` rows as frames by part name, in group order."""
    parts: dict[str, list[pd.DataFrame]] = {}
    for row in results.sort_values(["group", "part"], kind="stable").itertuples():
        parts.setdefault(row.part, []).append(bytes_frame(row.payload))
    return parts


def run_per_file(spark, paths: Sequence[str],
                 work: Callable[[str, bytes], dict[str, pd.DataFrame]]
                 ) -> dict[str, list[pd.DataFrame]]:
    """``work(path, file bytes)`` run by Spark's executors for each of ``paths`` (local
    paths or any URL Spark reads, e.g. ``s3a://``; file names unique); the frames it
    returns, by part name, in file-name order. Only those frames come back to the driver: a
    task that writes its own output returns counts."""
    given = {PurePosixPath(path).name: path for path in paths}

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for location, content in zip(batch["path"], batch["content"], strict=True):
                name = PurePosixPath(location).name
                yield result_rows(name, work(given[name], content))

    if not paths:
        return {}
    return collect_parts(spark.read.format("binaryFile").load(list(paths))
                         .select("path", "content").mapInPandas(run, RESULT_SCHEMA)
                         .toPandas())


def fill_missing_days(directory: Path, days: Iterable[str], rows: dict[str, int],
                      schema_if_none_written: pa.Schema) -> StoredDays:
    """An empty ``<directory>/<day>.parquet`` for each of ``days`` no task wrote (as the
    local engine stores a day without rows), with the schema of a day a task wrote (or
    ``schema_if_none_written``); the rows of every day."""
    days = sorted(set(days))
    written = sorted(rows)
    schema = (pq.read_schema(Path(directory) / f"{written[0]}.parquet") if written
              else schema_if_none_written)
    for day in days:
        if day not in rows:
            write_parquet_atomic(schema.empty_table(), Path(directory) / f"{day}.parquet")
    return StoredDays(rows={day: int(rows.get(day, 0)) for day in days})


def unsigned_from_signed(values: pd.Series) -> np.ndarray:
    """64-bit unsigned keys back from the signed form Spark carries them in
    (``signed = unsigned - 2**63``): Spark has no unsigned 64-bit type."""
    return np.asarray(values, dtype=np.int64).view(np.uint64) ^ np.uint64(1 << 63)
