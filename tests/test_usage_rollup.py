"""Events rolled up to (account, user, day) in DuckDB, against counts done by hand."""

import numpy as np
import pandas as pd
import pytest

from features.contract import EventTaxonomy
from features.usage_rollup import NO_PREVIOUS_DAY, daily_rollup, roll_up, rollup_matches

TAXONOMY = EventTaxonomy(core_events=("reports", "alerts"), error_events=("error",),
                         login_events=("login",), tracked_events=("reports", "login", "settings"))
FIRST_DAY = pd.Timestamp("2026-10-01")


def events() -> pd.DataFrame:
    rows = [
        # account, user, time (UTC), event
        ("acc_b", "u1", "2026-10-01T08:00:00Z", "login"),
        ("acc_b", "u1", "2026-10-01T09:00:00Z", "reports"),
        ("acc_b", "u1", "2026-10-01T23:59:59Z", "alerts"),
        ("acc_b", "u2", "2026-10-01T10:00:00Z", "error"),
        ("acc_b", "u1", "2026-10-02T00:00:00Z", "reports"),  # the next UTC day
        ("acc_a", "u1", "2026-10-03T12:00:00Z", "settings"),  # same user id, other account
        ("acc_zz", "u9", "2026-10-01T12:00:00Z", "login"),  # not on the grid
        ("acc_a", "u1", "2026-09-30T12:00:00Z", "login"),  # before the grid
        ("acc_a", "u1", "2026-10-05T12:00:00Z", "login"),  # after the grid
    ]
    frame = pd.DataFrame(rows, columns=["account_id", "user_id", "event_time", "event_name"])
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    return frame


def account_days(rollup) -> pd.DataFrame:
    return rollup.account_days.as_frame()


def user_days(rollup) -> pd.DataFrame:
    """The user-days of a roll-up in a fixed order (they come in none)."""
    return pd.DataFrame(vars(rollup.user_days)).sort_values(
        ["day", "account", "days_since_previous"], ignore_index=True)


def test_rollup_by_hand():
    accounts = pd.Index(["acc_a", "acc_b"])
    rollup = roll_up(events(), accounts, FIRST_DAY, 4, TAXONOMY)
    table = account_days(rollup)
    # sorted by day, then account: acc_b (1) on days 0 and 1, acc_a (0) on day 2
    assert table[["account", "day"]].values.tolist() == [[1, 0], [1, 1], [0, 2]]
    b_day0 = table.iloc[0]
    assert b_day0["events"] == 4  # u1's login, reports, alerts; u2's error
    assert b_day0["error_events"] == 1 and b_day0["core_events"] == 2
    assert b_day0["active_users"] == 2 and b_day0["login_users"] == 1
    assert b_day0["core_mask"] == 0b11  # reports is bit 0, alerts bit 1
    # tracked names, in the taxonomy's order; unused slots count nothing
    assert b_day0[["tracked_1", "tracked_2", "tracked_3", "tracked_4"]].tolist() == [1, 1, 0, 0]
    assert table.iloc[2][["tracked_1", "tracked_3"]].tolist() == [0, 1]  # acc_a's settings
    assert table.iloc[1]["core_mask"] == 0b01 and table.iloc[1]["active_users"] == 1
    assert table.iloc[2]["login_users"] == 0  # acc_a's only login is outside the grid
    users = user_days(rollup)
    # acc_b's u1 and u2 on day 0, u1 again on day 1, then acc_a's u1 on day 2, a user of
    # its own although its id is the same as acc_b's u1
    assert users[["day", "account"]].values.tolist() == [[0, 1], [0, 1], [1, 1], [2, 0]]
    assert (users["days_since_previous"] >= NO_PREVIOUS_DAY).tolist() == [
        True, True, False, True]
    assert users.loc[2, "days_since_previous"] == 1


def test_event_count_weights_aggregated_rows():
    frame = events().iloc[:4].assign(event_count=[1, 5, 2, 3])
    table = account_days(roll_up(frame, pd.Index(["acc_b"]), FIRST_DAY, 4, TAXONOMY))
    assert table["events"].tolist() == [11]
    assert table["core_events"].sum() == 7 and table["error_events"].sum() == 3
    assert table["active_users"].tolist() == [2]


