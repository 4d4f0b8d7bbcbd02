"""The grid's running totals, windows, open counts and distinct users against brute force."""

import numpy as np
import pandas as pd
import pytest

from features.billing import days_to_renewal, renewal_days
from features.day_grid import DayGrid, FewDayGrid, ratio
from features.labels import active_cells, active_periods
from features.usage import distinct_users
from features.usage_rollup import NO_PREVIOUS_DAY, UserDays, days_since_previous

RNG = np.random.default_rng(7)
GRID = DayGrid(pd.Index([f"a{i}" for i in range(5)]), pd.Timestamp("2026-01-01"), 40)


def every_row():
    account, day = np.meshgrid(np.arange(GRID.n_accounts), np.arange(GRID.n_days))
    return account.ravel(), day.ravel()  # sorted by day, then account, as snapshots are


def test_windows_sum_exactly_the_days_in_them():
    # items on days before the grid (-3) and after it (40, 45), or of no grid account (-1),
    # must never count
    account = RNG.integers(-1, GRID.n_accounts, 300)
    day = RNG.integers(-3, 46, 300)
    weight = RNG.integers(1, 5, 300).astype(float)
    totals = GRID.totals(account, day, weight)
    row_account, row_day = every_row()
    rows = GRID.rows(row_account, row_day)
    for window, lag in [(1, 0), (7, 0), (7, 7), (30, 0), (30, 30), (90, 0)]:
        expected = [weight[(account == a) & (day > d - lag - window) & (day <= d - lag)
                           & (day >= 0) & (day < GRID.n_days)].sum()
                    for a, d in zip(row_account, row_day, strict=True)]
        np.testing.assert_array_equal(totals.window(rows, window, lag), expected)


def test_integer_totals_stay_integers_and_a_grid_reuses_its_matrix_safely():
    grid = DayGrid(GRID.accounts, GRID.first_day, GRID.n_days)
    rows = grid.rows(*every_row())
    counts = grid.totals([0, 0, 1], [2, 3, 3])
    sums = grid.totals([1], [5], np.array([2.5]))  # another type: another matrix
    by_day = counts.at(rows).reshape(grid.n_days, grid.n_accounts)  # rows: day, then account
    assert by_day.dtype == np.int64
    assert by_day[:5, 0].tolist() == [0, 0, 1, 2, 2] and by_day[:5, 1].tolist() == [0, 0, 0, 1, 1]
    assert sums.at(rows).reshape(grid.n_days, grid.n_accounts)[4:7, 1].tolist() == [0, 2.5, 2.5]
    # a later total of the same type overwrites the first one's matrix, so reading the
    # first must fail loudly rather than give the second's numbers
    later = grid.totals([4], [0])
    assert later.at(rows).reshape(grid.n_days, grid.n_accounts)[0].tolist() == [0, 0, 0, 0, 1]
    with pytest.raises(RuntimeError, match="overwritten"):
        counts.at(rows)


@pytest.mark.parametrize("unique_cells", [True, False])
def test_stacked_totals_give_each_quantity_its_own_windows(unique_cells):
    # one row per (account, day), as account-days come, or repeated cells and rows off the
    # grid, which must be summed or dropped
    if unique_cells:
        account, day = (values[::3] for values in every_row())
    else:
        account, day = RNG.integers(-1, GRID.n_accounts, 300), RNG.integers(-3, 46, 300)
    weights = RNG.integers(0, 9, (3, len(account)))
    rows = GRID.rows(*every_row())
    stacked = GRID.stacked_totals(account, day, weights)
    on_grid = (day >= 0) & (day < GRID.n_days) & (account >= 0)
    for quantity, totals in enumerate(stacked):
        for window, lag in [(7, 0), (30, 30)]:
            expected = [weights[quantity][on_grid & (account == a) & (day > d - lag - window)
                                          & (day <= d - lag)].sum()
                        for a, d in zip(rows.account, rows.day, strict=True)]
            got = totals.at(rows, lag).astype(np.int64) - totals.at(rows, lag + window)
            np.testing.assert_array_equal(got, expected)


def test_stacked_windows_are_exact_when_running_totals_wrap_past_int32():
    grid = DayGrid(pd.Index(["a"]), pd.Timestamp("2026-01-01"), 4)
    rows = grid.rows([0], [3])
    big = 2**30
    # the running total passes 2^31 on the second day and 3 * 2^30 on the third
    (totals,) = grid.stacked_totals([0, 0, 0, 0], [0, 1, 2, 3], np.array([[big, big, big, 5]]))
    assert np.subtract(totals.at(rows), totals.at(rows, 1), dtype=np.int32).tolist() == [5]
    assert np.subtract(totals.at(rows), totals.at(rows, 2),
                       dtype=np.int32).tolist() == [big + 5]


