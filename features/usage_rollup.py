"""Events rolled up per account, user and day, in DuckDB.

Usage features need, per account and day, how many events (of each kind) happened and which
users were active. Rolling the events up to (account, user, day) first is one columnar scan
and hash aggregation (stored per day by the usage_rollup asset). ``roll_up`` hands features
integer arrays: per-(account, day) totals and, per user-day, the days since its user was last
active. Stored rollups are read in their (day, account) order and summed over runs of rows
in numpy; raw events, which a hash aggregation leaves in no order, are summed in DuckDB.
For a few as-of days (the morning's one), DuckDB merges the days between their windows'
ends, so the few spans of each account leave DuckDB instead of every user-day.
Accounts are numbered by the hash of their id, so no id string leaves DuckDB.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract import TRACKED_EVENT_SLOTS, EventTaxonomy

#: Bit i of ``core_mask`` is set when the user used core feature i (taxonomy order) that day.
MAX_CORE_FEATURES = 62
#: Per user-day events of each tracked event name (taxonomy order; 0 for an unused slot).
TRACKED_COLUMNS = [f"tracked_{k}" for k in range(1, TRACKED_EVENT_SLOTS + 1)]


def _slots(taxonomy: EventTaxonomy) -> list[str | None]:
    names = list(taxonomy.tracked_events)
    return names + [None] * (TRACKED_EVENT_SLOTS - len(names))


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
    #: One row per tracked event slot (``TRACKED_EVENT_SLOTS``): events of that name.
    tracked: np.ndarray

    def as_frame(self) -> pd.DataFrame:
        """The fields as columns, each tracked slot as its own (``tracked_1``, ...)."""
        fields = {name: values for name, values in vars(self).items() if name != "tracked"}
        return pd.DataFrame({**fields, **dict(zip(TRACKED_COLUMNS, self.tracked, strict=True))})


#: ``UserDays.days_since_previous`` of a user's first day in the roll-up: more than any window.
NO_PREVIOUS_DAY = 1 << 40


@dataclass(frozen=True)
class UserDays:
    """One element per (account, user, day) with at least one event, in no set order:
    ``days_since_previous`` counts the days since the same user's previous active day in
    the roll-up (``NO_PREVIOUS_DAY`` or more for the first). That is all distinct-user
    windows need: a user-day is its user's first in every window that starts after that
    previous day."""

    account: np.ndarray
    day: np.ndarray
    days_since_previous: np.ndarray


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
                 events: pd.DataFrame | Sequence[Path]) -> dict[str, str] | None:
    """Register events (a frame or Parquet files) as view ``name``; its columns' DuckDB
    types by name, or None when there are no files."""
    if isinstance(events, pd.DataFrame):
        connection.register(name, events)
    else:
        files = [str(path) for path in events]
        if not files:
            return None
        connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet("
                           f"[{_quoted(files)}], union_by_name = true)")
    return {row[0]: row[1] for row in connection.execute(f"DESCRIBE {name}").fetchall()}


def _daily_sql(source: str, columns: Collection[str], taxonomy: EventTaxonomy,
               account_key: bool = False) -> str:
    """Events of ``source`` per (account, user, epoch day): the daily rollup's rows, with
    the account's id, or with ``account_key``, its hash (grouping by an integer is
    faster)."""
    core = list(taxonomy.core_events)
    if len(core) > MAX_CORE_FEATURES:
        raise ValueError(f"at most {MAX_CORE_FEATURES} core events are supported")
    count = "coalesce(event_count, 1)" if "event_count" in columns else "1"
    mask = " ".join(f"WHEN '{name}' THEN {1 << i}" for i, name in
                    enumerate(n.replace("'", "''") for n in core))
    account = ("hash(account_id::VARCHAR) AS account_key" if account_key
               else "account_id::VARCHAR AS account_id")
    mask_expression = f"bit_or(CASE event_name {mask} ELSE 0 END)" if core else "0"
    tracked = "".join(
        f",\n               coalesce(sum(n) FILTER (WHERE event_name = {_quoted([name])}), "
        f"0)::INTEGER AS {column}" if name is not None else f", 0::INTEGER AS {column}"
        for column, name in zip(TRACKED_COLUMNS, _slots(taxonomy), strict=True))
    # user_id is mandatory (validated), so hashing it needs no NULL handling; any numbering
    # of users will do: features only ask whether two rows are one user
    return f"""
        SELECT {account},
               hash(account_id::VARCHAR, user_id::VARCHAR) AS user_key,
               epoch_day,
               sum(n)::BIGINT AS events,
               coalesce(sum(n) FILTER (WHERE event_name IN ({_quoted(core)})), 0)::BIGINT
                   AS core_events,
               coalesce(sum(n) FILTER (WHERE event_name IN
                   ({_quoted(taxonomy.error_events)})), 0)::BIGINT AS error_events,
               coalesce(sum(n) FILTER (WHERE event_name IN
                   ({_quoted(taxonomy.login_events)})), 0)::BIGINT AS logins,
               {mask_expression}::BIGINT AS core_mask{tracked}
        FROM (SELECT account_id, user_id, event_name::VARCHAR AS event_name,
                     (floor(epoch(event_time) / 86400))::INTEGER AS epoch_day,
                     {count}::BIGINT AS n
              FROM {source} WHERE event_time IS NOT NULL)
        GROUP BY ALL"""


def quiet_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that draws no progress bar: at 10^5 accounts its
    queries pass DuckDB's two seconds and the bar would fill the run's log."""
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    return connection


