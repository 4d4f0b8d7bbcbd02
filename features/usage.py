"""Product-usage features from events: activity, breadth and depth, recency, trends."""

from __future__ import annotations

import numpy as np

from features.contract import EventTaxonomy
from features.day_grid import DayGrid, GridRows, Running, change, ratio
from features.usage_rollup import UsageRollup, UserDays

DAYS_SINCE_LOGIN_CAP = 90
#: Days of active users the distinct-user windows read before an as-of date: this month's
#: 30 days and the 30 before them.
DISTINCT_USERS_LOOKBACK_DAYS = 60


def usage_features(grid: DayGrid, usage: UsageRollup, taxonomy: EventTaxonomy,
                   rows: GridRows, days_since_start: np.ndarray) -> dict[str, np.ndarray]:
    """Usage features of the snapshot ``rows`` on ``grid`` from the events rolled up by
    ``features.usage_rollup.roll_up`` on the same grid; ``days_since_start`` is each row's
    age of the account (the cap of days since the last login)."""
    daily = usage.account_days
    acc, day = daily.account, daily.day
    # Each running-total matrix is read at the rows and dropped at once: a few hundred MB
    # of them alive together cost more in fresh memory than the arithmetic.
    events = grid.totals(acc, day, daily.events.astype(float))
    events_7d, events_prev_7d = events.window(rows, 7), events.window(rows, 7, lag=7)
    events_30d, events_prev_30d = events.window(rows, 30), events.window(rows, 30, lag=30)
    del events
    core_30d = grid.totals(acc, day, daily.core_events.astype(float)).window(rows, 30)
    errors_30d = grid.totals(acc, day, daily.error_events.astype(float)).window(rows, 30)
    # summed over days, daily active users are user-days
    dau_mean_30d = grid.totals(acc, day, daily.active_users.astype(float)).window(rows, 30) / 30

    # Distinct active users per trailing window: a user counts once if active on any day.
    # The previous window's users are the same count read as many days earlier.
    users = distinct_users(grid, usage.user_days, 7)
    active_7d, active_prev_7d = users.at(rows), users.at(rows, lag=7)
    users = distinct_users(grid, usage.user_days, 30)
    active_30d, active_prev_30d = users.at(rows), users.at(rows, lag=30)
    del users

    # Breadth: share of configured core features used at least once in the last 30 days.
    breadth = np.zeros(len(rows))
    for bit in range(len(taxonomy.core_events)):
        used = (daily.core_mask >> bit) & 1 == 1
        breadth += grid.totals(acc[used], day[used]).window(rows, 30) > 0
    breadth /= max(len(taxonomy.core_events), 1)

    # Days since last login (or since the account started), capped at the lookback.
    logged_in = daily.login_users > 0
    last_login = grid.latest(acc[logged_in], day[logged_in]).at(rows)
    since_login = np.minimum(np.minimum(rows.day - last_login, np.maximum(days_since_start, 0)),
                             DAYS_SINCE_LOGIN_CAP)
    return {
        "active_users_7d": active_7d,
        "active_users_30d": active_30d,
        "dau_mau_ratio": ratio(dau_mean_30d, active_30d),
        "events_7d": events_7d,
        "events_30d": events_30d,
        "events_per_active_user_30d": ratio(events_30d, active_30d),
        "core_feature_breadth_30d": breadth,
        "core_events_per_active_user_30d": ratio(core_30d, active_30d),
        "days_since_last_login": since_login,
        "usage_velocity_30d": change(events_30d, events_prev_30d),
        "events_wow_change": change(events_7d, events_prev_7d),
        "active_users_wow_change": change(active_7d, active_prev_7d),
        "active_users_mom_change": change(active_30d, active_prev_30d),
        "error_rate_30d": ratio(errors_30d, events_30d),
    }


def distinct_users(grid: DayGrid, user_days: UserDays, window: int) -> Running:
    """Per account and day d, the count of distinct users active in (d-window, d].

    Each active user-day covers the as-of days [day, day+window-1]; overlapping covers of
    the same user merge into one run so the user counts once, and the runs are counted with
    ``DayGrid.open_counts``. Linear in user-days, which come sorted by account, user, day.
    """
    account, user, day = user_days.account, user_days.user, user_days.day
    same_user = np.r_[False, (user[1:] == user[:-1]) & (account[1:] == account[:-1])]
    # a cover merges into the previous one when it starts before the previous one ends
    begins_run = ~same_user | (day - np.r_[0, day[:-1]] > window)
    starts = np.flatnonzero(begins_run)
    # days ascend within a user, so a run ends where its last cover ends
    last = np.r_[starts[1:], len(day)] - 1
    return grid.open_counts(account[starts], day[starts], day[last] + window)
