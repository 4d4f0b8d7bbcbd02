"""Every snapshot feature on the hand-made fixture (values worked out in the comments)."""

import numpy as np
import pandas as pd
import pytest

from features.billing import days_to_renewal
from features.snapshot import FEATURE_GROUPS, compute_snapshots
from tests import fixtures as fx


@pytest.fixture(scope="module")
def snapshot() -> pd.DataFrame:
    frame = compute_snapshots(
        pd.DatetimeIndex([fx.AS_OF]), events=fx.events(), subscriptions=fx.subscriptions(),
        invoices=fx.invoices(), support_tickets=fx.support_tickets(),
        nps_responses=fx.nps_responses())
    return frame.set_index("account_id")


def test_one_row_per_active_account_keyed_by_end_of_day(snapshot):
    assert sorted(snapshot.index) == ["a1", "a2"]
    assert (snapshot["as_of_date"] == fx.AS_OF).all()
    assert (snapshot["event_timestamp"] == pd.Timestamp("2026-04-11", tz="UTC")).all()


def test_usage_features(snapshot):
    a1 = snapshot.loc["a1"]
    # 7d = Apr 4..10: u1's login, reports and error; 30d = Mar 12..Apr 10 adds u2's two events
    assert a1["events_7d"] == 3
    assert a1["events_30d"] == 5
    assert a1["active_users_7d"] == 1  # u1
    assert a1["active_users_30d"] == 2  # u1, u2 (u3 was last active Mar 5; u4 only after)
    # daily active users over 30 days: Apr 10 (u1), Apr 9 (u1), Apr 1 (u2) -> 3/30 = 0.1
    assert a1["dau_mau_ratio"] == pytest.approx(0.1 / 2)
    assert a1["active_users_per_seat"] == pytest.approx(2 / 6)
    assert a1["events_per_active_user_30d"] == pytest.approx(5 / 2)
    assert a1["core_feature_breadth_30d"] == pytest.approx(2 / 6)  # reports, dashboards
    assert a1["core_events_per_active_user_30d"] == pytest.approx(2 / 2)
    assert a1["days_since_last_login"] == 0
    # previous 30 days (Feb 10..Mar 11) had one event (u3's login): (5 - 1) / 1
    assert a1["usage_velocity_30d"] == pytest.approx(4.0)
    # previous week (Mar 28..Apr 3) had u2's two events: (3 - 2) / 2
    assert a1["events_wow_change"] == pytest.approx(0.5)
    assert a1["active_users_wow_change"] == pytest.approx(0.0)  # u1 now, u2 before
    assert a1["active_users_mom_change"] == pytest.approx(1.0)  # 2 users now, 1 (u3) before
    assert a1["error_rate_30d"] == pytest.approx(1 / 5)


def test_per_event_name_features():
    """Features of the export's own event names (slot k = the k-th tracked name)."""
    from features.contract import EventTaxonomy

    frame = compute_snapshots(
        pd.DatetimeIndex([fx.AS_OF]), events=fx.events(), subscriptions=fx.subscriptions(),
        taxonomy=EventTaxonomy(tracked_events=["login", "reports"])).set_index("account_id")
    a1 = frame.loc["a1"]
    # logins: Apr 10 (u1) in the last 7 days, Apr 1 (u2) the 7 before; Mar 5 (u3) in the 30
    # days before the last 30; u4's login on Apr 11 is after the as-of date
    assert a1[["event_1_7d", "event_1_30d", "event_1_90d"]].tolist() == [1, 2, 3]
    assert a1["event_1_per_user_30d"] == pytest.approx(2 / 2)
    assert a1["event_1_mom_change"] == pytest.approx(1.0)  # 2 against 1
    # reports: once, on Apr 10; nothing before, so no change can be computed
    assert a1[["event_2_7d", "event_2_30d", "event_2_90d"]].tolist() == [1, 1, 1]
    assert a1["event_2_per_user_30d"] == pytest.approx(1 / 2)
    assert np.isnan(a1["event_2_mom_change"])
    # a slot without a name counts nothing
    assert a1["event_3_30d"] == 0 and np.isnan(a1["event_3_mom_change"])


def test_usage_features_of_an_account_without_events(snapshot):
    a2 = snapshot.loc["a2"]
    assert a2["events_30d"] == 0 and a2["active_users_30d"] == 0
    assert a2["core_feature_breadth_30d"] == 0
    # ratios over nothing are unknown, not zero
    for column in ["dau_mau_ratio", "events_per_active_user_30d", "usage_velocity_30d",
                   "error_rate_30d"]:
        assert np.isnan(a2[column])
    # no login in the 90-day lookback; the account started 304 days ago: capped at 90
    assert a2["days_since_last_login"] == 90