def test_open_counts_count_what_is_open_at_the_end_of_each_day():
    account = RNG.integers(0, GRID.n_accounts, 60)
    start = RNG.integers(-10, 45, 60)
    end = start + RNG.integers(0, 20, 60)
    row_account, row_day = every_row()
    counts = GRID.open_counts(account, start, end).at(GRID.rows(row_account, row_day))
    expected = [((account == a) & (start <= d) & (end > d)).sum()
                for a, d in zip(row_account, row_day, strict=True)]
    np.testing.assert_array_equal(counts, expected)


def test_latest_is_the_last_day_on_or_before():
    # days before the grid (-3) and after it (40), and rows of no grid account (-1), are not
    # on the grid: they change nothing
    account = RNG.integers(-1, GRID.n_accounts, 40)
    day = RNG.choice([-3, *range(GRID.n_days), 40], 40)
    row_account, row_day = every_row()
    latest = GRID.latest(account, day).at(GRID.rows(row_account, row_day))
    for a, d, found in zip(row_account, row_day, latest, strict=True):
        days = day[(account == a) & (day >= 0) & (day <= d)]
        assert found == (days.max() if len(days) else -1e6)


def test_a_few_days_read_off_the_items_what_the_matrices_give():
    """FewDayGrid reads every total, window, open count and latest day that the DayGrid's
    matrices give, at the rows of a few as-of days and at rows with a day of each account's
    own (NPS reads each account's last response day), with items before, after and off the
    grid, lags that reach before it, and integer counts staying integers."""
    accounts = pd.Index([f"a{i}" for i in range(30)])
    matrices = DayGrid(accounts, pd.Timestamp("2026-01-01"), 120)
    items = FewDayGrid(accounts, pd.Timestamp("2026-01-01"), 120)
    rng = np.random.default_rng(11)
    n = 2000
    account = rng.integers(-1, len(accounts), n)
    day = rng.integers(-20, 130, n)
    end = day + rng.integers(0, 40, n)
    score = rng.integers(0, 11, n).astype(float)
    # three as-of days, each with a random subset of accounts in increasing order, one of
    # account a0 alone, then rows at a random day per account (the next block starts with
    # the account the last one ended with)
    blocks = [(np.sort(rng.choice(len(accounts), 20, replace=False)), np.full(20, as_of))
              for as_of in (5, 70, 119)]
    blocks.append((np.array([0]), np.array([60])))
    blocks.append((np.arange(len(accounts)), rng.integers(0, 120, len(accounts))))
    row_account = np.concatenate([a for a, _ in blocks])
    row_day = np.concatenate([d for _, d in blocks])
    on_matrices, on_items = (grid.rows(row_account, row_day) for grid in (matrices, items))
    for weights in (None, score):
        expected_totals, totals = (grid.totals(account, day, weights)
                                   for grid in (matrices, items))
        for window, lag in [(1, 0), (30, 0), (90, 0), (120, 120), (7, 200)]:
            expected = expected_totals.window(on_matrices, window, lag)
            found = totals.window(on_items, window, lag)
            assert found.dtype == expected.dtype
            np.testing.assert_array_equal(found, expected)
        np.testing.assert_array_equal(totals.at(on_items, 10), expected_totals.at(on_matrices, 10))
    np.testing.assert_array_equal(items.open_counts(account, day, end).at(on_items),
                                  matrices.open_counts(account, day, end).at(on_matrices))
    for lag in (0, 3, 150):
        np.testing.assert_array_equal(items.latest(account, day).at(on_items, lag),
                                      matrices.latest(account, day).at(on_matrices, lag))


