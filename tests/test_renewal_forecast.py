"""The renewal forecast by hand: which terms come up, the rates of the year before by
segment, the interval, and a back-test that only knows what was known before each quarter."""

import numpy as np
import pandas as pd
import pytest

from models.analysis import renewal_forecast as rf


def subscription(account: str, start: str, end: str | None, *, period: str = "annual",
                 mrr: float = 100.0) -> dict:
    return {"account_id": account, "start_date": pd.Timestamp(start),
            "end_date": pd.Timestamp(end) if end else pd.NaT, "billing_period": period,
            "mrr": mrr}


SUBSCRIPTIONS = pd.DataFrame([
    subscription("renews", "2024-03-01", None),                      # renewed 2025-03-01
    subscription("leaves", "2024-03-15", "2025-03-15"),              # not at its renewal
    subscription("midterm", "2024-02-01", "2024-10-01"),             # left mid-term
    subscription("monthly", "2024-01-01", None, period="monthly"),   # never forecast
    subscription("quarterly", "2024-12-01", None, period="quarterly", mrr=50.0),
    subscription("later", "2025-06-01", "2026-06-01", mrr=300.0),    # up in 2026Q2
])
SEGMENTS = pd.Series({"renews": "smb", "leaves": "smb", "midterm": "smb", "monthly": "smb",
                      "quarterly": "ent", "later": "ent"})


def test_past_renewals_count_a_mid_term_departure_as_a_renewal_that_did_not_happen():
    past = rf.past_renewals(SUBSCRIPTIONS, SEGMENTS, since=pd.Timestamp("2024-12-31"),
                            until=pd.Timestamp("2025-03-31"))
    assert sorted(zip(past["account_id"], past["renewal_date"].dt.strftime("%Y-%m-%d"),
                      past["renewed"], strict=True)) == [
        ("leaves", "2025-03-15", False), ("midterm", "2025-02-01", False),
        ("quarterly", "2025-03-01", True), ("renews", "2025-03-01", True)]
    # the mid-term leaver's renewal is due once; a monthly term is never one
    later = rf.past_renewals(SUBSCRIPTIONS, SEGMENTS, since=pd.Timestamp("2025-03-31"),
                             until=pd.Timestamp("2026-03-31"))
    assert {"midterm", "leaves", "monthly"}.isdisjoint(later["account_id"])
    assert "monthly" not in set(past["account_id"])


def test_upcoming_renewals_know_only_what_was_known_that_day():
    upcoming = rf.upcoming_renewals(SUBSCRIPTIONS, SEGMENTS, made_on=pd.Timestamp("2026-03-31"),
                                    until=pd.Timestamp("2026-06-30"))
    # 'later' ends at its renewal, but that end was not known on 2026-03-31: it is up (and,
    # looking back, did not renew); 'renews' is next due in March 2027
    assert sorted(zip(upcoming["account_id"], upcoming["renewal_date"].dt.strftime(
        "%Y-%m-%d"), upcoming["renewed"], upcoming["segment"], strict=True)) == [
        ("later", "2026-06-01", False, "ent"), ("quarterly", "2026-06-01", True, "ent")]


def test_the_forecast_applies_each_segments_rate_with_a_binomial_interval():
    upcoming = pd.DataFrame({"segment": ["smb", "smb", "ent"], "arr": [100.0, 300.0, 1000.0]})
    rates = {"smb": (0.5, 0.25), "ent": (1.0, 1.0), "all": (0.6, 0.6)}
    result = rf.forecast_quarter(upcoming, rates)
    assert result["arr_up"] == 1400 and result["terms_up"] == 3
    assert result["expected_arr"] == pytest.approx(100 * 0.25 + 300 * 0.25 + 1000)
    assert result["expected_logos"] == pytest.approx(2.0)
    sd = np.sqrt(0.25 * 0.75 * (100 ** 2 + 300 ** 2))
    assert result["arr_high"] - result["expected_arr"] == pytest.approx(rf.Z95 * sd)
    assert result["logos_low"] == pytest.approx(2 - rf.Z95 * np.sqrt(0.5))


def test_a_segment_with_few_renewals_takes_the_overall_rate(monkeypatch):
    monkeypatch.setattr(rf, "MIN_SEGMENT_RENEWALS", 3)
    history = pd.DataFrame({"segment": ["smb"] * 4 + ["ent"],
                            "renewed": [True, True, False, False, True],
                            "arr": [100.0, 100.0, 100.0, 100.0, 1000.0]})
    rates = rf.segment_rates(history)
    assert rates["smb"] == (0.5, 0.5)
    assert rates["ent"] == rates["all"] == pytest.approx((0.6, 1200 / 1400))


def test_the_backtest_forecast_does_not_see_its_quarters_outcome():
    def backtest(subscriptions: pd.DataFrame) -> pd.DataFrame:
        return rf.renewal_backtest(subscriptions, SEGMENTS, as_of=pd.Timestamp("2026-09-30"))

    first = backtest(SUBSCRIPTIONS)
    # 'renews' leaves at its 2026-03-01 renewal instead: only 2026Q1's actual changes
    changed = SUBSCRIPTIONS.copy()
    changed.loc[changed["account_id"] == "renews", "end_date"] = pd.Timestamp("2026-03-01")
    second = backtest(changed).set_index("quarter")
    first = first.set_index("quarter")
    assert "2026Q1" in first.index
    assert second.loc["2026Q1", "expected_arr"] == first.loc["2026Q1", "expected_arr"]
    assert second.loc["2026Q1", "renewed_arr"] == first.loc["2026Q1", "renewed_arr"] - 1200
