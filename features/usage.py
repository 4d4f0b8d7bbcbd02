"""Product-usage features from events: activity, breadth and depth, recency, trends."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from features.contract import EventTaxonomy
from features.day_grid import DayGrid, GridRows, Running, change, ratio
from features.usage_rollup import AccountDays, UsageRollup, UserDays

DAYS_SINCE_LOGIN_CAP = 90
#: Days of active users the distinct-user windows read before an as-of date: this month's
#: 30 days and the 30 before them.
DISTINCT_USERS_LOOKBACK_DAYS = 60
#: Every window ``usage_features`` reads starts and ends this many days before the as-of
#: day (7 and 30 days, the 7 and 30 before them, 90 days): a roll-up for a few as-of days
#: may merge the days between them (``features.usage_rollup.roll_up``'s ``read_on``).
WINDOW_BOUNDARY_LAGS = (0, 7, 14, 30, 60, 90)


def usage_features(grid: DayGrid, usage: UsageRollup, taxonomy: EventTaxonomy,
                   rows: GridRows, days_since_start: np.ndarray) -> dict[str, np.ndarray]:
    """Usage features of the snapshot ``rows`` on ``grid`` from the events rolled up by
    ``features.usage_rollup.roll_up`` on the same grid; ``days_since_start`` is each row's
    age of the account (the cap of days since the last login)."""
    daily = usage.account_days
    # Distinct users come from the user-days, the rest from the account-days: the two run
    # side by side, the users on a worker thread with a grid of their own (a grid's scratch
    # matrices serve one thread).
    with ThreadPoolExecutor(max_workers=1) as pool:
        users = pool.submit(_active_users, grid.twin(), usage.user_days, rows)
        found = _account_day_features(grid, daily, taxonomy, rows, days_since_start)
        tracked = _tracked_event_counts(grid, daily, rows)
        active_7d, active_prev_7d, active_30d, active_prev_30d = users.result()
    events_7d, events_30d = found["events_7d"], found["events_30d"]
    per_event = {}
    for index, events_30d_of_slot in enumerate(tracked["30d"]):
        slot = index + 1
        per_event.update({
            f"event_{slot}_7d": tracked["7d"][index],
            f"event_{slot}_30d": events_30d_of_slot,
            f"event_{slot}_90d": tracked["90d"][index],
            f"event_{slot}_per_user_30d": ratio(events_30d_of_slot, active_30d),
            f"event_{slot}_mom_change": change(events_30d_of_slot, tracked["prev_30d"][index]),
        })
    return {
        **per_event,
        "active_users_7d": active_7d,
        "active_users_30d": active_30d,
        "dau_mau_ratio": ratio(found["dau_mean_30d"], active_30d),
        "events_7d": events_7d,
        "events_30d": events_30d,
        "events_per_active_user_30d": ratio(events_30d, active_30d),
        "core_feature_breadth_30d": found["breadth"],
        "core_events_per_active_user_30d": ratio(found["core_30d"], active_30d),
        "days_since_last_login": found["since_login"],
        "usage_velocity_30d": change(events_30d, found["events_prev_30d"]),
        "events_wow_change": change(events_7d, found["events_prev_7d"]),
        "active_users_wow_change": change(active_7d, active_prev_7d),
        "active_users_mom_change": change(active_30d, active_prev_30d),
        "error_rate_30d": ratio(found["errors_30d"], events_30d),
    }


def _active_users(grid: DayGrid, user_days: UserDays,
                  rows: GridRows) -> tuple[np.ndarray, ...]:
    """Distinct active users per trailing window (a user counts once if active on any day):
    7 days, the 7 before, 30 days, the 30 before. The previous window's users are the same
    count read as many days earlier."""
    users = distinct_users(grid, user_days, 7)
    active_7d, active_prev_7d = users.at(rows), users.at(rows, lag=7)
    users = distinct_users(grid, user_days, 30)
    return active_7d, active_prev_7d, users.at(rows), users.at(rows, lag=30)


def _account_day_features(grid: DayGrid, daily: AccountDays, taxonomy: EventTaxonomy,
                          rows: GridRows, days_since_start: np.ndarray) -> dict[str, np.ndarray]:
    """The windows of per-account-day totals, breadth and days since the last login."""
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

    # Breadth: share of configured core features used at least once in the last 30 days.
    used_30d = grid.either(acc, day, daily.core_mask, 30).take(rows.cell)
    breadth = np.bitwise_count(used_30d) / max(len(taxonomy.core_events), 1)

    # Days since last login (or since the account started), capped at the lookback.
    logged_in = daily.login_users > 0
    last_login = grid.latest(acc[logged_in], day[logged_in]).at(rows)
    since_login = np.minimum(np.minimum(rows.day - last_login, np.maximum(days_since_start, 0)),
                             DAYS_SINCE_LOGIN_CAP)
    return {"events_7d": events_7d, "events_prev_7d": events_prev_7d, "events_30d": events_30d,
            "events_prev_30d": events_prev_30d, "core_30d": core_30d, "errors_30d": errors_30d,
            "dau_mean_30d": dau_mean_30d, "breadth": breadth, "since_login": since_login}


def _tracked_event_counts(grid: DayGrid, daily: AccountDays,
                          rows: GridRows) -> dict[str, list[np.ndarray]]:
    """Events of each tracked event slot over the trailing 7, 30 and 90 days and the 30
    before: per window, a column per slot."""
    lags = (0, 7, 30, 60, 90)
    through = {lag: np.empty(len(rows), np.int32) for lag in lags}  # reused for every slot
    counts: dict[str, list[np.ndarray]] = {"7d": [], "30d": [], "prev_30d": [], "90d": []}
    for totals in grid.stacked_totals(daily.account, daily.day, daily.tracked):
        for lag in lags:
            totals.at(rows, lag, out=through[lag])
        for name, (end, start) in {"7d": (0, 7), "30d": (0, 30), "prev_30d": (30, 60),
                                   "90d": (0, 90)}.items():
            # in int32, where wrapped running totals still differ exactly, written straight
            # into the snapshot's int64 column
            counts[name].append(np.subtract(through[end], through[start], dtype=np.int32,
                                            out=np.empty(len(rows), np.int64)))
    return counts


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
