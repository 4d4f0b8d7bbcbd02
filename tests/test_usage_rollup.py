"""Events rolled up to (account, user, day) in DuckDB, against counts done by hand."""

import pandas as pd
import pytest

from features.contract import EventTaxonomy
from features.usage_rollup import daily_rollup, roll_up, rollup_matches

TAXONOMY = EventTaxonomy(core_events=("reports", "alerts"), error_events=("error",),
                         login_events=("login",))
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


def as_table(rollup) -> pd.DataFrame:
    table = pd.DataFrame(vars(rollup))
    return table.sort_values(["account", "day", "user"], ignore_index=True)


def test_rollup_by_hand():
    accounts = pd.Index(["acc_a", "acc_b"])
    table = as_table(roll_up(events(), accounts, FIRST_DAY, 4, TAXONOMY))
    # acc_a (0): u1 on day 2; acc_b (1): u1 and u2 on day 0, u1 on day 1
    assert table[["account", "day"]].values.tolist() == [[0, 2], [1, 0], [1, 0], [1, 1]]
    b_day0 = table[(table["account"] == 1) & (table["day"] == 0)].sort_values("events")
    assert b_day0["events"].tolist() == [1, 3]
    assert b_day0["error_events"].tolist() == [1, 0]
    assert b_day0["logins"].tolist() == [0, 1]
    assert b_day0["core_events"].tolist() == [0, 2]
    assert b_day0["core_mask"].tolist() == [0, 0b11]  # reports is bit 0, alerts bit 1
    b_day1 = table[(table["account"] == 1) & (table["day"] == 1)].iloc[0]
    assert b_day1["core_mask"] == 0b01
    # "u1" of acc_a and "u1" of acc_b are different users; acc_b's u1 is one user
    users = table.groupby("account")["user"].unique()
    assert not set(users[0]) & set(users[1])
    assert len(set(table.loc[table["account"] == 1, "user"])) == 2


def test_event_count_weights_aggregated_rows():
    frame = events().iloc[:4].assign(event_count=[1, 5, 2, 3])
    table = as_table(roll_up(frame, pd.Index(["acc_b"]), FIRST_DAY, 4, TAXONOMY))
    assert sorted(table["events"]) == [3, 8]
    assert table["core_events"].sum() == 7 and table["error_events"].sum() == 3


def test_files_and_frames_give_the_same_rollup(tmp_path):
    frame = events()
    for name, rows in frame.groupby(frame["event_time"].dt.strftime("%Y-%m-%d")):
        rows.to_parquet(tmp_path / f"{name}.parquet", index=False)
    accounts = pd.Index(["acc_a", "acc_b"])
    from_files = as_table(roll_up(sorted(tmp_path.glob("*.parquet")), accounts, FIRST_DAY, 4,
                                  TAXONOMY))
    from_frame = as_table(roll_up(frame, accounts, FIRST_DAY, 4, TAXONOMY))
    # user numbers are arbitrary (only equality matters), so compare without them
    columns = ["account", "day", "events", "core_events", "error_events", "logins",
               "core_mask"]
    pd.testing.assert_frame_equal(from_files[columns].sort_values(columns, ignore_index=True),
                                  from_frame[columns].sort_values(columns, ignore_index=True))


def test_no_files_is_an_empty_rollup():
    rollup = roll_up([], pd.Index(["acc_a"]), FIRST_DAY, 4, TAXONOMY)
    assert len(rollup.day) == 0 and rollup.n_users == 0


def test_too_many_core_events_are_refused():
    taxonomy = EventTaxonomy(core_events=tuple(f"feature_{i}" for i in range(63)))
    with pytest.raises(ValueError, match="at most 62"):
        roll_up(events(), pd.Index(["acc_a"]), FIRST_DAY, 4, taxonomy)


def test_an_event_count_below_one_is_quarantined():
    from features.validation import validate_table

    frame = events().iloc[:3].assign(event_count=["2", "0", ""], event_id=["e1", "e2", "e3"])
    frame.insert(0, "source_row", range(1, 4))
    result = validate_table("events", frame, source_file="events.csv",
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


def comparable(rollup) -> pd.DataFrame:
    """Rows without the arbitrary user numbers, plus how many distinct users each account has
    (so one user across days and sources must stay one user)."""
    table = as_table(rollup)
    users = table.groupby("account")["user"].nunique().rename("account_users")
    columns = ["account", "day", "events", "core_events", "error_events", "logins",
               "core_mask"]
    return (table[columns].join(users, on="account")
            .sort_values(columns, ignore_index=True))


def test_stored_daily_rollups_give_what_the_events_give(tmp_path):
    frame = events()
    accounts = pd.Index(["acc_a", "acc_b"])
    from_events = comparable(roll_up(frame, accounts, FIRST_DAY, 4, TAXONOMY))
    paths = stored_rollups(frame, tmp_path)
    only_rollups = roll_up([], accounts, FIRST_DAY, 4, TAXONOMY, rollups=list(paths.values()))
    pd.testing.assert_frame_equal(comparable(only_rollups), from_events)
    # mixed: Oct 1 from its stored rollup, the other days from their events
    later = frame[frame["event_time"] >= "2026-10-02"]
    mixed = roll_up(later, accounts, FIRST_DAY, 4, TAXONOMY, rollups=[paths["2026-10-01"]])
    pd.testing.assert_frame_equal(comparable(mixed), from_events)
    assert comparable(mixed).query("account == 1")["account_users"].iloc[0] == 2


def test_a_stored_rollup_matches_only_the_taxonomy_it_was_computed_with(tmp_path):
    paths = stored_rollups(events(), tmp_path)
    assert rollup_matches(paths["2026-10-01"], TAXONOMY)
    other = EventTaxonomy(core_events=("reports",), error_events=("error",),
                          login_events=("login",))
    assert not rollup_matches(paths["2026-10-01"], other)
    empty = tmp_path / "empty.parquet"
    daily_rollup(events().iloc[:0], other).to_parquet(empty, index=False)
    assert rollup_matches(empty, TAXONOMY)
