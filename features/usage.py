"""Product-usage features from events: activity, breadth and depth, recency, trends."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import EventTaxonomy
from features.day_grid import (
    DayGrid,
    TrailingWindows,
    change,
    interval_counts,
    ratio,
    window_sum,
)
from features.usage_rollup import UsageRollup

DAYS_SINCE_LOGIN_CAP = 90


def usage_features(grid: DayGrid, usage: UsageRollup, taxonomy: EventTaxonomy,
                   row_acc: np.ndarray, row_day: np.ndarray, account_start: pd.Series,
                   grid_rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Usage features of the snapshot rows (``row_acc``, ``row_day`` on ``grid``) from the
    events rolled up by ``features.usage_rollup.roll_up`` on the same grid."""
    acc, day = usage.account, usage.day

    def windows(weights: np.ndarray | None = None) -> TrailingWindows:
        return TrailingWindows(grid.count_matrix(acc, day, weights), row_acc, row_day)

    events_daily = windows(usage.events.astype(float))
    core_daily = windows(usage.core_events.astype(float))
    error_daily = windows(usage.error_events.astype(float))
    # Each rollup row is one active user-day, so counting rows counts daily active users.
    dau = windows()

    # Distinct active users per trailing window: a user counts once if active on any day.
    user_account = np.zeros(usage.n_users, dtype=np.int64)
    user_account[usage.user] = acc
    by_user = np.lexsort((day, usage.user))  # one sort serves every window
    users, user_days = usage.user[by_user], day[by_user]
    distinct = {}
    for name, window, lag in [("7d", 7, 0), ("prev_7d", 7, 7), ("30d", 30, 0),
                              ("prev_30d", 30, 30)]:
        distinct[name] = distinct_users(grid, users, user_account, user_days, window,
                                        lag)[row_acc, row_day]

    # Breadth: share of configured core features used at least once in the last 30 days.
    breadth = np.zeros(len(row_acc))
    for bit in range(len(taxonomy.core_events)):
        used_by = (usage.core_mask >> bit) & 1 == 1
        breadth += window_sum(grid.count_matrix(acc[used_by], day[used_by]), 30,
                              row_acc, row_day) > 0
    breadth = breadth / max(len(taxonomy.core_events), 1)

    # Days since last login (or since the account started), capped at the lookback.
    login_daily = grid.count_matrix(acc, day, (usage.logins > 0).astype(float)) > 0
    day_numbers = np.arange(grid.n_days)
    last_login = np.maximum.accumulate(np.where(login_daily, day_numbers, -10**6), axis=1)
    since_login = row_day - last_login[row_acc, row_day]
    start = account_start.reindex(grid_rows["account_id"]).to_numpy()
    since_start = ((grid_rows["as_of_date"].to_numpy() - start) / np.timedelta64(1, "D"))
    since_login = np.minimum(np.minimum(since_login, np.maximum(since_start, 0)),
                             DAYS_SINCE_LOGIN_CAP)

    events_7d = events_daily.sum(7)
    events_prev_7d = events_daily.sum(7, lag=7)
    events_30d = events_daily.sum(30)
    events_prev_30d = events_daily.sum(30, lag=30)
    core_30d = core_daily.sum(30)
    errors_30d = error_daily.sum(30)
    dau_mean_30d = dau.sum(30) / 30.0
    users_30d = distinct["30d"]
    return {
        "active_users_7d": distinct["7d"],
        "active_users_30d": users_30d,
        "dau_mau_ratio": ratio(dau_mean_30d, users_30d),
        "events_7d": events_7d,
        "events_30d": events_30d,
        "events_per_active_user_30d": ratio(events_30d, users_30d),
        "core_feature_breadth_30d": breadth,
        "core_events_per_active_user_30d": ratio(core_30d, users_30d),
        "days_since_last_login": since_login,
        "usage_velocity_30d": change(events_30d, events_prev_30d),
        "events_wow_change": change(events_7d, events_prev_7d),
        "active_users_wow_change": change(distinct["7d"], distinct["prev_7d"]),
        "active_users_mom_change": change(users_30d, distinct["prev_30d"]),
        "error_rate_30d": ratio(errors_30d, events_30d),
    }


def distinct_users(grid: DayGrid, user_codes: np.ndarray, user_account: np.ndarray,
                    user_days: np.ndarray, window: int, lag: int) -> np.ndarray:
    """(account x day) count of distinct users active in (d-lag-window, d-lag].

    Each active user-day covers the as-of days [day+lag, day+lag+window-1]; overlapping
    covers of the same user are merged so the user counts once, then a +1/-1 sweep over
    days gives the count. Linear in user-days; ``user_codes`` and ``user_days`` must be
    sorted by user, then day.
    """
    users, starts = user_codes, user_days + lag
    ends = starts + window  # exclusive
    same_user = np.r_[False, users[1:] == users[:-1]]
    # A cover merges into the previous one when it starts before the previous end.
    prev_end = np.r_[0, ends[:-1]]
    begins_run = ~same_user | (starts > prev_end)
    run_start = starts[begins_run]
    run_end = np.maximum.reduceat(ends, np.flatnonzero(begins_run)) if len(ends) else ends
    run_account = user_account[users[begins_run]]
    return interval_counts(grid, run_account, run_start, run_end)
