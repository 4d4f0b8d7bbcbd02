"""Events rolled up per account, user and day, in DuckDB.

Usage features need, per account and day, how many events (of each kind) happened and which
users were active. Rolling the events up to (account, user, day) first is one columnar scan
and hash aggregation; ``roll_up`` then hands features the per-(account, day) totals and the
sorted (account, user, day) keys as integer arrays a fraction of the size of the events: the
raw events, and the account ids, never pass through Python objects.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract import EventTaxonomy

#: Bit i of ``core_mask`` is set when the user used core feature i (taxonomy order) that day.
MAX_CORE_FEATURES = 62


@dataclass(frozen=True)
class AccountDays:
    """Parallel arrays, one element per (account, day) with at least one event, sorted by day
    then account: ``account`` indexes the account list given to ``roll_up`` and ``day``
    counts days from the grid's first day. ``active_users`` counts the users with an event
    that day, ``login_users`` those who logged in; ``core_mask`` has bit i set when core
    feature i (taxonomy order) was used that day."""

    account: np.ndarray
    day: np.ndarray
    events: np.ndarray
    core_events: np.ndarray
    error_events: np.ndarray
    active_users: np.ndarray
    login_users: np.ndarray
    core_mask: np.ndarray


@dataclass(frozen=True)
class UserDays:
    """One element per (account, user, day) with at least one event, sorted by account, user
    and day; ``user`` is a 64-bit key of the account and user ids (only equality matters)."""

    account: np.ndarray
    user: np.ndarray
    day: np.ndarray


@dataclass(frozen=True)
class UsageRollup:
    """The events of a grid's accounts and days, per account and day and per user and day."""

    account_days: AccountDays
    user_days: UserDays


def _quoted(names: Sequence[str]) -> str:
    return ", ".join("'" + name.replace("'", "''") + "'" for name in names) or "NULL"


