"""Leakage guards: no feature may see data after its as-of date."""

import pandas as pd

from features.contract import ContractMapping, find_table_file, read_table
from features.row_checks import check_table
from features.snapshot import FEATURE_TABLES, compute_snapshots

CUTOFF = pd.Timestamp("2026-08-31")  # end of this day is the last moment "known"


def load_validated(data_dir):
    tables = {}
    for table in FEATURE_TABLES:
        path = find_table_file(data_dir, table)
        frame = read_table(path, table, ContractMapping())
        tables[table] = check_table(table, frame, source_file=path.name,
                                       now=pd.Timestamp("2026-11-01", tz="UTC")).accepted
    return tables


def as_known_at(tables, day: pd.Timestamp):
    """The tables as an export taken at the end of ``day`` would have shown them."""
    end = (day + pd.Timedelta(days=1)).tz_localize("UTC")
    known = {}
    ev = tables["events"]
    known["events"] = ev[ev["event_time"] < end]
    subs = tables["subscriptions"]
    subs = subs[subs["start_date"] <= day].copy()
    ends_later = subs["end_date"] > day
    for column in ["end_date", "status", "cancel_reason"]:
        subs[column] = subs[column].where(~ends_later)
    known["subscriptions"] = subs
    inv = tables["invoices"]
    inv = inv[inv["issued_at"] < end].copy()
    unpaid_yet = inv["paid_at"] >= end
    inv["paid_at"] = inv["paid_at"].where(~unpaid_yet)
    not_final = unpaid_yet | ((inv["status"] == "failed") & (inv["due_at"] >= end))
    inv["status"] = inv["status"].where(~not_final, "open")
    known["invoices"] = inv
    tickets = tables["support_tickets"]
    tickets = tickets[tickets["opened_at"] < end].copy()
    still_open = tickets["closed_at"] >= end
    tickets["closed_at"] = tickets["closed_at"].where(~still_open)
    tickets["csat"] = tickets["csat"].where(~still_open)
    known["support_tickets"] = tickets
    nps = tables["nps_responses"]
    known["nps_responses"] = nps[nps["responded_at"] < end]
    activities = tables["cs_activities"]
    known["cs_activities"] = activities[activities["performed_at"] < end]
    known["accounts"] = tables["accounts"]
    return known


def test_each_day_sees_only_what_was_known_at_its_end(tiny_data_dir):
    """A day computed inside a range over full data equals the same day computed from an
    export taken at the end of that day. Catches look-ahead in any feature, including use of
    facts that are only known later (a subscription's end date, an invoice's final status),
    and shows results do not depend on which days are computed together.
    """
    full = load_validated(tiny_data_dir)
    days = pd.date_range(CUTOFF - pd.Timedelta(days=60), CUTOFF, freq="10D")
    together = compute_snapshots(pd.date_range(days[0], CUTOFF), **full)
    for day in days:
        alone = compute_snapshots(pd.DatetimeIndex([day]), **as_known_at(full, day))
        expected = together[together["as_of_date"] == day]
        assert len(expected) > 0
        pd.testing.assert_frame_equal(expected.reset_index(drop=True),
                                      alone.reset_index(drop=True))


def test_a_future_event_changes_nothing_before_it(tiny_data_dir):
    """Plant a burst of activity just after the as-of date: the snapshot must not move."""
    full = load_validated(tiny_data_dir)
    before = compute_snapshots(pd.DatetimeIndex([CUTOFF]), **full)
    account = before["account_id"].iloc[0]
    burst = pd.DataFrame({
        "event_id": [f"future_{i}" for i in range(50)], "account_id": account,
        "user_id": [f"new_user_{i}" for i in range(50)],
        "event_time": (CUTOFF + pd.Timedelta(days=1)).tz_localize("UTC"),
        "event_name": "login", "properties": None,
    })
    planted = dict(full, events=pd.concat([full["events"], burst], ignore_index=True))
    after = compute_snapshots(pd.DatetimeIndex([CUTOFF]), **planted)
    pd.testing.assert_frame_equal(before, after)
    # the same burst one second earlier is inside the day and must be seen
    burst["event_time"] = burst["event_time"] - pd.Timedelta(seconds=1)
    planted = dict(full, events=pd.concat([full["events"], burst], ignore_index=True))
    seen = compute_snapshots(pd.DatetimeIndex([CUTOFF]), **planted)
    row = seen["account_id"] == account
    assert (seen.loc[row, "active_users_7d"].iloc[0]
            == before.loc[row, "active_users_7d"].iloc[0] + 50)
