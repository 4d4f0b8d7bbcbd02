"""Events rolled up to one row per account, user and day, in DuckDB.

Usage features need, per account and day, how many events (of each kind) happened and which
users were active. Rolling the events up to (account, user, day) first is one columnar scan
and hash aggregation, after which features work on integer arrays a fraction of the size of
the events; the raw events never pass through Python objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from features.contract import EventTaxonomy

#: Bit i of ``core_mask`` is set when the user used core feature i (taxonomy order) that day.
MAX_CORE_FEATURES = 62


@dataclass(frozen=True)
class UsageRollup:
    """Parallel arrays, one element per (account, user, day) with at least one event.

    ``account`` indexes the account list given to ``roll_up``; ``user`` numbers the distinct
    (account, user) pairs from 0; ``day`` counts days from the grid's first day.
    """

    account: np.ndarray
    user: np.ndarray
    day: np.ndarray
    events: np.ndarray
    core_events: np.ndarray
    error_events: np.ndarray
    logins: np.ndarray
    core_mask: np.ndarray

    @property
    def n_users(self) -> int:
        return int(self.user.max()) + 1 if len(self.user) else 0


def _quoted(names: Sequence[str]) -> str:
    return ", ".join("'" + name.replace("'", "''") + "'" for name in names) or "NULL"


def roll_up(events: pd.DataFrame | Sequence[Path], accounts: pd.Index, first_day: pd.Timestamp,
            n_days: int, taxonomy: EventTaxonomy) -> UsageRollup:
    """Roll up validated events (a DataFrame, or Parquet files of them) for ``accounts``
    over the ``n_days`` days from ``first_day``; other events are ignored.

    An optional ``event_count`` column says how many events a row stands for (an export of
    daily per-user aggregates); without it every row is one event.
    """
    core = list(taxonomy.core_events)
    if len(core) > MAX_CORE_FEATURES:
        raise ValueError(f"at most {MAX_CORE_FEATURES} core events are supported")
    connection = duckdb.connect()
    try:
        if isinstance(events, pd.DataFrame):
            connection.register("events_source", events)
            columns = set(events.columns)
        else:
            files = [str(path) for path in events]
            if not files:
                return _empty()
            connection.execute("CREATE VIEW events_source AS SELECT * FROM read_parquet("
                               f"[{_quoted(files)}], union_by_name = true)")
            columns = {row[0] for row in connection.execute(
                "DESCRIBE events_source").fetchall()}
        connection.register("grid_accounts", pd.DataFrame({
            "account_id": np.asarray(accounts, dtype=object),
            "account": np.arange(len(accounts), dtype=np.int32)}))
        # user_id is mandatory (validated), so joins on it need no NULL handling
        count = "coalesce(event_count, 1)" if "event_count" in columns else "1"
        first = int((pd.Timestamp(first_day) - pd.Timestamp(0)).days)
        mask = " ".join(f"WHEN '{name}' THEN {1 << i}" for i, name in
                        enumerate(n.replace("'", "''") for n in core))
        mask_expression = f"bit_or(CASE event_name {mask} ELSE 0 END)" if core else "0"
        # Aggregate on the raw key columns first and attach the grid's account numbers
        # after: joining every event on its account string first costs twice as much.
        query = f"""
            WITH rolled AS (
                SELECT account_id::VARCHAR AS account_id, user_id, day,
                       sum(n) AS events,
                       coalesce(sum(n) FILTER (WHERE event_name IN ({_quoted(core)})), 0)
                           AS core_events,
                       coalesce(sum(n) FILTER (WHERE event_name IN
                           ({_quoted(taxonomy.error_events)})), 0) AS error_events,
                       coalesce(sum(n) FILTER (WHERE event_name IN
                           ({_quoted(taxonomy.login_events)})), 0) AS logins,
                       {mask_expression}::BIGINT AS core_mask
                FROM (SELECT account_id, user_id, event_name::VARCHAR AS event_name,
                             (floor(epoch(event_time) / 86400))::INTEGER - {first} AS day,
                             {count}::BIGINT AS n
                      FROM events_source)
                WHERE day >= 0 AND day < {int(n_days)}
                GROUP BY ALL
            ), users AS (
                -- any numbering will do: features only ask whether two rows are one user
                SELECT account_id, user_id, (row_number() OVER () - 1)::INTEGER AS user
                FROM (SELECT DISTINCT account_id, user_id FROM rolled)
            )
            SELECT g.account, u.user, r.day, r.events, r.core_events, r.error_events,
                   r.logins, r.core_mask
            FROM rolled r JOIN grid_accounts g USING (account_id)
                 JOIN users u USING (account_id, user_id)
        """
        columns = connection.sql(query).fetchnumpy()
    finally:
        connection.close()
    return UsageRollup(**{name: np.asarray(values) for name, values in columns.items()})


def _empty() -> UsageRollup:
    empty = np.zeros(0, dtype=np.int64)
    return UsageRollup(empty, empty, empty, empty, empty, empty, empty, empty)
