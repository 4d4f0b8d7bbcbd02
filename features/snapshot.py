"""Daily account snapshot: one row per (account_id, as_of_date) with point-in-time features.

An as-of date D means the end of day D (UTC): every feature for D uses only data with a
timestamp before D+1 00:00 UTC, and the row's ``event_timestamp`` (what Feast joins on) is
D+1 00:00 UTC. Usage windows are trailing calendar days ending with D: "30d" is (D-30, D].

Computation is vectorised over an (account x day) grid with cumulative sums, so it costs
O(accounts x days) regardless of window lengths. Results for a date never depend on which
range of dates is computed together, which keeps partitioned runs deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import EventTaxonomy
from features.labels import active_on, active_periods

#: Days of event history a snapshot needs before its as-of date (longest usage window).
EVENT_LOOKBACK_DAYS = 90
DAYS_SINCE_LOGIN_CAP = EVENT_LOOKBACK_DAYS
NPS_WINDOW_DAYS = 120
#: Days before the first as-of date covered by the day grid (longest window of any table).
GRID_LOOKBACK_DAYS = 2 * NPS_WINDOW_DAYS

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
}
GROUP_SOURCE_TABLE = {
    "account_usage": "events", "account_billing": "subscriptions", "account_profile": "accounts",
    "account_payments": "invoices", "account_support": "support_tickets",
    "account_nps": "nps_responses",
}
KEY_COLUMNS = ["account_id", "as_of_date", "event_timestamp"]
HIGH_PRIORITIES = ("high", "urgent")


def feature_groups_for(tables_present: set[str]) -> list[str]:
    """Feature groups whose source table is present (usage and billing always are)."""
    return [g for g, table in GROUP_SOURCE_TABLE.items() if table in tables_present]


def snapshot_columns(groups: list[str]) -> list[str]:
    """Column order of the snapshot table for the given feature groups."""
    return KEY_COLUMNS + [c for g in groups for c in FEATURE_GROUPS[g]]


@dataclass(frozen=True)
class _Grid:
    """Accounts x days index used by all matrix computations."""

    accounts: pd.Index
    first_day: pd.Timestamp
    n_days: int

    def day_index(self, timestamps: pd.Series) -> np.ndarray:
        days = pd.to_datetime(timestamps)
        if getattr(days.dt, "tz", None) is not None:
            days = days.dt.tz_convert("UTC").dt.tz_localize(None)
        return ((days.dt.normalize() - self.first_day).dt.days).to_numpy()

    def count_matrix(self, account_codes: np.ndarray, day_idx: np.ndarray,
                     weights: np.ndarray | None = None) -> np.ndarray:
        """Sum of ``weights`` (default 1) per (account, day); rows outside the grid ignored."""
        keep = (account_codes >= 0) & (day_idx >= 0) & (day_idx < self.n_days)
        flat = account_codes[keep] * self.n_days + day_idx[keep]
        w = None if weights is None else weights[keep]
        counts = np.bincount(flat, weights=w, minlength=len(self.accounts) * self.n_days)
        return counts.reshape(len(self.accounts), self.n_days)


def _window_sum(matrix: np.ndarray, window: int, lag: int = 0) -> np.ndarray:
    """Sum over days (d-lag-window, d-lag] for every day d (columns), zero outside the grid."""
    cum = np.concatenate([np.zeros((matrix.shape[0], 1)), np.cumsum(matrix, axis=1)], axis=1)
    idx = np.arange(matrix.shape[1])
    hi = np.clip(idx + 1 - lag, 0, matrix.shape[1])
    lo = np.clip(idx + 1 - lag - window, 0, matrix.shape[1])
    return cum[:, hi] - cum[:, lo]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1),
                        np.nan)


def _change(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Relative change (current - previous) / previous; undefined when previous is 0."""
    return _ratio(current - previous, previous)


