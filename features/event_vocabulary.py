"""Which event names get usage features of their own: the export's own vocabulary.

Exports name their events as their product does (``like``, ``post``, ``call_started``), so
beside the taxonomy's logins, errors and core features, the ``TRACKED_EVENT_SLOTS`` names
used by the most accounts each get counts, counts per active user and changes
(``features.usage``). Slot k always holds the same name once chosen, so a feature means the
same thing in every snapshot and model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

from features.contract import TRACKED_EVENT_SLOTS, EventTaxonomy
from features.usage_rollup import quiet_connection


def top_event_names(events: pd.DataFrame | Sequence[Path],
                    n: int = TRACKED_EVENT_SLOTS) -> list[str]:
    """The ``n`` event names used by the most accounts (ties: more events, then by name),
    from validated events (a frame, or Parquet files of them)."""
    connection = quiet_connection()
    try:
        if isinstance(events, pd.DataFrame):
            connection.register("events_source", events)
            source = "events_source"
        else:
            files = [str(path) for path in events]
            if not files:
                return []
            source = "read_parquet($files, union_by_name = true)"
        count = "coalesce(event_count, 1)" if "event_count" in _columns(connection, source,
                                                                        events) else "1"
        rows = connection.execute(f"""
            SELECT event_name::VARCHAR, count(DISTINCT account_id) AS accounts,
                   sum({count}) AS events
            FROM {source} WHERE event_name IS NOT NULL
            GROUP BY 1 ORDER BY accounts DESC, events DESC, 1 LIMIT {int(n)}""",
            {} if isinstance(events, pd.DataFrame) else {"files": files}).fetchall()
    finally:
        connection.close()
    return [row[0] for row in rows]


def _columns(connection: duckdb.DuckDBPyConnection, source: str, events) -> set[str]:
    if isinstance(events, pd.DataFrame):
        return set(events.columns)
    files = [str(path) for path in events]
    described = connection.execute(f"DESCRIBE SELECT * FROM {source}", {"files": files})
    return {row[0] for row in described.fetchall()}


def with_tracked_events(taxonomy: EventTaxonomy, names: Sequence[str]) -> EventTaxonomy:
    """``taxonomy`` tracking ``names``, unless it names its own ``tracked_events``."""
    if taxonomy.tracked_events:
        return taxonomy
    return taxonomy.model_copy(update={"tracked_events": list(names)[:TRACKED_EVENT_SLOTS]})


_SLOT_COLUMN = re.compile(r"^event_(\d+)_(.+)$")


def event_feature_names(names: Sequence[str]) -> list[str]:
    """Each tracked event's name as it appears in feature names (``event_<name>_30d``):
    lower case, runs of other characters as one underscore, unique (a clash or an empty
    name takes its slot number after it), safe for Feast, MLflow and file names."""
    seen: set[str] = set()
    readable = []
    for slot, name in enumerate(names, start=1):
        slug = re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_") or "unnamed"
        if slug in seen or slug.isdigit():
            slug = f"{slug}_{slot}"
        seen.add(slug)
        readable.append(slug)
    return readable


def readable_event_columns(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """``frame`` with each per-event feature named after its event (``event_3_30d`` becomes
    ``event_message_sent_30d`` when slot 3 tracks ``message_sent``); slots that track no
    event carry nothing and are left out."""
    readable = event_feature_names(names)
    renames, unused = {}, []
    for column in frame.columns:
        slot = _SLOT_COLUMN.match(column)
        if not slot:
            continue
        k = int(slot.group(1))
        if k <= len(readable):
            renames[column] = f"event_{readable[k - 1]}_{slot.group(2)}"
        else:
            unused.append(column)
    return frame.drop(columns=unused).rename(columns=renames)
