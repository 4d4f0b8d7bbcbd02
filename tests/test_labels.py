"""Account lifecycle and churn labels."""

import pandas as pd

from features.labels import active_on, active_periods, churn_labels


def subs(rows):
    frame = pd.DataFrame(rows, columns=["account_id", "start_date", "end_date"])
    frame["start_date"] = pd.to_datetime(frame["start_date"])
    frame["end_date"] = pd.to_datetime(frame["end_date"])
    return frame


def test_renewals_and_overlaps_merge_into_one_period():
    periods = active_periods(subs([
        ("a", "2025-01-01", "2025-02-01"), ("a", "2025-02-01", "2025-06-01"),  # renewal
        ("a", "2025-03-01", "2025-04-01"),  # add-on inside
        ("a", "2025-09-01", None),  # came back later: a new period
        ("b", "2025-01-01", "2025-03-01"),
    ]))
    assert periods.values.tolist() == [
        ["a", pd.Timestamp("2025-01-01"), pd.Timestamp("2025-06-01")],
        ["a", pd.Timestamp("2025-09-01"), pd.NaT],
        ["b", pd.Timestamp("2025-01-01"), pd.Timestamp("2025-03-01")],
    ]


def test_grace_days_bridge_a_late_renewal():
    rows = [("a", "2025-01-01", "2025-02-01"), ("a", "2025-02-04", None)]
    assert len(active_periods(subs(rows))) == 2
    assert len(active_periods(subs(rows), renewal_grace_days=5)) == 1


def test_active_on_excludes_the_churn_day():
    periods = active_periods(subs([("a", "2025-01-01", "2025-02-01")]))
    rows = active_on(periods, pd.DatetimeIndex(["2024-12-31", "2025-01-01", "2025-01-31",
                                                "2025-02-01"]))
    assert rows["as_of_date"].tolist() == [pd.Timestamp("2025-01-01"),
                                           pd.Timestamp("2025-01-31")]


def test_churn_labels_horizon_censoring_and_durations():
    periods = active_periods(subs([
        ("churns", "2025-01-01", "2025-03-01"),  # churn day Mar 1
        ("stays", "2025-01-01", None),
        ("late", "2025-01-01", "2025-06-15"),  # churns after the observation end
    ]))
    labels = churn_labels(periods, pd.DatetimeIndex(["2025-01-31", "2025-04-30"]),
                          horizon_days=30, observed_until=pd.Timestamp("2025-05-20"))
    got = labels.set_index(["account_id", "as_of_date"])
    jan, apr = pd.Timestamp("2025-01-31"), pd.Timestamp("2025-04-30")
    # Mar 1 is 29 days after Jan 31: inside (T, T+30]
    assert got.loc[("churns", jan)].tolist() == [1, True, 1, 29]
    assert got.loc[("stays", jan)].tolist() == [0, True, 0, 109]
    # Apr 30 + 30 days is after May 20: the label is not complete, duration censored at 20
    assert got.loc[("stays", apr)].tolist() == [0, False, 0, 20]
    assert got.loc[("late", apr)].tolist() == [0, False, 0, 20]
    assert ("churns", apr) not in got.index  # already churned: not scored