def compute_snapshots(
    as_of_dates: pd.DatetimeIndex,
    *,
    events: pd.DataFrame,
    subscriptions: pd.DataFrame,
    accounts: pd.DataFrame | None = None,
    invoices: pd.DataFrame | None = None,
    support_tickets: pd.DataFrame | None = None,
    nps_responses: pd.DataFrame | None = None,
    taxonomy: EventTaxonomy | None = None,
) -> pd.DataFrame:
    """Snapshot rows for every account active at the end of each as-of date.

    ``events`` must cover at least the ``EVENT_LOOKBACK_DAYS`` before the first date; the
    other tables are whole (validated) tables. Optional tables passed as ``None`` leave their
    feature group out of the result entirely rather than filling it with zeros.
    """
    taxonomy = taxonomy or EventTaxonomy()
    dates = pd.DatetimeIndex(as_of_dates).normalize().unique().sort_values()
    periods = active_periods(subscriptions)
    grid_rows = active_on(periods, dates)[["account_id", "as_of_date"]]
    present = {"events", "subscriptions"} | {
        name for name, table in [("accounts", accounts), ("invoices", invoices),
                                 ("support_tickets", support_tickets),
                                 ("nps_responses", nps_responses)] if table is not None}
    groups = feature_groups_for(present)
    if grid_rows.empty:
        return _empty_snapshot(groups)

    account_index = pd.Index(np.sort(grid_rows["account_id"].unique()))
    first_day = dates[0] - pd.Timedelta(days=GRID_LOOKBACK_DAYS)
    grid = _Grid(account_index, first_day, (dates[-1] - first_day).days + 1)
    row_acc = account_index.get_indexer(grid_rows["account_id"])
    row_day = grid.day_index(grid_rows["as_of_date"])

    columns: dict[str, np.ndarray] = {}
    account_start = _account_start(subscriptions, accounts)
    columns.update(_usage_features(grid, events, taxonomy, row_acc, row_day,
                                   account_start, grid_rows))
    columns.update(_billing_features(grid_rows, subscriptions, account_start))
    if accounts is not None:
        profile = accounts.set_index("account_id").reindex(grid_rows["account_id"])
        columns["segment"] = profile["segment"].to_numpy()
        columns["industry"] = profile["industry"].to_numpy()
    if invoices is not None:
        columns.update(_payment_features(grid, invoices, row_acc, row_day))
    if support_tickets is not None:
        columns.update(_support_features(grid, support_tickets, row_acc, row_day))
    if nps_responses is not None:
        columns.update(_nps_features(grid, nps_responses, row_acc, row_day))

    snapshot = pd.DataFrame({
        "account_id": grid_rows["account_id"].to_numpy(),
        "as_of_date": grid_rows["as_of_date"].to_numpy(),
        "event_timestamp": (grid_rows["as_of_date"] + pd.Timedelta(days=1)).dt.tz_localize(
            "UTC").to_numpy(),
        **columns,
    })
    snapshot["active_users_per_seat"] = _ratio(snapshot["active_users_30d"].to_numpy(float),
                                               snapshot["seats"].to_numpy(float))
    return _typed(snapshot[snapshot_columns(groups)], groups)


def _empty_snapshot(groups: list[str]) -> pd.DataFrame:
    empty = pd.DataFrame({c: [] for c in snapshot_columns(groups)})
    empty["as_of_date"] = pd.to_datetime(empty["as_of_date"])
    empty["event_timestamp"] = pd.to_datetime(empty["event_timestamp"], utc=True)
    return _typed(empty, groups)