def daily_rollup(events: pd.DataFrame | Sequence[Path], taxonomy: EventTaxonomy) -> pd.DataFrame:
    """Validated events rolled up to one row per account, user and UTC ``day``: the state a
    daily run keeps so that usage features read these instead of 90 days of raw events.

    Rows carry the ``taxonomy_fingerprint`` they were computed with; ``roll_up`` uses a
    stored rollup only when it matches.
    """
    connection = quiet_connection()
    try:
        columns = _events_view(connection, "events_source", events)
        if columns is None:
            return pd.DataFrame(columns=ROLLUP_COLUMNS)
        rolled = connection.sql(f"""
            SELECT account_id, user_key, to_timestamp(epoch_day * 86400)::TIMESTAMP AS day,
                   events, core_events, error_events, logins, core_mask,
                   {", ".join(TRACKED_COLUMNS)},
                   '{taxonomy_fingerprint(taxonomy)}' AS taxonomy_fingerprint
            FROM ({_daily_sql("events_source", columns, taxonomy)})
            ORDER BY day, account_id, user_key""").df()
    finally:
        connection.close()
    return rolled


#: Columns of a stored daily rollup.
ROLLUP_COLUMNS = ["account_id", "user_key", "day", "events", "core_events", "error_events",
                  "logins", "core_mask", *TRACKED_COLUMNS, "taxonomy_fingerprint"]


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


def current_sources(days: Sequence[pd.Timestamp], event_file: Callable[[pd.Timestamp], Path],
                    rollup_file: Callable[[pd.Timestamp], Path],
                    taxonomy: EventTaxonomy) -> tuple[list[Path], list[Path]]:
    """Per day, its stored rollup when it is current (same taxonomy, not older than the day's
    events), else its validated events: (event files, rollup files)."""
    events, rollups = [], []
    for day in days:
        events_of_day, rollup = event_file(day), rollup_file(day)
        if rollup.exists() and rollup_matches(rollup, taxonomy) and (
                not events_of_day.exists()
                or rollup.stat().st_mtime_ns >= events_of_day.stat().st_mtime_ns):
            rollups.append(rollup)
        elif events_of_day.exists():
            events.append(events_of_day)
    return events, rollups


