"""Where asset outputs are stored: the one place that says so.

The IO manager writes and reads every asset through these paths. A step that reads or
writes day files itself (DuckDB over the rollups, Feast's file source, Spark's executors)
and the run's summary ask the ``storage`` resource for them; nothing else builds a path
into ``<output_dir>/assets``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from dagster import ConfigurableResource


def day_key(day: str | pd.Timestamp) -> str:
    """A daily partition's key (``YYYY-MM-DD``) from a key or a timestamp."""
    return day if isinstance(day, str) else f"{pd.Timestamp(day):%Y-%m-%d}"


def asset_file(base_dir: str | Path, asset_key: Sequence[str],
               partition: str | None = None) -> Path:
    """``<base_dir>/<asset>.parquet``, or one day's partition
    ``<base_dir>/<asset>/<day>.parquet``."""
    base = Path(base_dir).joinpath(*asset_key)
    return base / f"{partition}.parquet" if partition else base.with_suffix(".parquet")


class AssetStorage(ConfigurableResource):
    """The stored outputs of the assets under ``base_dir``."""

    base_dir: str

    @classmethod
    def under(cls, output_dir: str | Path) -> AssetStorage:
        """The storage of a run whose outputs go to ``output_dir``: ``<output_dir>/assets``."""
        return cls(base_dir=str(Path(output_dir) / "assets"))

    def asset_file(self, asset: str, day: str | pd.Timestamp | None = None) -> Path:
        """The stored output of ``asset``, or of its partition for ``day``."""
        return asset_file(self.base_dir, [asset], None if day is None else day_key(day))

    def partition_dir(self, asset: str) -> Path:
        """The directory of a daily asset's partition files (``<day>.parquet``)."""
        return self.asset_file(asset).with_suffix("")

    def stored_days(self, asset: str) -> list[str]:
        """Days (``YYYY-MM-DD``) with a stored partition of ``asset``, oldest first."""
        return sorted(p.stem for p in self.partition_dir(asset).glob("*.parquet"))

    def stored_partition(self, asset: str, day: str | pd.Timestamp,
                         columns: Sequence[str] | None = None) -> pd.DataFrame | None:
        """A daily asset's stored partition for ``day`` (of ``columns``, those it has); None
        when that day was never stored (history a report compares with, such as the scores
        of a week before)."""
        path = self.asset_file(asset, day)
        if not path.exists():
            return None
        present = set(pq.read_schema(path).names) if columns is not None else set()
        return pd.read_parquet(path, columns=None if columns is None else
                               [c for c in columns if c in present])

    def stored(self, asset: str) -> pd.DataFrame | None:
        """An unpartitioned asset's stored value; None when it was never stored."""
        path = self.asset_file(asset)
        return pd.read_parquet(path) if path.exists() else None
