"""Per-day exports for people and other tools (CSV, and JSON records for a CRM).

Written beside the assets' Parquet partitions, at ``settings.export_file``; each file is
replaced whole, so re-running a day leaves one copy of its rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from pipelines.resources import AccountHealthSettings


def _replace(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def export_day(settings: AccountHealthSettings, export: str, day: pd.Timestamp,
               table: pd.DataFrame, *, records: list[dict] | None = None) -> Path:
    """Write ``table`` as ``<output_dir>/<export>/<day>.csv`` (and ``records`` as the day's
    ``.json``, when given); returns the CSV's path."""
    path = settings.export_file(export, day)
    _replace(path, lambda tmp: table.to_csv(tmp, index=False))
    if records is not None:
        _replace(settings.export_file(export, day, "json"),
                 lambda tmp: tmp.write_text(json.dumps(records)))
    return path
