"""Daily account snapshot: one row per (account_id, as_of_date) with point-in-time features.

An as-of date D means the end of day D (UTC): every feature for D uses only data with a
timestamp before D+1 00:00 UTC, and the row's ``event_timestamp`` (what Feast joins on) is
D+1 00:00 UTC. Usage windows are trailing calendar days ending with D: "30d" is (D-30, D].

Computation is vectorised over a (day x account) grid of running totals
(``features.day_grid``), so it costs O(accounts x days) regardless of window lengths.
Results for a date never depend on which range of dates is computed together, which keeps
partitioned runs deterministic.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from features.billing import account_start, billing_features, payment_features
from features.contract import TRACKED_EVENT_SLOTS, ActivityTaxonomy, EventTaxonomy
from features.day_grid import DayGrid, FewDayGrid, ratio
from features.engagement import engagement_features
from features.labels import active_cells, active_periods
from features.support import NPS_WINDOW_DAYS, nps_features, support_features
from features.usage import (
    DAYS_SINCE_LOGIN_CAP,
    DISTINCT_USERS_LOOKBACK_DAYS,
    WINDOW_BOUNDARY_LAGS,
    usage_features,
)
from features.usage_rollup import roll_up

#: Days of event history a snapshot needs before its as-of date (longest usage window).
EVENT_LOOKBACK_DAYS = DAYS_SINCE_LOGIN_CAP
#: Days before the first as-of date covered by the day grid (longest window of any table).
GRID_LOOKBACK_DAYS = 2 * NPS_WINDOW_DAYS

#: Measures of each tracked event (features.usage): ``event_<slot>_<measure>``.
EVENT_MEASURES: dict[str, str] = {
    "per_user_30d": "float", "7d": "int", "30d": "int", "90d": "int", "mom_change": "float"}
#: Features by the table they come from; a group is absent when its table is absent.
FEATURE_GROUPS: dict[str, dict[str, str]] = {
    "account_usage": {
        "active_users_7d": "int", "active_users_30d": "int", "dau_mau_ratio": "float",
        "active_users_per_seat": "float", "events_7d": "int", "events_30d": "int",
        "events_per_active_user_30d": "float", "core_feature_breadth_30d": "float",
        "core_events_per_active_user_30d": "float", "days_since_last_login": "int",
        "usage_velocity_30d": "float", "events_wow_change": "float",
        "active_users_wow_change": "float", "active_users_mom_change": "float",
        "error_rate_30d": "float",
    },
    # the export's own event names (features.event_vocabulary), slot k for the k-th name
    "account_event_mix": {
        f"event_{slot}_{measure}": EVENT_MEASURES[measure]
        for slot in range(1, TRACKED_EVENT_SLOTS + 1)
        for measure in ("7d", "30d", "90d", "per_user_30d", "mom_change")},
    "account_billing": {
        "plan": "str", "billing_period": "str", "seats": "int", "mrr": "float",
        "mrr_change_90d": "float", "mrr_change_90d_pct": "float", "days_to_renewal": "int",
        "tenure_days": "int",
    },
    "account_profile": {"segment": "str", "industry": "str"},
    "account_payments": {"failed_payments_90d": "int", "late_payments_90d": "int"},
    "account_support": {
        "open_tickets": "int", "open_high_priority_tickets": "int", "tickets_30d": "int",
        "avg_csat_90d": "float",
    },
    "account_nps": {"nps_latest": "float", "nps_trend": "float"},
    "account_engagement": {
        "cs_touches_30d": "int", "cs_touches_90d": "int", "cs_meetings_90d": "int",
        "executive_contacts_180d": "int", "days_since_last_cs_touch": "int",
    },
}
GROUP_SOURCE_TABLE = {
    "account_usage": "events", "account_event_mix": "events",
    "account_billing": "subscriptions", "account_profile": "accounts",
    "account_payments": "invoices", "account_support": "support_tickets",
    "account_nps": "nps_responses", "account_engagement": "cs_activities",
}
KEY_COLUMNS = ["account_id", "as_of_date", "event_timestamp"]


def feature_groups_for(tables_present: set[str]) -> list[str]:
    """Feature groups whose source table is present (usage and billing always are)."""
    return [g for g, table in GROUP_SOURCE_TABLE.items() if table in tables_present]


def groups_in(columns: Collection[str]) -> list[str]:
    """The feature groups whose every column is among ``columns`` (a snapshot file's)."""
    present = set(columns)
    return [g for g, features in FEATURE_GROUPS.items() if present.issuperset(features)]


def snapshot_columns(groups: list[str]) -> list[str]:
    """Column order of the snapshot table for the given feature groups."""
    return KEY_COLUMNS + [c for g in groups for c in FEATURE_GROUPS[g]]


#: Contract tables the features are computed from (of ``cs_activities``, only the routine
#: touches: features.engagement).
FEATURE_TABLES = ("events", "subscriptions", "accounts", "invoices", "support_tickets",
                  "nps_responses", "cs_activities")


def feature_tables(tables: dict[str, pd.DataFrame | None]) -> dict[str, pd.DataFrame | None]:
    """The tables of ``tables`` that features are computed from."""
    return {name: table for name, table in tables.items() if name in FEATURE_TABLES}


def compute_snapshots(
    as_of_dates: pd.DatetimeIndex,
    *,
    events: pd.DataFrame | Sequence[Path],
    subscriptions: pd.DataFrame,
    accounts: pd.DataFrame | None = None,
    invoices: pd.DataFrame | None = None,
    support_tickets: pd.DataFrame | None = None,
    nps_responses: pd.DataFrame | None = None,
    cs_activities: pd.DataFrame | None = None,
    taxonomy: EventTaxonomy | None = None,
    activity_taxonomy: ActivityTaxonomy | None = None,
    usage_rollups: pd.DataFrame | Sequence[Path] = (),
) -> pd.DataFrame:
    """Snapshot rows for every account active at the end of each as-of date.

    ``events`` (a DataFrame, or Parquet files of validated events) must cover at least the
    ``EVENT_LOOKBACK_DAYS`` before the first date; the other tables are whole (validated)
    tables. Optional tables passed as ``None`` leave their feature group out of the result
    entirely rather than filling it with zeros. ``usage_rollups`` are stored daily rollups
    (``features.usage_rollup.daily_rollup``, files or their rows) of days whose events are
    not passed.
    """
    taxonomy = taxonomy or EventTaxonomy()
    dates = pd.DatetimeIndex(as_of_dates).normalize().unique().sort_values()
    cells = active_cells(active_periods(subscriptions), dates)
    present = {"events", "subscriptions"} | {
        name for name, table in [("accounts", accounts), ("invoices", invoices),
                                 ("support_tickets", support_tickets),
                                 ("nps_responses", nps_responses),
                                 ("cs_activities", cs_activities)] if table is not None}
    groups = feature_groups_for(present)
    if not len(cells.account):
        return empty_snapshot(groups)

    account_index, row_acc = cells.accounts, cells.account
    as_of = dates.values[cells.date]

    columns: dict[str, np.ndarray] = {}
    starts = account_start(subscriptions, accounts).reindex(account_index).to_numpy()
    days_since_start = (as_of - starts[row_acc]) / np.timedelta64(1, "D")
    # Usage looks back less far than the other tables: its own, narrower grid.
    usage_first_day = dates[0] - pd.Timedelta(days=EVENT_LOOKBACK_DAYS)
    usage_grid = DayGrid(account_index, usage_first_day, (dates[-1] - usage_first_day).days + 1)
    usage_rows = usage_grid.rows(row_acc, (dates - usage_first_day).days.to_numpy()[cells.date])

    # A few as-of days (the morning's one, training's month-ends): the days between their
    # windows' ends merged in DuckDB, not every user-day read. Not for runs of consecutive
    # days, where nearly every day ends a window.
    read_on = (dates - usage_first_day).days.to_numpy()
    ends = {day - lag for day in read_on for lag in WINDOW_BOUNDARY_LAGS}
    few_days = 3 * len(ends) <= usage_grid.n_days
    merged = read_on if few_days else None
    # The other tables: read off their rows for a few days, off day x account matrices for
    # runs of days.
    first_day = dates[0] - pd.Timedelta(days=GRID_LOOKBACK_DAYS)
    grid = (FewDayGrid if few_days else DayGrid)(account_index, first_day,
                                                 (dates[-1] - first_day).days + 1)
    rows = grid.rows(row_acc, (dates - first_day).days.to_numpy()[cells.date])

    def usage_columns() -> dict[str, np.ndarray]:
        usage = roll_up(events, account_index, usage_first_day, usage_grid.n_days, taxonomy,
                        usage_rollups,
                        users_from_day=EVENT_LOOKBACK_DAYS - DISTINCT_USERS_LOOKBACK_DAYS + 1,
                        read_on=merged, window_lags=WINDOW_BOUNDARY_LAGS)
        return usage_features(usage_grid, usage, taxonomy, usage_rows, days_since_start)

    def other_columns() -> dict[str, np.ndarray]:
        found = billing_features(subscriptions, account_index, dates, row_acc, cells.date)
        if invoices is not None:
            found.update(payment_features(grid, invoices, rows))
        if support_tickets is not None:
            found.update(support_features(grid, support_tickets, rows))
        if nps_responses is not None:
            found.update(nps_features(grid, nps_responses, rows))
        if cs_activities is not None:
            found.update(engagement_features(grid, cs_activities, rows, days_since_start,
                                             activity_taxonomy))
        return found

    # Two cores: usage on a worker thread, the other tables on this one. numpy and DuckDB
    # release the GIL for their array work, and the two share only read-only inputs.
    with ThreadPoolExecutor(max_workers=1) as pool:
        usage_future = pool.submit(usage_columns)
        columns.update(other_columns())
        columns.update(usage_future.result())
    columns["tenure_days"] = np.maximum(days_since_start, 0)
    if accounts is not None:
        profile = accounts.drop_duplicates("account_id").set_index("account_id").reindex(
            account_index)
        columns["segment"] = profile["segment"].to_numpy(dtype=object)[row_acc]
        columns["industry"] = profile["industry"].to_numpy(dtype=object)[row_acc]

    # The one feature that joins usage and billing.
    columns["active_users_per_seat"] = ratio(np.asarray(columns["active_users_30d"], float),
                                             np.asarray(columns["seats"], float))
    kinds = {c: k for g in groups for c, k in FEATURE_GROUPS[g].items()}
    # copy=False: pandas would otherwise copy every column into one block per dtype, which
    # costs more than computing the features
    return pd.DataFrame({
        "account_id": account_index.to_numpy(dtype=object)[row_acc],
        "as_of_date": as_of,
        # an index, not .to_numpy(), which would make an object array of Timestamps
        "event_timestamp": pd.DatetimeIndex(as_of + np.timedelta64(1, "D")).tz_localize("UTC"),
        **{c: _column(columns[c], kinds[c]) for c in snapshot_columns(groups)[3:]},
    }, copy=False)


def _column(values, kind: str):
    """A feature column in its snapshot type, built directly: ``astype`` to a nullable
    integer checks every value and costs more than computing the feature."""
    if kind == "int":
        values = np.asarray(values)
        if values.dtype.kind in "iu":
            return pd.arrays.IntegerArray(values.astype(np.int64, copy=False),
                                          np.zeros(len(values), dtype=bool))
        missing = np.isnan(values)
        with np.errstate(invalid="ignore"):  # the masked values' integers are never read
            return pd.arrays.IntegerArray(values.astype(np.int64), missing)
    if kind == "float":
        return np.asarray(values, dtype=np.float64)
    return np.asarray(values, dtype=object)


def empty_snapshot(groups: list[str]) -> pd.DataFrame:
    """A snapshot with no rows, typed as for ``groups``."""
    empty = pd.DataFrame({c: [] for c in snapshot_columns(groups)})
    empty["as_of_date"] = pd.to_datetime(empty["as_of_date"])
    empty["event_timestamp"] = pd.to_datetime(empty["event_timestamp"], utc=True)
    return _typed(empty, groups)


def snapshot_schema(groups: list[str]) -> pa.Schema:
    """The Arrow schema of snapshot files for ``groups`` (text columns as strings)."""
    empty = empty_snapshot(groups).astype({"account_id": object})
    schema = pa.Schema.from_pandas(empty, preserve_index=False)
    for position, field in enumerate(schema):
        if pa.types.is_null(field.type):
            schema = schema.set(position, field.with_type(pa.string()))
    return schema


def _typed(snapshot: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    dtypes = {"int": "Int64", "float": "float64", "str": "object"}
    return snapshot.astype({c: dtypes[k] for g in groups for c, k in FEATURE_GROUPS[g].items()})