def comparable(rollup) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables of a roll-up, the user-days in a fixed order."""
    return account_days(rollup), user_days(rollup)


def assert_same_rollup(left, right) -> None:
    for left_table, right_table in zip(comparable(left), comparable(right), strict=True):
        pd.testing.assert_frame_equal(left_table, right_table)


def test_files_and_frames_give_the_same_rollup(tmp_path):
    frame = events()
    for name, rows in frame.groupby(frame["event_time"].dt.strftime("%Y-%m-%d")):
        rows.to_parquet(tmp_path / f"{name}.parquet", index=False)
    accounts = pd.Index(["acc_a", "acc_b"])
    assert_same_rollup(roll_up(sorted(tmp_path.glob("*.parquet")), accounts, FIRST_DAY, 4,
                               TAXONOMY),
                       roll_up(frame, accounts, FIRST_DAY, 4, TAXONOMY))


def test_no_files_is_an_empty_rollup():
    rollup = roll_up([], pd.Index(["acc_a"]), FIRST_DAY, 4, TAXONOMY)
    assert len(rollup.account_days.day) == 0 and len(rollup.user_days.day) == 0


def test_too_many_core_events_are_refused():
    taxonomy = EventTaxonomy(core_events=tuple(f"feature_{i}" for i in range(63)))
    with pytest.raises(ValueError, match="at most 62"):
        roll_up(events(), pd.Index(["acc_a"]), FIRST_DAY, 4, taxonomy)


def test_an_event_count_below_one_is_quarantined():
    from features.row_checks import check_table

    frame = events().iloc[:3].assign(event_count=["2", "0", ""], event_id=["e1", "e2", "e3"])
    frame.insert(0, "source_row", range(1, 4))
    result = check_table("events", frame, source_file="events.csv",
                            now=pd.Timestamp("2026-11-01", tz="UTC"))
    assert result.accepted["event_id"].tolist() == ["e1", "e3"]
    [reason] = result.quarantine["reason"]
    assert reason.startswith("event_count 0") and reason.endswith("must be at least 1")


def stored_rollups(frame: pd.DataFrame, directory, taxonomy=TAXONOMY) -> dict[str, object]:
    """One daily rollup file per UTC day of ``frame``, as the usage_rollup asset stores them."""
    paths = {}
    for name, rows in frame.groupby(frame["event_time"].dt.strftime("%Y-%m-%d")):
        paths[name] = directory / f"{name}.parquet"
        daily_rollup(rows, taxonomy).to_parquet(paths[name], index=False)
    return paths


def test_stored_daily_rollups_give_what_the_events_give(tmp_path):
    frame = events()
    accounts = pd.Index(["acc_a", "acc_b"])
    from_events = roll_up(frame, accounts, FIRST_DAY, 4, TAXONOMY)
    paths = stored_rollups(frame, tmp_path)
    assert_same_rollup(
        roll_up([], accounts, FIRST_DAY, 4, TAXONOMY, rollups=list(paths.values())),
        from_events)
    # mixed: Oct 1 from its stored rollup, the other days from their events
    later = frame[frame["event_time"] >= "2026-10-02"]
    mixed = roll_up(later, accounts, FIRST_DAY, 4, TAXONOMY, rollups=[paths["2026-10-01"]])
    assert_same_rollup(mixed, from_events)
    # acc_b's u1, first seen in the stored rollup of Oct 1, is the same user on Oct 2
    assert user_days(mixed).query("account == 1 and day == 1")["days_since_previous"].tolist(
        ) == [1]


def test_a_stored_rollup_matches_only_the_taxonomy_it_was_computed_with(tmp_path):
    paths = stored_rollups(events(), tmp_path)
    assert rollup_matches(paths["2026-10-01"], TAXONOMY)
    other = EventTaxonomy(core_events=("reports",), error_events=("error",),
                          login_events=("login",))
    assert not rollup_matches(paths["2026-10-01"], other)
    empty = tmp_path / "empty.parquet"
    daily_rollup(events().iloc[:0], other).to_parquet(empty, index=False)
    assert rollup_matches(empty, TAXONOMY)


def test_user_days_before_the_first_wanted_day_are_left_out():
    accounts = pd.Index(["acc_a", "acc_b"])
    every = roll_up(events(), accounts, FIRST_DAY, 4, TAXONOMY)
    later = roll_up(events(), accounts, FIRST_DAY, 4, TAXONOMY, users_from_day=1)
    assert sorted(user_days(every)["day"]) == [0, 0, 1, 2]
    assert sorted(user_days(later)["day"]) == [1, 2]
    pd.testing.assert_frame_equal(account_days(later), account_days(every))


def test_duckdb_draws_no_progress_bar_into_the_run_log():
    from features.usage_rollup import quiet_connection

    connection = quiet_connection()
    setting = connection.execute("SELECT current_setting('enable_progress_bar')").fetchall()
    assert setting == [(False,)]


def test_account_day_totals_stay_exact_past_two_to_the_31_in_all():
    from features.usage_rollup import TRACKED_COLUMNS, _account_days

    # four accounts on one day, 10^9 events each: the running sum passes 2^31 twice
    n = 4
    rows = {"cell": np.arange(n, dtype=np.int64),
            "events": np.full(n, 10**9, dtype=np.int32),
            "core_events": np.arange(n, dtype=np.int32),
            "error_events": np.zeros(n, dtype=np.int32),
            "logged_in": np.array([True, False, True, True]),
            "core_mask": np.ones(n, dtype=np.int64),
            **{c: np.full(n, 2 * 10**9 // 3, dtype=np.int32) for c in TRACKED_COLUMNS}}
    totals = _account_days(rows, n_accounts=n)
    assert totals.events.tolist() == [10**9] * n
    assert totals.login_users.tolist() == [1, 0, 1, 1]
    assert (totals.tracked == 2 * 10**9 // 3).all()