def roll_up(events: pd.DataFrame | Sequence[Path], accounts: pd.Index, first_day: pd.Timestamp,
            n_days: int, taxonomy: EventTaxonomy,
            rollups: pd.DataFrame | Sequence[Path] = (),
            users_from_day: int = 0, read_on: Sequence[int] | None = None,
            window_lags: Sequence[int] = (0,)) -> UsageRollup:
    """Roll up validated events (a DataFrame, or Parquet files of them) for ``accounts``
    over the ``n_days`` days from ``first_day``; other events are ignored.

    ``rollups`` are stored ``daily_rollup`` files of other days (ones matching the taxonomy:
    see ``rollup_matches``), or their rows as a DataFrame, read instead of those days'
    events. An optional
    ``event_count`` column says how many events a row stands for (an export of daily
    per-user aggregates); without it every row is one event. User-days before grid day
    ``users_from_day`` are left out of ``user_days`` (no distinct-user window reaches them).

    ``read_on``: when features are read on these grid days only, with windows that start and
    end ``window_lags`` days before them, each day's rows move to the next day where a
    window starts or ends (``_span_rollup``): the windows' totals and distinct users are
    unchanged, and a morning reads an account's few spans instead of every user-day of the
    lookback.
    """
    first = int((pd.Timestamp(first_day) - pd.Timestamp(0)).days)
    end = first + int(n_days)
    connection = quiet_connection()
    try:
        keys = _account_keys(connection, accounts)
        columns = _events_view(connection, "events_source", events)
        parts = [] if columns is None else [
            _daily_sql("events_source", columns, taxonomy, account_key=True)]
        if isinstance(rollups, pd.DataFrame):
            connection.register("rollups_source", rollups)
            rollup_source, rollup_rows = "rollups_source", len(rollups)
        else:
            rollup_source = f"read_parquet([{_quoted([str(p) for p in rollups])}])"
            rollup_rows = sum(pq.read_metadata(path).num_rows for path in rollups)
        if rollup_rows:
            parts.append(
                "SELECT hash(account_id) AS account_key, user_key, "
                "(epoch(day) / 86400)::INTEGER AS epoch_day, events, core_events, "
                f"error_events, logins, core_mask, {', '.join(TRACKED_COLUMNS)} "
                f"FROM {rollup_source}")
        if not parts:
            return _empty()
        user_days = f"""
            SELECT account_key, user_key, (epoch_day - {first})::INTEGER AS day,
                   events::INTEGER AS events, core_events::INTEGER AS core_events,
                   error_events::INTEGER AS error_events, logins > 0 AS logged_in, core_mask,
                   {", ".join(f"{c}::INTEGER AS {c}" for c in TRACKED_COLUMNS)}
            FROM ({" UNION ALL ".join(parts)})
            WHERE epoch_day >= {first} AND epoch_day < {end}"""
        if read_on is not None:
            return _span_rollup(connection, user_days, read_on, window_lags, users_from_day)
        if columns is not None:
            return _roll_up_in_duckdb(connection, user_days, users_from_day)
        # stored rollups alone: sorted by day, account and user, and read in the order given
        rows = _read_rows(connection, user_days, rollup_rows, keys)
    finally:
        connection.close()
    if rows is None:
        return _empty()
    rows = _in_cell_order(rows, len(accounts))
    # the two read the same rows and write nothing shared: side by side on two cores
    with ThreadPoolExecutor(max_workers=1) as pool:
        user_days = pool.submit(_user_days, rows, users_from_day)
        return UsageRollup(_account_days(rows, len(accounts)), user_days.result())


#: Rows per batch read from DuckDB: big enough to keep per-batch calls few, small enough
#: that DuckDB and Arrow reuse their buffers.
BATCH_ROWS = 1 << 20


def _account_keys(connection: duckdb.DuckDBPyConnection, accounts: pd.Index) -> pd.Index:
    """DuckDB's 64-bit ``hash`` of each account id, in the order of ``accounts``; also kept
    in the connection as table ``grid_keys`` (``account_key``, ``account``: the position).

    Rows are numbered by their account id's hash, so that no id string leaves DuckDB or is
    matched as a string: that costs several times as much at millions of rows.
    """
    connection.register("grid_accounts", pa.table({
        "account_id": pa.array([str(account) for account in accounts], pa.string()),
        "account": pa.array(np.arange(len(accounts)), pa.int64())}))
    connection.execute("CREATE TEMP TABLE grid_keys AS SELECT hash(account_id) AS account_key,"
                       " account FROM grid_accounts ORDER BY account")
    connection.unregister("grid_accounts")
    keys = pd.Index(connection.sql(
        "SELECT account_key FROM grid_keys ORDER BY account").fetchnumpy()["account_key"])
    if not keys.is_unique:  # about 1 in 10^8 for a million accounts
        raise ValueError("two account ids have the same 64-bit hash; roll_up cannot tell "
                         "them apart")
    return keys