def _typed(snapshot: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    dtypes = {"int": "Int64", "float": "float64", "str": "object"}
    return snapshot.astype({c: dtypes[k] for g in groups for c, k in FEATURE_GROUPS[g].items()})


def _account_start(subscriptions: pd.DataFrame, accounts: pd.DataFrame | None) -> pd.Series:
    """Signup date from ``accounts`` when known, otherwise the first subscription start."""
    start = subscriptions.groupby("account_id")["start_date"].min()
    if accounts is not None:
        signup = accounts.set_index("account_id")["signup_date"].dropna()
        start = signup.combine_first(start)
    return start


def _usage_features(grid: _Grid, events: pd.DataFrame, taxonomy: EventTaxonomy,
                    row_acc: np.ndarray, row_day: np.ndarray, account_start: pd.Series,
                    grid_rows: pd.DataFrame) -> dict[str, np.ndarray]:
    acc = grid.accounts.get_indexer(events["account_id"].astype(str))
    day = grid.day_index(events["event_time"])
    keep = (acc >= 0) & (day >= 0) & (day < grid.n_days)
    acc, day = acc[keep], day[keep]
    names = events["event_name"].astype(str).to_numpy()[keep]
    user_of_event = pd.factorize(events["user_id"])[0][keep]

    def at_rows(matrix: np.ndarray) -> np.ndarray:
        return matrix[row_acc, row_day]

    events_daily = grid.count_matrix(acc, day)
    is_core = np.isin(names, taxonomy.core_events)
    is_error = np.isin(names, taxonomy.error_events)
    is_login = np.isin(names, taxonomy.login_events)
    core_daily = grid.count_matrix(acc[is_core], day[is_core])
    error_daily = grid.count_matrix(acc[is_error], day[is_error])

    # Distinct active users per trailing window: a user counts once if active on any day.
    account_user = acc.astype(np.int64) * (user_of_event.max(initial=0) + 1) + user_of_event
    user_day = pd.DataFrame({"acc": acc, "user": account_user, "day": day}).drop_duplicates()
    user_codes = pd.factorize(user_day["user"])[0]
    user_account = np.zeros(user_codes.max() + 1 if len(user_codes) else 0, dtype=np.int64)
    user_account[user_codes] = user_day["acc"].to_numpy()
    dau = grid.count_matrix(user_day["acc"].to_numpy(), user_day["day"].to_numpy())
    distinct = {}
    for name, window, lag in [("7d", 7, 0), ("prev_7d", 7, 7), ("30d", 30, 0),
                              ("prev_30d", 30, 30)]:
        distinct[name] = _distinct_users(grid, user_codes, user_account,
                                         user_day["day"].to_numpy(), window, lag)[row_acc, row_day]

    # Breadth: share of configured core features used at least once in the last 30 days.
    breadth = np.zeros(len(row_acc))
    for feature in taxonomy.core_events:
        mask = names == feature
        used = _window_sum(grid.count_matrix(acc[mask], day[mask]), 30)[row_acc, row_day] > 0
        breadth += used
    breadth = breadth / max(len(taxonomy.core_events), 1)

    # Days since last login (or since the account started), capped at the lookback.
    login_daily = grid.count_matrix(acc[is_login], day[is_login]) > 0
    day_numbers = np.arange(grid.n_days)
    last_login = np.maximum.accumulate(np.where(login_daily, day_numbers, -10**6), axis=1)
    since_login = row_day - last_login[row_acc, row_day]
    start = account_start.reindex(grid_rows["account_id"]).to_numpy()
    since_start = ((grid_rows["as_of_date"].to_numpy() - start) / np.timedelta64(1, "D"))
    since_login = np.minimum(np.minimum(since_login, np.maximum(since_start, 0)),
                             DAYS_SINCE_LOGIN_CAP)

    events_7d = at_rows(_window_sum(events_daily, 7))
    events_prev_7d = at_rows(_window_sum(events_daily, 7, lag=7))
    events_30d = at_rows(_window_sum(events_daily, 30))
    events_prev_30d = at_rows(_window_sum(events_daily, 30, lag=30))
    core_30d = at_rows(_window_sum(core_daily, 30))
    errors_30d = at_rows(_window_sum(error_daily, 30))
    dau_mean_30d = at_rows(_window_sum(dau, 30)) / 30.0
    users_30d = distinct["30d"]
    return {
        "active_users_7d": distinct["7d"],
        "active_users_30d": users_30d,
        "dau_mau_ratio": _ratio(dau_mean_30d, users_30d),
        "active_users_per_seat": np.full(len(row_acc), np.nan),  # needs seats; set by caller
        "events_7d": events_7d,
        "events_30d": events_30d,
        "events_per_active_user_30d": _ratio(events_30d, users_30d),
        "core_feature_breadth_30d": breadth,
        "core_events_per_active_user_30d": _ratio(core_30d, users_30d),
        "days_since_last_login": since_login,
        "usage_velocity_30d": _change(events_30d, events_prev_30d),
        "events_wow_change": _change(events_7d, events_prev_7d),
        "active_users_wow_change": _change(distinct["7d"], distinct["prev_7d"]),
        "active_users_mom_change": _change(users_30d, distinct["prev_30d"]),
        "error_rate_30d": _ratio(errors_30d, events_30d),
    }


def _distinct_users(grid: _Grid, user_codes: np.ndarray, user_account: np.ndarray,
                    user_days: np.ndarray, window: int, lag: int) -> np.ndarray:
    """(account x day) count of distinct users active in (d-lag-window, d-lag].

    Each active user-day covers the as-of days [day+lag, day+lag+window-1]; overlapping
    covers of the same user are merged so the user counts once, then a +1/-1 sweep over
    days gives the count. Linear in user-days.
    """
    order = np.lexsort((user_days, user_codes))
    users, starts = user_codes[order], user_days[order] + lag
    ends = starts + window  # exclusive
    same_user = np.r_[False, users[1:] == users[:-1]]
    # A cover merges into the previous one when it starts before the previous end.
    prev_end = np.r_[0, ends[:-1]]
    begins_run = ~same_user | (starts > prev_end)
    run_start = starts[begins_run]
    run_end = np.maximum.reduceat(ends, np.flatnonzero(begins_run)) if len(ends) else ends
    run_account = user_account[users[begins_run]]
    delta = np.zeros((len(grid.accounts), grid.n_days + 1))
    np.add.at(delta, (run_account, np.clip(run_start, 0, grid.n_days)), 1)
    np.add.at(delta, (run_account, np.clip(run_end, 0, grid.n_days)), -1)
    return np.cumsum(delta, axis=1)[:, : grid.n_days]


def _billing_features(grid_rows: pd.DataFrame, subscriptions: pd.DataFrame,
                      account_start: pd.Series) -> dict[str, np.ndarray]:
    """MRR, seats, plan and renewal timing from subscriptions active at each as-of date.

    ``end_date`` is used only to decide whether a subscription is active on a day, never as
    a feature: a future end date is not known at the as-of date.
    """
    subs = subscriptions.reset_index(drop=True)
    dates = pd.DatetimeIndex(grid_rows["as_of_date"].unique()).sort_values()
    lagged = dates - pd.Timedelta(days=90)

    def active_subscriptions(on_dates: pd.DatetimeIndex) -> pd.DataFrame:
        starts = subs["start_date"].to_numpy()
        ends = subs["end_date"].fillna(pd.Timestamp("2262-01-01")).to_numpy()
        first = np.searchsorted(on_dates.values, starts, side="left")
        last = np.searchsorted(on_dates.values, ends, side="left")
        counts = np.clip(last - first, 0, None)
        rows = np.repeat(np.arange(len(subs)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        frame = subs.iloc[rows].reset_index(drop=True)
        frame["as_of_date"] = on_dates.values[first[rows] + offsets]
        return frame

    current = active_subscriptions(dates)
    totals = current.groupby(["account_id", "as_of_date"]).agg(
        mrr=("mrr", "sum"), seats=("seats", "sum"))
    # The primary subscription (largest MRR, then earliest start) sets plan and renewal.
    primary = current.sort_values(["mrr", "start_date", "subscription_id"],
                                  ascending=[False, True, True])
    primary = primary.drop_duplicates(["account_id", "as_of_date"]).set_index(
        ["account_id", "as_of_date"])
    before = active_subscriptions(lagged).groupby(["account_id", "as_of_date"])["mrr"].sum()
    before.index = before.index.set_levels(before.index.levels[1] + pd.Timedelta(days=90),
                                           level=1)

    key = pd.MultiIndex.from_frame(grid_rows[["account_id", "as_of_date"]])
    mrr = totals["mrr"].reindex(key).to_numpy()
    mrr_before = before.reindex(key).fillna(0.0).to_numpy()
    prim = primary.reindex(key)
    as_of = grid_rows["as_of_date"].to_numpy()
    tenure = (as_of - account_start.reindex(grid_rows["account_id"]).to_numpy()) / np.timedelta64(
        1, "D")
    return {
        "plan": prim["plan"].to_numpy(),
        "billing_period": prim["billing_period"].to_numpy(),
        "seats": totals["seats"].reindex(key).to_numpy(),
        "mrr": mrr,
        "mrr_change_90d": mrr - mrr_before,
        "mrr_change_90d_pct": _change(mrr, mrr_before),
        "days_to_renewal": days_to_renewal(prim["start_date"], prim["billing_period"],
                                           pd.Series(as_of)),
        "tenure_days": np.maximum(tenure, 0),
    }


def days_to_renewal(start: pd.Series, billing_period: pd.Series,
                    as_of: pd.Series) -> np.ndarray:
    """Days from each as-of date to the next term anniversary of the subscription start.

    Monthly terms renew every month and annual terms every 12 months on the start's day of
    month (clipped to the month's last day). The anniversary falls strictly after the as-of
    date, so a renewal today counts as the next term (the term has just renewed).
    """
    start = pd.DatetimeIndex(start.to_numpy())
    as_of = pd.DatetimeIndex(as_of.to_numpy())
    term = np.where(np.asarray(billing_period) == "annual", 12, 1)
    start_month = start.year.to_numpy() * 12 + start.month.to_numpy() - 1
    as_of_month = as_of.year.to_numpy() * 12 + as_of.month.to_numpy() - 1

    def anniversary(k_terms: np.ndarray) -> pd.DatetimeIndex:
        month = start_month + k_terms * term
        month_start = pd.to_datetime(
            {"year": month // 12, "month": month % 12 + 1, "day": np.ones_like(month)})
        last_day = (month_start + pd.offsets.MonthEnd(0)).dt.day.to_numpy()
        return pd.DatetimeIndex(month_start + pd.to_timedelta(
            np.minimum(start.day.to_numpy(), last_day) - 1, unit="D"))

    k = np.maximum((as_of_month - start_month) // term, 0)
    candidate = anniversary(k)
    k = np.where(candidate <= as_of, k + 1, k)
    return (anniversary(k) - as_of).days.to_numpy()


def _payment_features(grid: _Grid, invoices: pd.DataFrame, row_acc: np.ndarray,
                      row_day: np.ndarray) -> dict[str, np.ndarray]:
    """Failed and late payments with a due date in the last 90 days.

    A payment is late once its due time has passed unpaid, so it counts from its due day on
    (paid after due, or never paid); that is known at the as-of date without looking ahead.
    """
    inv = invoices[invoices["due_at"].notna()]
    acc = grid.accounts.get_indexer(inv["account_id"].astype(str))
    due_day = grid.day_index(inv["due_at"])
    failed = (inv["status"] == "failed").to_numpy()
    late = (inv["paid_at"].isna() | (inv["paid_at"] > inv["due_at"])).to_numpy() & ~failed
    return {
        "failed_payments_90d": _window_sum(grid.count_matrix(acc[failed], due_day[failed]),
                                           90)[row_acc, row_day],
        "late_payments_90d": _window_sum(grid.count_matrix(acc[late], due_day[late]),
                                         90)[row_acc, row_day],
    }


def _open_counts(grid: _Grid, acc: np.ndarray, open_day: np.ndarray,
                 close_day: np.ndarray) -> np.ndarray:
    """(account x day) count of items opened on or before d and not closed by the end of d."""
    keep = acc >= 0
    delta = np.zeros((len(grid.accounts), grid.n_days + 1))
    np.add.at(delta, (acc[keep], np.clip(open_day[keep], 0, grid.n_days)), 1)
    np.add.at(delta, (acc[keep], np.clip(close_day[keep], 0, grid.n_days)), -1)
    return np.cumsum(delta, axis=1)[:, : grid.n_days]


def _support_features(grid: _Grid, tickets: pd.DataFrame, row_acc: np.ndarray,
                      row_day: np.ndarray) -> dict[str, np.ndarray]:
    acc = grid.accounts.get_indexer(tickets["account_id"].astype(str))
    opened = grid.day_index(tickets["opened_at"])
    closed_at = tickets["closed_at"]
    # Still-open tickets close "never"; a ticket closed on day d is no longer open at its end.
    closed = np.where(closed_at.notna(), grid.day_index(closed_at.fillna(tickets["opened_at"])),
                      grid.n_days)
    high = tickets["priority"].isin(HIGH_PRIORITIES).to_numpy()
    csat = tickets["csat"].to_numpy(dtype=float)
    rated = ~np.isnan(csat) & closed_at.notna().to_numpy()
    csat_sum = _window_sum(grid.count_matrix(acc[rated], closed[rated], csat[rated]), 90)
    csat_n = _window_sum(grid.count_matrix(acc[rated], closed[rated]), 90)
    return {
        "open_tickets": _open_counts(grid, acc, opened, closed)[row_acc, row_day],
        "open_high_priority_tickets": _open_counts(grid, acc[high], opened[high],
                                                   closed[high])[row_acc, row_day],
        "tickets_30d": _window_sum(grid.count_matrix(acc, opened), 30)[row_acc, row_day],
        "avg_csat_90d": _ratio(csat_sum, csat_n)[row_acc, row_day],
    }


def _nps_features(grid: _Grid, nps: pd.DataFrame, row_acc: np.ndarray,
                  row_day: np.ndarray) -> dict[str, np.ndarray]:
    """Mean NPS score over the last 120 days and its change from the 120 days before."""
    acc = grid.accounts.get_indexer(nps["account_id"].astype(str))
    day = grid.day_index(nps["responded_at"])
    score = nps["score"].to_numpy(dtype=float)
    total = grid.count_matrix(acc, day, score)
    count = grid.count_matrix(acc, day)
    latest = _ratio(_window_sum(total, NPS_WINDOW_DAYS), _window_sum(count, NPS_WINDOW_DAYS))
    previous = _ratio(_window_sum(total, NPS_WINDOW_DAYS, lag=NPS_WINDOW_DAYS),
                      _window_sum(count, NPS_WINDOW_DAYS, lag=NPS_WINDOW_DAYS))
    return {"nps_latest": latest[row_acc, row_day],
            "nps_trend": (latest - previous)[row_acc, row_day]}
