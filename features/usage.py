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
    # Each total is read at the rows before the next is made: the grid refills one matrix
    # per type (DayGrid._scratch_matrix).
    events = grid.totals(acc, day, daily.events)
    events_7d, events_prev_7d = events.window(rows, 7), events.window(rows, 7, lag=7)
    events_30d, events_prev_30d = events.window(rows, 30), events.window(rows, 30, lag=30)
    core_30d = grid.totals(acc, day, daily.core_events).window(rows, 30)
    errors_30d = grid.totals(acc, day, daily.error_events).window(rows, 30)
    # summed over days, daily active users are user-days
    dau_mean_30d = grid.totals(acc, day, daily.active_users).window(rows, 30) / 30

    # Distinct active users per trailing window: a user counts once if active on any day.
    # The previous window's users are the same count read as many days earlier.
    users = distinct_users(grid, usage.user_days, 7)
    active_7d, active_prev_7d = users.at(rows), users.at(rows, lag=7)
    users = distinct_users(grid, usage.user_days, 30)
    active_30d, active_prev_30d = users.at(rows), users.at(rows, lag=30)

    # Breadth: share of configured core features used at least once in the last 30 days.
    used_30d = grid.either(acc, day, daily.core_mask, 30).take(rows.cell)
    breadth = np.bitwise_count(used_30d) / max(len(taxonomy.core_events), 1)

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

    A user counts once, on its first active day in the window: a user-day t is the first in
    (d-window, d] when t <= d < t + window and the user's previous active day is at most
    d - window. So each user-day opens an interval of days, counted with
    ``DayGrid.open_counts``; linear in user-days, with no sort by user.
    """
    day = user_days.day
    # in place: each temporary is as long as the user-days
    start = np.subtract(window, user_days.days_since_previous)
    np.maximum(start, 0, out=start)
    start += day
    return grid.open_counts(user_days.account, start, day + window)
