"""Expansion events from subscriptions (seats, plan, add-on; price-only changes excluded) and
counting them in windows after as-of dates, on hand-made subscriptions."""

import numpy as np
import pandas as pd

from features.expansion_events import events_in_window, expansion_events, expansion_labels


def subs(*rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["account_id", "plan", "mrr", "seats", "start_date",
                                        "end_date"])
    frame["start_date"] = pd.to_datetime(frame["start_date"])
    frame["end_date"] = pd.to_datetime(frame["end_date"])
    return frame


SUBSCRIPTIONS = subs(
    # seats 10 -> 12 on Mar 1
    ("seats", "growth", 300.0, 10, "2026-01-01", "2026-03-01"),
    ("seats", "growth", 360.0, 12, "2026-03-01", None),
    # same seats and plan, higher price on Mar 1: not an expansion
    ("price", "growth", 300.0, 10, "2026-01-01", "2026-03-01"),
    ("price", "growth", 330.0, 10, "2026-03-01", None),
    # growth -> business with the same seats on Apr 1
    ("plan", "growth", 300.0, 10, "2026-01-01", "2026-04-01"),
    ("plan", "business", 550.0, 10, "2026-04-01", None),
    # an add-on subscription beside the main one from Feb 15
    ("addon", "growth", 300.0, 10, "2026-01-01", None),
    ("addon", "analytics", 50.0, 0, "2026-02-15", None),
    # fewer seats on Mar 1, then a new account's first subscription: neither expands
    ("down", "growth", 300.0, 10, "2026-01-01", "2026-03-01"),
    ("down", "growth", 240.0, 8, "2026-03-01", None),
    ("new", "growth", 300.0, 10, "2026-05-01", None),
    # churned in February, came back bigger in June: a reactivation, not an expansion
    ("back", "growth", 300.0, 10, "2026-01-01", "2026-02-01"),
    ("back", "growth", 600.0, 20, "2026-06-01", None),
)


def test_expansion_events_by_hand():
    events = expansion_events(SUBSCRIPTIONS).set_index("account_id")
    assert sorted(events.index) == ["addon", "plan", "seats"]
    assert events.loc["seats", "expansion_date"] == pd.Timestamp("2026-03-01")
    assert (events.loc["seats", "mrr_before"], events.loc["seats", "mrr_after"]) == (300, 360)
    assert events.loc["seats", "kind"] == "seats"
    assert events.loc["plan", "kind"] == "plan"
    assert events.loc["addon", "kind"] == "add-on"
    assert events.loc["addon", "mrr_after"] == 350.0


def test_expansion_without_a_seats_column():
    events = expansion_events(SUBSCRIPTIONS.drop(columns="seats"))
    # plan and add-on expansions are still seen; seat changes cannot be, and a price change
    # on the same plan stays excluded
    assert sorted(events["account_id"]) == ["addon", "plan"]


def test_events_in_window_by_hand():
    events = expansion_events(SUBSCRIPTIONS)
    rows = pd.DataFrame({"account_id": ["seats", "seats", "seats", "plan", "unknown"],
                         "as_of_date": pd.to_datetime(["2026-01-31", "2026-03-01", "2026-02-28",
                                                       "2026-01-31", "2026-01-31"])})
    within_30 = events_in_window(rows["account_id"], rows["as_of_date"], events,
                                 start_days=0, end_days=30)
    # Mar 1 is 29 days after Jan 31; not after Mar 1 itself; 1 day after Feb 28
    np.testing.assert_array_equal(within_30, [1, 0, 1, 0, 0])
    later = events_in_window(rows["account_id"], rows["as_of_date"], events,
                             start_days=30, end_days=60)
    # Apr 1 is 60 days after Jan 31
    np.testing.assert_array_equal(later, [0, 0, 0, 1, 0])


def test_expansion_labels_by_hand():
    events = expansion_events(SUBSCRIPTIONS)
    rows = pd.DataFrame({"account_id": ["seats", "plan", "plan", "price"],
                         "as_of_date": pd.to_datetime(["2026-01-31", "2026-01-31",
                                                       "2026-04-02", "2026-01-31"])})
    labels = expansion_labels(rows, events, horizon_days=90,
                              observed_until=pd.Timestamp("2026-06-30"))
    assert labels["expanded_within_horizon"].tolist() == [1, 1, 0, 0]
    # seats: 300 -> 360 MRR; plan: 300 -> 550 MRR; annualised
    assert labels["expansion_arr"].tolist() == [720.0, 3000.0, 0.0, 0.0]
    assert labels["expansion_label_complete"].tolist() == [True, True, False, True]
