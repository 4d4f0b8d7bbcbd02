"""Parquet storage for asset outputs, one file per daily partition (paths:
``pipelines.storage``).

A run over a range of partitions (single-run backfill) hands over one DataFrame; it is split
by the output's ``partition_column`` so every day gets its own file. Writing a partition
replaces its file atomically, so re-materialising gives the same result with no duplicates;
a day with no rows is written as an empty file so stale rows cannot survive.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from dagster import ConfigurableIOManager, InputContext, OutputContext

from features.parquet_files import write_parquet_atomic
from features.spark_frames import StoredDays
from features.utc_days import day_codes
from pipelines.storage import asset_file


def write_partitions(frame: pd.DataFrame, column: str, partitions: Sequence[str],
                     path_of: Callable[[str], Path]) -> None:
    """Write ``frame``'s rows of each daily partition (by the UTC day of ``column``) to
    ``path_of(partition)``, an empty file for a partition without rows. Raises ValueError
    for rows outside ``partitions``.

    The frame is converted to Arrow once and each day's rows are taken from it, so every
    file has the whole output's schema; rows already in day order (snapshots, scores) are
    zero-copy slices. Files are written side by side on every core: Parquet encoding and
    compression release the GIL, and writing would otherwise take longer than computing a
    backfill's snapshots.
    """
    codes, labels = day_codes(frame[column])
    keys = set(partitions)
    outside = sorted(set(labels) - keys)
    if outside or (codes < 0).any():
        raise ValueError(f"rows for days {outside[:3]} (or without a day) are outside the "
                         "partitions being written")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    in_order = bool((codes[1:] >= codes[:-1]).all())
    order = None if in_order else np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes if in_order else codes[order], np.arange(len(labels) + 1))
    code_of = {label: code for code, label in enumerate(labels)}

    def write(partition: str) -> None:
        code = code_of.get(partition)
        if code is None:
            part = table.slice(0, 0)
        elif in_order:
            part = table.slice(bounds[code], bounds[code + 1] - bounds[code])
        else:
            part = table.take(order[bounds[code]:bounds[code + 1]])
        write_parquet_atomic(part, path_of(partition))

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(write, sorted(keys)))


class PartitionedParquetIOManager(ConfigurableIOManager):
    """Stores ``<base_dir>/<asset>.parquet`` or ``<base_dir>/<asset>/<day>.parquet``.

    An input declared with ``metadata={"missing_ok": True}`` (the previous day, through a
    partition mapping) loads as ``None`` when none of its partitions was stored; one with
    ``metadata={"columns": [...]}`` loads only those columns of a partitioned asset (weeks of
    days, of which a step reads a few columns).
    """

    base_dir: str

    def asset_path(self, asset_key: Sequence[str], partition: str | None = None) -> Path:
        return asset_file(self.base_dir, asset_key, partition)

    def handle_output(self, context: OutputContext, obj: pd.DataFrame | None) -> None:
        key = list(context.asset_key.path)
        if isinstance(obj, StoredDays):  # Spark's executors wrote the day files themselves
            context.add_output_metadata({"rows": obj.total_rows, "partitions": len(obj.rows),
                                         "written_by": "spark executors"})
            return
        if obj is None:  # an absent optional table: remove what an earlier run left
            self.asset_path(key).unlink(missing_ok=True)
            context.add_output_metadata({"present": False})
            return
        if not context.has_asset_partitions:
            write_parquet_atomic(obj, self.asset_path(key))
            context.add_output_metadata({"rows": len(obj), "path": str(self.asset_path(key))})
            return
        column = (context.definition_metadata or {}).get("partition_column")
        if column is None:
            raise ValueError(f"{context.asset_key}: partitioned output needs partition_column")
        try:
            write_partitions(obj, column, context.asset_partition_keys,
                             lambda partition: self.asset_path(key, partition))
        except ValueError as exc:
            raise ValueError(f"{context.asset_key}: {exc}") from exc
        context.add_output_metadata({"rows": len(obj),
                                     "partitions": len(context.asset_partition_keys)})

    def load_input(self, context: InputContext) -> pd.DataFrame | None:
        key = list(context.asset_key.path)
        if not context.has_asset_partitions:
            path = self.asset_path(key)
            return pd.read_parquet(path) if path.exists() else None
        paths = [self.asset_path(key, k) for k in context.asset_partition_keys]
        existing = [str(p) for p in paths if p.exists()]
        if not existing and (context.definition_metadata or {}).get("missing_ok"):
            return None
        if not existing:
            raise FileNotFoundError(f"{context.asset_key}: no partition files in "
                                    f"{self.asset_path(key).with_suffix('')}")
        # a day written with no rows in a text column stores it as null-typed: read every
        # day with the types the days agree on, whichever day comes first
        schema = pa.unify_schemas([pq.read_schema(path) for path in existing],
                                  promote_options="permissive")
        columns = (context.definition_metadata or {}).get("columns")
        # of the columns asked for, those the stored days have (an export without a table
        # has none of its features)
        kept = [c for c in columns if c in schema.names] if columns else None
        return ds.dataset(existing, format="parquet", schema=schema).to_table(
            columns=kept).to_pandas()