def _roll_up_in_duckdb(connection: duckdb.DuckDBPyConnection, user_days: str,
                       users_from_day: int) -> UsageRollup:
    """The roll-up of ``user_days`` (a query with an ``account_key``), in DuckDB, numbered
    by the connection's ``grid_keys`` (see ``_account_keys``).

    Events come out of a hash aggregation in no order, and on this path reading every
    user-day out to sort it costs more than it saves: DuckDB keeps them in its own memory
    and hands out the per-(account, day) totals and the user-days that windows read.
    """
    connection.execute(f"""
        CREATE TEMP TABLE user_days AS
        SELECT g.account, r.* EXCLUDE (account_key)
        FROM ({user_days}) r JOIN grid_keys g USING (account_key)""")
    n_user_days = connection.sql("SELECT count(*) FROM user_days").fetchall()[0][0]
    totals = _read_rows(connection, f"""
        SELECT account, day::BIGINT AS day, sum(events)::BIGINT AS events,
               sum(core_events)::BIGINT AS core_events,
               sum(error_events)::BIGINT AS error_events, count(*) AS active_users,
               count(*) FILTER (WHERE logged_in) AS login_users,
               bit_or(core_mask)::BIGINT AS core_mask,
               {", ".join(f"sum({c})::BIGINT AS {c}" for c in TRACKED_COLUMNS)}
        FROM user_days GROUP BY account, day ORDER BY day, account""", n_user_days)
    return _with_user_days(connection, totals, "user_days", users_from_day, n_user_days)


def _with_user_days(connection: duckdb.DuckDBPyConnection,
                    totals: dict[str, np.ndarray] | None, user_days: str,
                    users_from_day: int, max_rows: int) -> UsageRollup:
    """The roll-up of per-(account, day) ``totals`` (tracked slots as columns) and the rows
    of ``user_days`` (``account, user_key, day``, one per user and day): each one's days
    since its user's previous, by a window over each user's days, read out only for the
    days that distinct-user windows reach."""
    if totals is None:
        return _empty()
    totals["tracked"] = np.stack([totals.pop(c) for c in TRACKED_COLUMNS])
    account_days = AccountDays(**{name: totals[name] for name in AccountDays.__dataclass_fields__})
    users = _read_rows(connection, f"""
        SELECT account, day, days_since_previous FROM (
            SELECT account, day,
                   coalesce(day - lag(day) OVER (PARTITION BY user_key ORDER BY day),
                            day + {NO_PREVIOUS_DAY}) AS days_since_previous
            FROM {user_days})
        WHERE day >= {int(users_from_day)}""", max_rows)
    return UsageRollup(account_days,
                       _empty().user_days if users is None else UserDays(**users))