@pytest.mark.parametrize("window", [1, 7, 30])
def test_distinct_users_count_each_user_once_per_window(window):
    user_account = RNG.integers(0, GRID.n_accounts, 12)
    pairs = {(int(u), int(d)) for u, d in zip(RNG.integers(0, 12, 150),
                                               RNG.integers(0, GRID.n_days, 150), strict=True)}
    table = pd.DataFrame(sorted(pairs), columns=["user", "day"])
    table["account"] = user_account[table["user"]]
    # keys like the rollup's: arbitrary 64-bit numbers, equal only for one user
    table["key"] = (table["user"].to_numpy(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    table = table.sort_values(["day", "account"], ignore_index=True)  # as roll-ups come
    users = UserDays(table["account"].to_numpy(), table["day"].to_numpy(),
                     days_since_previous(table["key"].to_numpy(), table["day"].to_numpy()))
    row_account, row_day = every_row()
    rows = GRID.rows(row_account, row_day)
    counts = distinct_users(GRID, users, window)
    for lag in (0, window):
        expected = [table.loc[(table["account"] == a) & (table["day"] > d - lag - window)
                              & (table["day"] <= d - lag), "user"].nunique()
                    for a, d in zip(row_account, row_day, strict=True)]
        np.testing.assert_array_equal(counts.at(rows, lag), expected)


def test_days_since_previous_are_per_user():
    user = np.array([5, 9, 5, 7, 9, 5], dtype=np.uint64)
    day = np.array([0, 0, 3, 3, 4, 10])
    np.testing.assert_array_equal(days_since_previous(user, day) >= NO_PREVIOUS_DAY,
                                  [True, True, False, True, False, False])
    np.testing.assert_array_equal(days_since_previous(user, day)[[2, 4, 5]], [3, 4, 7])


@pytest.mark.parametrize("window", [1, 2, 7, 30, 31])
def test_either_ors_the_bits_of_the_days_in_the_window(window):
    cells = RNG.choice(GRID.n_days * GRID.n_accounts, 80, replace=False)
    account, day = cells % GRID.n_accounts, cells // GRID.n_accounts
    # and rows off the grid, which change nothing: before it, after it, of no grid account
    account = np.r_[account, 0, 1, -1]
    day = np.r_[day, -1, GRID.n_days, 3]
    bits = RNG.integers(1, 64, len(day))
    row_account, row_day = every_row()
    found = GRID.either(account, day, bits, window).take(GRID.rows(row_account, row_day).cell)
    for a, d, value in zip(row_account, row_day, found, strict=True):
        inside = bits[(account == a) & (day >= 0) & (day > d - window) & (day <= d)]
        assert value == np.bitwise_or.reduce(inside, initial=0)


def test_ratio_is_undefined_without_a_positive_denominator():
    result = ratio(np.array([1.0, 1.0, 0.0, np.nan]), np.array([2.0, 0.0, np.nan, 4.0]))
    np.testing.assert_array_equal(result, [0.5, np.nan, np.nan, np.nan])


def test_active_cells_are_every_active_account_and_date_in_order():
    subscriptions = pd.DataFrame({
        "account_id": ["b", "b", "a", "c", "d"],
        "start_date": pd.to_datetime(["2026-01-01", "2026-01-10", "2026-01-05", "2025-06-01",
                                      "2026-03-01"]),
        "end_date": pd.to_datetime(["2026-01-10", None, "2026-01-07", "2026-01-03", None]),
    })
    periods = active_periods(subscriptions)
    dates = pd.date_range("2026-01-01", "2026-01-12")
    cells = active_cells(periods, dates)
    found = [(dates[d], cells.accounts[a]) for a, d in zip(cells.account, cells.date,
                                                          strict=True)]
    expected = sorted((date, p.account_id) for p in periods.itertuples() for date in dates
                      if p.period_start <= date and (pd.isna(p.period_end)
                                                     or date < p.period_end))
    assert found == expected  # sorted by date, then account
    assert list(cells.accounts) == ["a", "b", "c"]  # d is never active on these dates
    assert [periods.loc[p, "account_id"] for p in cells.period] == [a for _, a in found]


def test_overlapping_periods_are_refused():
    periods = pd.DataFrame({"account_id": ["a", "a"],
                            "period_start": pd.to_datetime(["2026-01-01", "2026-01-03"]),
                            "period_end": pd.to_datetime(["2026-01-05", None])})
    with pytest.raises(ValueError, match="overlap"):
        active_cells(periods, pd.date_range("2026-01-01", "2026-01-06"))


def test_the_renewal_table_gives_what_the_calendar_gives():
    starts = pd.to_datetime(["2024-02-29", "2025-01-31", "2023-03-15", "2026-01-01",
                             "2024-02-29", "2025-08-31"])
    subscriptions = pd.DataFrame({"start_date": starts, "billing_period": [
        "annual", "monthly", "annual", "monthly", "monthly", "annual"]})
    dates = pd.date_range("2026-01-01", "2028-03-31", freq="6D")
    table, anchor = renewal_days(subscriptions, dates)
    for row, subscription in subscriptions.iterrows():
        on = dates[dates >= subscription["start_date"]]
        expected = days_to_renewal(pd.Series([subscription["start_date"]] * len(on)),
                                   pd.Series([subscription["billing_period"]] * len(on)),
                                   pd.Series(on))
        np.testing.assert_array_equal(table[anchor[row], dates >= subscription["start_date"]],
                                      expected)


def test_account_ids_find_their_grid_position_and_others_none():
    grid = DayGrid(pd.Index(["a1", "b2", "7"]), pd.Timestamp("2026-01-01"), 3)
    ids = pd.Series(["b2", "zz", None, "a1", "b2"], dtype="string[pyarrow]")
    assert grid.account_positions(ids).tolist() == [1, -1, -1, 0, 1]
    # ids an export gave as numbers match the same text
    assert grid.account_positions(pd.Series([7, 8])).tolist() == [2, -1]
