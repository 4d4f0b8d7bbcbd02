"""How pandas results travel from Spark tasks to the driver unchanged.

The Spark engine runs the same feature and validation functions as the local engine, one
group of accounts or one day file per task. A task's result goes back pickled, not as Spark
rows: every column (nullable integers, Arrow strings, time zones) then arrives with exactly
the type the local engine gives it, so both engines store identical files. The bytes are
written and read only by this package's own tasks, in the same environment.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import numpy as np
import pandas as pd


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


def unsigned_from_signed(values: pd.Series) -> np.ndarray:
    """64-bit unsigned keys back from the signed form Spark carries them in
    (``signed = unsigned - 2**63``): Spark has no unsigned 64-bit type."""
    return np.asarray(values, dtype=np.int64).view(np.uint64) ^ np.uint64(1 << 63)
