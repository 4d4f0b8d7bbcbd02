"""Writing a Parquet file so that readers never see half of it."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def write_parquet_atomic(data: pd.DataFrame | pa.Table, path: Path) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed into place, replacing
    what was there (a re-run never leaves duplicates or a torn file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(
        data, preserve_index=False)
    pq.write_table(table, tmp)
    os.replace(tmp, path)