def _span_rollup(connection: duckdb.DuckDBPyConnection, user_days: str,
                 read_on: Sequence[int], window_lags: Sequence[int],
                 users_from_day: int) -> UsageRollup:
    """The roll-up of ``user_days`` for features read on grid days ``read_on`` only: each
    day's rows move to the next day where a window starts or ends (``read_on`` less
    ``window_lags``), the last of their span.

    A window whose both ends are span ends is a union of whole spans, so its totals, OR of
    core features and distinct users (a user counts on its first span in the window) are
    those of the days themselves. The last login alone needs its own day: each account's
    latest on or before each day of ``read_on`` is added as a row of one login user and
    nothing else.
    """
    window_ends = sorted({day - lag for day in read_on for lag in (0, *window_lags)
                          if day - lag >= 0})
    span = "CASE " + " ".join(f"WHEN day <= {end} THEN {end}" for end in window_ends) + (
        f" ELSE {window_ends[-1]} END")
    sums = ["events", "core_events", "error_events", *TRACKED_COLUMNS]
    # Aggregated as the user-days are read: materialising them first cost more than the
    # aggregation itself. Accounts are matched on the few spans, not on every user-day.
    connection.execute(f"""
        CREATE TEMP TABLE span_totals AS
        SELECT g.account, s.* EXCLUDE (account_key) FROM (
            SELECT account_key, span AS day,
                   {", ".join(f"sum({c})::BIGINT AS {c}" for c in sums)},
                   count(*) AS active_users, bit_or(core_mask)::BIGINT AS core_mask,
                   max(CASE WHEN logged_in THEN day END) AS last_login
            FROM (SELECT *, {span} AS span FROM ({user_days}))
            GROUP BY account_key, span) s
        JOIN grid_keys g USING (account_key)""")
    connection.execute(f"""
        CREATE TEMP TABLE user_spans AS
        SELECT g.account, s.user_key, s.day FROM (
            SELECT DISTINCT account_key, user_key, {span} AS day FROM ({user_days})) s
        JOIN grid_keys g USING (account_key)""")
    zeros = ", ".join(f"0 AS {c}" for c in sums)
    logins = " UNION ALL ".join(
        f"""SELECT account, max(last_login) AS day, {zeros}, 0 AS active_users,
                   1 AS login_users, 0 AS core_mask
            FROM span_totals WHERE last_login IS NOT NULL AND day <= {int(day)}
            GROUP BY account"""
        for day in sorted(set(read_on)))
    totals = _read_rows(connection, f"""
        SELECT account, day::BIGINT AS day,
               {", ".join(f"sum({c})::BIGINT AS {c}" for c in sums)},
               sum(active_users)::BIGINT AS active_users,
               sum(login_users)::BIGINT AS login_users, bit_or(core_mask)::BIGINT AS core_mask
        FROM (SELECT account, day, {", ".join(sums)}, active_users, 0 AS login_users,
                     core_mask
              FROM span_totals
              UNION ALL
              {logins})
        GROUP BY account, day ORDER BY day, account""",
        (len(window_ends) + len(read_on))
        * connection.sql("SELECT count(*) FROM grid_keys").fetchall()[0][0])
    return _with_user_days(connection, totals, "user_spans", users_from_day,
                           connection.sql("SELECT count(*) FROM user_spans").fetchall()[0][0])


def _read_rows(connection: duckdb.DuckDBPyConnection, query: str, max_rows: int,
               keys: pd.Index | None = None) -> dict[str, np.ndarray] | None:
    """The rows of ``query`` (at most ``max_rows``) as numpy columns; None when there are
    none. With ``keys``, ``account_key`` is replaced by ``account``, the position of the key
    in ``keys``, and rows whose key is not in ``keys`` are left out.

    Each batch is copied into columns allocated once and then let go, so that Arrow reuses
    its buffers: on this VM fresh memory is slow to fault in, and numpy's large arrays get
    huge pages where Arrow's do not. Rows are left out in the same copy, a batch at a time:
    a pass over the whole read afterwards copied every column again (3 s at 200k accounts).
    """
    reader = connection.sql(query).to_arrow_reader(BATCH_ROWS)
    names = ["account" if keys is not None and name == "account_key" else name
             for name in reader.schema.names]
    columns = {name: np.empty(max_rows, dtype=np.int64 if name == "account"
                              else field.type.to_pandas_dtype())
               for name, field in zip(names, reader.schema, strict=True)}
    filled = 0
    for batch in reader:
        values = {name: column.to_numpy(zero_copy_only=False)
                  for name, column in zip(names, batch.columns, strict=True)}
        keep = None
        if keys is not None:
            values["account"] = keys.get_indexer(values["account"])
            if values["account"].min(initial=0) < 0:
                keep = values["account"] >= 0
        end = filled + (batch.num_rows if keep is None else int(keep.sum()))
        for name, batch_values in values.items():
            columns[name][filled:end] = batch_values if keep is None else batch_values[keep]
        filled = end
    if not filled:
        return None
    return {name: values[:filled] for name, values in columns.items()}