def taxonomy_fingerprint(taxonomy: EventTaxonomy) -> str:
    """What a stored daily rollup depends on besides its events: the taxonomy (which names
    are logins, errors, core features and their bit order) and DuckDB's version (whose
    ``hash`` numbers the users)."""
    text = json.dumps([taxonomy.model_dump(), duckdb.__version__], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _events_view(connection: duckdb.DuckDBPyConnection, name: str,
                 events: pd.DataFrame | Sequence[Path]) -> set[str] | None:
    """Register events (a frame or Parquet files) as view ``name``; its columns, or None
    when there are no files."""
    if isinstance(events, pd.DataFrame):
        connection.register(name, events)
        return set(events.columns)
    files = [str(path) for path in events]
    if not files:
        return None
    connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet("
                       f"[{_quoted(files)}], union_by_name = true)")
    return {row[0] for row in connection.execute(f"DESCRIBE {name}").fetchall()}


def _daily_sql(source: str, columns: set[str], taxonomy: EventTaxonomy) -> str:
    """Events of ``source`` per (account, user, epoch day): the daily rollup's rows."""
    core = list(taxonomy.core_events)
    if len(core) > MAX_CORE_FEATURES:
        raise ValueError(f"at most {MAX_CORE_FEATURES} core events are supported")
    count = "coalesce(event_count, 1)" if "event_count" in columns else "1"
    mask = " ".join(f"WHEN '{name}' THEN {1 << i}" for i, name in
                    enumerate(n.replace("'", "''") for n in core))
    mask_expression = f"bit_or(CASE event_name {mask} ELSE 0 END)" if core else "0"
    # user_id is mandatory (validated), so hashing it needs no NULL handling; any numbering
    # of users will do: features only ask whether two rows are one user
    return f"""
        SELECT account_id::VARCHAR AS account_id,
               hash(account_id::VARCHAR, user_id::VARCHAR) AS user_key,
               epoch_day,
               sum(n)::BIGINT AS events,
               coalesce(sum(n) FILTER (WHERE event_name IN ({_quoted(core)})), 0)::BIGINT
                   AS core_events,
               coalesce(sum(n) FILTER (WHERE event_name IN
                   ({_quoted(taxonomy.error_events)})), 0)::BIGINT AS error_events,
               coalesce(sum(n) FILTER (WHERE event_name IN
                   ({_quoted(taxonomy.login_events)})), 0)::BIGINT AS logins,
               {mask_expression}::BIGINT AS core_mask
        FROM (SELECT account_id, user_id, event_name::VARCHAR AS event_name,
                     (floor(epoch(event_time) / 86400))::INTEGER AS epoch_day,
                     {count}::BIGINT AS n
              FROM {source} WHERE event_time IS NOT NULL)
        GROUP BY ALL"""


def daily_rollup(events: pd.DataFrame | Sequence[Path], taxonomy: EventTaxonomy) -> pd.DataFrame:
    """Validated events rolled up to one row per account, user and UTC ``day``: the state a
    daily run keeps so that usage features read these instead of 90 days of raw events.

    Rows carry the ``taxonomy_fingerprint`` they were computed with; ``roll_up`` uses a
    stored rollup only when it matches.
    """
    connection = duckdb.connect()
    try:
        columns = _events_view(connection, "events_source", events)
        if columns is None:
            return pd.DataFrame(columns=ROLLUP_COLUMNS)
        rolled = connection.sql(f"""
            SELECT account_id, user_key, to_timestamp(epoch_day * 86400)::TIMESTAMP AS day,
                   events, core_events, error_events, logins, core_mask,
                   '{taxonomy_fingerprint(taxonomy)}' AS taxonomy_fingerprint
            FROM ({_daily_sql("events_source", columns, taxonomy)})
            ORDER BY day, account_id, user_key""").df()
    finally:
        connection.close()
    return rolled


#: Columns of a stored daily rollup.
ROLLUP_COLUMNS = ["account_id", "user_key", "day", "events", "core_events", "error_events",
                  "logins", "core_mask", "taxonomy_fingerprint"]


def rollup_matches(path: Path, taxonomy: EventTaxonomy) -> bool:
    """Whether a stored daily rollup file was computed with this taxonomy (read from the
    file's column statistics, not its rows). An empty file matches: it has no rows to be
    wrong about."""
    metadata = pq.read_metadata(path)
    if metadata.num_rows == 0:
        return True
    position = metadata.schema.names.index("taxonomy_fingerprint")
    wanted = taxonomy_fingerprint(taxonomy)
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(position).statistics
        if stats is None or not stats.has_min_max or not stats.min == stats.max == wanted:
            return False
    return True


def roll_up(events: pd.DataFrame | Sequence[Path], accounts: pd.Index, first_day: pd.Timestamp,
            n_days: int, taxonomy: EventTaxonomy, rollups: Sequence[Path] = (),
            users_from_day: int = 0) -> UsageRollup:
    """Roll up validated events (a DataFrame, or Parquet files of them) for ``accounts``
    over the ``n_days`` days from ``first_day``; other events are ignored.

    ``rollups`` are stored ``daily_rollup`` files of other days (ones matching the taxonomy:
    see ``rollup_matches``), read instead of those days' events. An optional
    ``event_count`` column says how many events a row stands for (an export of daily
    per-user aggregates); without it every row is one event. User-days before grid day
    ``users_from_day`` are left out of ``user_days`` (no distinct-user window reaches them).
    """
    connection = duckdb.connect()
    try:
        columns = _events_view(connection, "events_source", events)
        parts = [] if columns is None else [_daily_sql("events_source", columns, taxonomy)]
        if rollups:
            parts.append(
                "SELECT account_id, user_key, (epoch(day) / 86400)::INTEGER AS epoch_day, "
                "events, core_events, error_events, logins, core_mask FROM read_parquet("
                f"[{_quoted([str(p) for p in rollups])}])")
        if not parts:
            return _empty()
        connection.register("grid_accounts", pd.DataFrame({
            "account_id": np.asarray(accounts, dtype=object),
            "account": np.arange(len(accounts), dtype=np.int32)}))
        first = int((pd.Timestamp(first_day) - pd.Timestamp(0)).days)
        # Attach the grid's account numbers after aggregating (joining every event on its
        # account string first costs twice as much), once, for both roll-ups; no strings
        # leave DuckDB.
        connection.execute(f"""
            CREATE TEMP TABLE user_days AS
            SELECT g.account, r.user_key AS user, (r.epoch_day - {first})::INTEGER AS day,
                   r.events, r.core_events, r.error_events, r.logins, r.core_mask
            FROM ({" UNION ALL ".join(parts)}) r JOIN grid_accounts g USING (account_id)
            WHERE r.epoch_day >= {first} AND r.epoch_day < {first + int(n_days)}""")
        account_days = connection.sql("""
            SELECT account, day, sum(events)::BIGINT AS events,
                   sum(core_events)::BIGINT AS core_events,
                   sum(error_events)::BIGINT AS error_events, count(*) AS active_users,
                   count(*) FILTER (WHERE logins > 0) AS login_users,
                   bit_or(core_mask) AS core_mask
            FROM user_days GROUP BY account, day ORDER BY day, account""").to_arrow_table()
        user_days = connection.sql(
            f"SELECT account, user, day FROM user_days WHERE day >= {int(users_from_day)} "
            "ORDER BY account, user, day").to_arrow_table()
    finally:
        connection.close()
    return UsageRollup(AccountDays(**_arrays(account_days)), UserDays(**_arrays(user_days)))


def _arrays(table: pa.Table) -> dict[str, np.ndarray]:
    return {name: table.column(name).to_numpy() for name in table.column_names}


def _empty() -> UsageRollup:
    empty = np.zeros(0, dtype=np.int64)
    return UsageRollup(AccountDays(*[empty] * 8), UserDays(empty, empty.astype(np.uint64), empty))