def test_billing_features(snapshot):
    a1, a2 = snapshot.loc["a1"], snapshot.loc["a2"]
    assert (a1["plan"], a1["billing_period"], a1["seats"], a1["mrr"]) == (
        "business", "monthly", 6, 150.0)
    assert a1["mrr_change_90d"] == 150.0  # no subscription on Jan 10
    assert np.isnan(a1["mrr_change_90d_pct"])
    assert a1["days_to_renewal"] == 5  # monthly from Mar 15: next on Apr 15
    assert a1["tenure_days"] == 85  # first subscription Jan 15
    assert (a2["mrr"], a2["mrr_change_90d"], a2["mrr_change_90d_pct"]) == (30.0, 0.0, 0.0)
    assert a2["days_to_renewal"] == 61  # annual from 2025-06-10: next on 2026-06-10
    assert a2["tenure_days"] == 304


def test_payment_features(snapshot):
    # i1 (paid late) and i5 (due Apr 5, unpaid on Apr 10) are late; i4 failed in the window
    assert snapshot.loc["a1", "late_payments_90d"] == 2
    assert snapshot.loc["a1", "failed_payments_90d"] == 1
    assert snapshot.loc["a2", "late_payments_90d"] == 0


def test_without_due_dates_failed_payments_count_from_issue_and_lateness_is_unmeasured():
    from features.billing import payment_measurement_gaps

    undated = fx.invoices()
    undated["due_at"] = pd.Series(pd.NaT, index=undated.index, dtype="datetime64[ns, UTC]")
    frame = compute_snapshots(pd.DatetimeIndex([fx.AS_OF]), events=fx.events(),
                              subscriptions=fx.subscriptions(),
                              invoices=undated).set_index("account_id")
    # issued in (Jan 10, Apr 10]: i2 (Apr 1) and i4 (Jan 20) failed; i3 (Jan 1) is older
    assert frame.loc["a1", "failed_payments_90d"] == 2
    assert frame["late_payments_90d"].isna().all()
    assert "late payments are not measured" in payment_measurement_gaps(undated)[0]
    assert payment_measurement_gaps(fx.invoices()) == []


def test_support_features(snapshot):
    a1, a2 = snapshot.loc["a1"], snapshot.loc["a2"]
    assert a1["open_tickets"] == 2  # t1 never closed, t2 closed only on Apr 12
    assert a1["open_high_priority_tickets"] == 1  # t1
    assert a1["tickets_30d"] == 1  # t1 opened Apr 1
    assert a1["avg_csat_90d"] == 4.0  # t3; t2's rating comes after the as-of date
    assert (a2["open_tickets"], a2["tickets_30d"], a2["avg_csat_90d"]) == (0, 1, 5.0)


def test_nps_features(snapshot):
    # latest 120 days (Dec 12..Apr 10): 9; 120 days before: 5; the Apr 11 response is unseen
    assert snapshot.loc["a1", "nps_latest"] == 9
    assert snapshot.loc["a1", "nps_trend"] == 4
    assert np.isnan(snapshot.loc["a2", "nps_latest"])


def test_nps_latest_is_the_latest_response_so_one_detractor_shows():
    later = pd.DataFrame({"account_id": ["a1", "a1"], "user_id": ["u3", "u4"],
                          "responded_at": pd.to_datetime(["2026-04-02T09:00Z",
                                                          "2026-04-02T15:00Z"]),
                          "score": [4, 6]})
    nps = pd.concat([fx.nps_responses(), later], ignore_index=True)
    frame = compute_snapshots(pd.DatetimeIndex([fx.AS_OF]), events=fx.events(),
                              subscriptions=fx.subscriptions(),
                              nps_responses=nps).set_index("account_id")
    # the latest day's two responses (4 and 6), not the 120 days' mean of 9, 4 and 6
    assert frame.loc["a1", "nps_latest"] == 5
    assert frame.loc["a1", "nps_trend"] == pytest.approx((9 + 4 + 6) / 3 - 5)
    # a last response more than 120 days old is no longer "latest"
    old_only = fx.nps_responses().iloc[[1]]
    frame = compute_snapshots(pd.DatetimeIndex([fx.AS_OF]), events=fx.events(),
                              subscriptions=fx.subscriptions(),
                              nps_responses=old_only).set_index("account_id")
    assert np.isnan(frame.loc["a1", "nps_latest"])


def test_profile_features_and_signup_tenure():
    frame = compute_snapshots(pd.DatetimeIndex([fx.AS_OF]), events=fx.events(),
                              subscriptions=fx.subscriptions(), accounts=fx.accounts())
    a1 = frame.set_index("account_id").loc["a1"]
    assert (a1["segment"], a1["industry"]) == ("SMB", "retail")
    assert a1["tenure_days"] == 90  # signup Jan 10 beats first subscription Jan 15


def test_absent_tables_leave_their_features_out():
    frame = compute_snapshots(pd.DatetimeIndex([fx.AS_OF]), events=fx.events(),
                              subscriptions=fx.subscriptions())
    expected = (set(FEATURE_GROUPS["account_usage"]) | set(FEATURE_GROUPS["account_event_mix"])
                | set(FEATURE_GROUPS["account_billing"]))
    assert set(frame.columns) - {"account_id", "as_of_date", "event_timestamp"} == expected