def _in_cell_order(rows: dict[str, np.ndarray], n_accounts: int) -> dict[str, np.ndarray]:
    """The rows (of grid accounts), with their ``cell`` (day * accounts + account), sorted by
    day then account (stored rollups already are)."""
    cell = rows["day"].astype(np.int64)
    cell *= n_accounts
    cell += rows["account"]
    rows["cell"] = cell
    if not (cell[1:] >= cell[:-1]).all():
        order = np.argsort(cell, kind="stable")
        rows = {name: values[order] for name, values in rows.items()}
    return rows


def _account_days(rows: dict[str, np.ndarray], n_accounts: int) -> AccountDays:
    """Per-(account, day) totals of user-day ``rows`` in cell order: sums over runs."""
    cell = rows["cell"]
    if not len(cell):
        return _empty().account_days
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    last = np.r_[starts[1:], len(cell)] - 1

    running = np.empty(len(cell), dtype=np.int32)  # one buffer for every running sum

    def total(values: np.ndarray) -> np.ndarray:
        # Differences of running sums: add.reduceat pays a call per run, of a few rows each.
        # The sums stay in int32, as the counts are: numpy's int32 -> int64 running sum is
        # twenty times slower. They wrap past 2^31, but the difference of two wrapped sums
        # is exact while one account-day's total stays below 2^31.
        sums = np.cumsum(values.astype(np.int32, copy=False), out=running)[last]
        return np.diff(sums, prepend=np.int32(0)).astype(np.int64)

    return AccountDays(
        account=cell[starts] % n_accounts, day=cell[starts] // n_accounts,
        events=total(rows["events"]), core_events=total(rows["core_events"]),
        error_events=total(rows["error_events"]),
        active_users=np.diff(np.r_[starts, len(cell)]), login_users=total(rows["logged_in"]),
        core_mask=np.bitwise_or.reduceat(rows["core_mask"], starts),
        tracked=np.stack([total(rows[c]) for c in TRACKED_COLUMNS]))


def _user_days(rows: dict[str, np.ndarray], users_from_day: int) -> UserDays:
    """User-days from grid day ``users_from_day`` on, with the days since each one's user
    was last active (earlier rows count as earlier activity)."""
    day = rows["day"]
    gap = days_since_previous(rows["user_key"], day)
    first = np.searchsorted(day, int(users_from_day))
    return UserDays(rows["account"][first:], day[first:], gap[first:])


def days_since_previous(user: np.ndarray, day: np.ndarray) -> np.ndarray:
    """For rows sorted by ``day``, one per user and day: the days since the same ``user``'s
    previous row, or ``NO_PREVIOUS_DAY`` or more when there is none. One pass over the days
    with a table of each user's last day, so the rows need no sort by user."""
    gap = np.empty(len(day), dtype=np.int64)
    if not len(day):
        return gap
    codes, users = pd.factorize(user.view(np.int64) if user.dtype == np.uint64 else user,
                                size_hint=_distinct_estimate(user))
    last = np.full(len(users), -NO_PREVIOUS_DAY, dtype=np.int64)
    bounds = np.r_[0, np.flatnonzero(day[1:] != day[:-1]) + 1, len(day)]
    for begin, end in zip(bounds[:-1], bounds[1:], strict=False):
        today = codes[begin:end]
        gap[begin:end] = day[begin] - last[today]
        last[today] = day[begin]
    return gap


def _distinct_estimate(keys: np.ndarray) -> int:
    """About how many distinct ``keys`` (uniform 64-bit hashes) there are, from the 1/64 of
    them whose low bits are zero. pandas otherwise sizes its hash table for every row, and
    a table just big enough for the distinct keys is several times faster (it stays in
    cache)."""
    return max(64 * len(np.unique(keys[(keys & 63) == 0])), 1024)


def _empty() -> UsageRollup:
    empty = np.zeros(0, dtype=np.int64)
    return UsageRollup(AccountDays(*[empty] * 8, np.zeros((TRACKED_EVENT_SLOTS, 0), np.int64)),
                       UserDays(empty, empty, empty))