def test_churned_accounts_have_no_rows_after_churn():
    frame = compute_snapshots(pd.DatetimeIndex(["2026-04-19", "2026-04-20"]),
                              events=fx.events(), subscriptions=fx.subscriptions())
    days = frame.groupby("account_id")["as_of_date"].apply(list).to_dict()
    assert days["a2"] == [pd.Timestamp("2026-04-19")]  # a2's subscription ends Apr 20
    assert len(days["a1"]) == 2


@pytest.mark.parametrize(("start", "period", "as_of", "expected"), [
    ("2026-01-31", "monthly", "2026-02-10", 18),  # Feb has 28 days: renews Feb 28
    ("2026-01-15", "monthly", "2026-01-15", 31),  # renewed today: next term
    ("2024-02-29", "annual", "2026-02-01", 27),  # leap day renews on Feb 28
    ("2026-03-01", "annual", "2026-02-01", 28),  # not started yet: first start
    ("2025-01-15", "semiannual", "2025-03-01", 136),  # next on Jul 15
    ("2025-08-31", "quarterly", "2025-12-01", 89),  # Nov 30, then Feb 28 2026
    ("2024-02-29", "biennial", "2026-02-27", 1),  # renews Feb 28 2026
    ("2025-01-10", "5 months", "2025-06-10", 153),  # Jun 10 is today: next Nov 10
])
def test_days_to_renewal(start, period, as_of, expected):
    result = days_to_renewal(pd.Series([pd.Timestamp(start)]), pd.Series([period]),
                             pd.Series([pd.Timestamp(as_of)]))
    assert result[0] == expected


def test_renewal_table_matches_the_calendar_for_every_term():
    """renewal_days works each anchor out once; it must agree with the calendar arithmetic
    of days_to_renewal for every start and term."""
    from features.billing import renewal_days

    rng = np.random.default_rng(3)
    starts = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 2500, 600), unit="D")
    starts = starts.append(pd.DatetimeIndex(["2024-02-29", "2020-02-29", "2024-05-31"]))
    periods = np.r_[rng.choice(["monthly", "quarterly", "semiannual", "annual", "biennial",
                                "7 months"], 600), ["biennial", "annual", "quarterly"]]
    subscriptions = pd.DataFrame({"start_date": starts, "billing_period": periods})
    dates = pd.date_range("2025-01-01", "2028-03-01", freq="13D")
    table, anchor = renewal_days(subscriptions, dates)
    for row, (start, period) in enumerate(zip(starts, periods, strict=True)):
        on = dates[dates >= start]
        expected = days_to_renewal(pd.Series([start] * len(on)), pd.Series([period] * len(on)),
                                   pd.Series(on))
        np.testing.assert_array_equal(table[anchor[row]][dates >= start], expected)


def test_a_few_days_merge_their_window_days_and_get_the_same_usage_features():
    """A few as-of days roll their user-days up into the spans between their windows' ends
    (``WINDOW_BOUNDARY_LAGS``); every usage feature must equal the days' rows of a range,
    which reads every user-day. Random users and days, so users come back after gaps of any
    length and log in on any day."""
    from features.contract import EventTaxonomy

    rng = np.random.default_rng(5)
    n = 6000
    names = np.array(["login", "reports", "alerts", "error", "settings", "export"])
    events = pd.DataFrame({
        "event_id": [f"e{i}" for i in range(n)],
        "account_id": rng.choice(["a1", "a2"], n),
        "user_id": [f"u{k}" for k in rng.integers(0, 25, n)],
        "event_time": pd.Timestamp("2025-12-20", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 112 * 86400, n), unit="s"),
        "event_name": rng.choice(names, n, p=[0.1, 0.3, 0.2, 0.1, 0.2, 0.1])})
    taxonomy = EventTaxonomy(core_events=("reports", "alerts"), error_events=("error",),
                             login_events=("login",), tracked_events=("reports", "export"))
    days = pd.date_range("2026-03-25", fx.AS_OF)
    together = compute_snapshots(days, events=events, subscriptions=fx.subscriptions(),
                                 taxonomy=taxonomy)
    usage = [c for c in together.columns
             if c in {**FEATURE_GROUPS["account_usage"], **FEATURE_GROUPS["account_event_mix"]}]
    for chosen in [*([day] for day in days[::4]), list(days[::8])]:
        alone = compute_snapshots(pd.DatetimeIndex(chosen), events=events,
                                  subscriptions=fx.subscriptions(), taxonomy=taxonomy)
        expected = together[together["as_of_date"].isin(chosen)].reset_index(drop=True)
        assert len(expected) == 2 * len(chosen)
        pd.testing.assert_frame_equal(alone[usage], expected[usage])
