"""Retention KPIs against small fixtures computed by hand (docs/metrics.md)."""

import pandas as pd
import pytest

from features.retention import mrr_movements
from features.retention_kpis import (
    churn_by_kind,
    churn_events,
    renewal_events,
    renewal_rates,
    window_retention,
)

T = pd.Timestamp
OPEN = pd.NaT


def subscriptions(rows: list[tuple]) -> pd.DataFrame:
    """(account, mrr, start, end, billing period, cancel reason) per subscription."""
    frame = pd.DataFrame(rows, columns=["account_id", "mrr", "start_date", "end_date",
                                        "billing_period", "cancel_reason"])
    frame["start_date"] = pd.to_datetime(frame["start_date"])
    frame["end_date"] = pd.to_datetime(frame["end_date"])
    return frame.assign(plan="pro", subscription_id=[f"s{i}" for i in range(len(frame))])


# Month-end MRR, January to June 2025:
#   A 100 throughout; B 100 until it ends on 15 April; C 100, then 200 from 1 March;
#   D 50 from 10 February.
WINDOWS = subscriptions([
    ("A", 100.0, "2025-01-01", OPEN, "monthly", None),
    ("B", 100.0, "2025-01-01", "2025-04-15", "monthly", None),
    ("C", 100.0, "2025-01-01", "2025-03-01", "monthly", None),
    ("C", 200.0, "2025-03-01", OPEN, "monthly", None),
    ("D", 50.0, "2025-02-10", OPEN, "monthly", None),
])


def test_two_month_window_ending_in_march():
    table = window_retention(mrr_movements(WINDOWS, T("2025-06-30")), months=2)
    row = table.set_index("period_end").loc[T("2025-03-31")]
    # cohort at the end of January: A, B, C with 300; at the end of March 100 + 100 + 200
    assert row["starting_customers"] == 3 and row["starting_mrr"] == 300
    assert row["nrr"] == pytest.approx(400 / 300)
    assert row["grr"] == pytest.approx(300 / 300)
    assert row["expanded_customers"] == 1
    assert row["expansion_rate_customers"] == pytest.approx(1 / 3)
    assert row["expansion_rate_revenue"] == pytest.approx(100 / 300)


def test_the_second_quarter_by_the_cohort_method():
    table = window_retention(mrr_movements(WINDOWS, T("2025-06-30")), months=3,
                             quarters_only=True)
    # only Q2 has a quarter before it in the data; cohort at 31 March: 100+100+200+50
    assert table["period_end"].tolist() == [T("2025-06-30")]
    row = table.iloc[0]
    assert row["starting_mrr"] == 450 and row["ending_mrr"] == 350
    assert row["nrr"] == pytest.approx(350 / 450)
    assert row["grr"] == pytest.approx(350 / 450)
    assert row["logo_retention"] == pytest.approx(3 / 4)
    assert row["expansion_rate_customers"] == 0


RENEWALS = subscriptions([
    ("A", 100.0, "2025-01-15", OPEN, "annual", None),          # renews 2026-01-15
    ("B", 200.0, "2025-02-01", "2026-02-01", "annual", "price"),  # lapses at its anniversary
    ("C", 50.0, "2025-03-01", "2026-03-01", "annual", None),    # renewed as a new contract
    ("C", 80.0, "2026-03-01", OPEN, "annual", None),
    ("D", 10.0, "2026-01-10", "2026-02-25", "monthly", "low usage"),  # one renewal, then
])                                                                    # cancelled mid-term


def test_gross_renewal_rate_by_count_and_by_arr():
    events = renewal_events(RENEWALS, T("2026-03-31"))
    assert sorted(zip(events["account_id"], events["renewal_date"].dt.strftime("%Y-%m-%d"),
                      events["renewed"], strict=True)) == [
        ("A", "2026-01-15", True), ("B", "2026-02-01", False), ("C", "2026-03-01", True),
        ("D", "2026-02-10", True)]
    rates = renewal_rates(events).set_index(["period_end", "term_months"])
    quarter = rates.loc[(T("2026-03-31"), 0)]
    assert (quarter["up_for_renewal"], quarter["renewed"]) == (4, 3)
    assert quarter["renewal_rate"] == pytest.approx(3 / 4)
    assert quarter["arr_up_for_renewal"] == pytest.approx(1200 + 2400 + 600 + 120)
    assert quarter["arr_renewal_rate"] == pytest.approx((1200 + 600 + 120) / 4320)
    annual = rates.loc[(T("2026-03-31"), 12)]
    assert (annual["up_for_renewal"], annual["renewed"]) == (3, 2)
    assert annual["arr_renewal_rate"] == pytest.approx(1800 / 4200)


CHURN = subscriptions([
    ("A", 100.0, "2025-01-01", "2026-02-01", "monthly", "price"),
    ("B", 50.0, "2025-01-01", "2026-02-20", "monthly", None),
    ("C", 30.0, "2025-01-01", "2026-03-05", "monthly", "Payment failed"),
    ("D", 20.0, "2025-01-01", "2026-03-10", "monthly", None),
    ("E", 40.0, "2025-01-01", OPEN, "monthly", None),
    ("F", 60.0, "2025-01-01", "2026-01-15", "monthly", None),   # a downgrade, not churn
    ("F", 30.0, "2026-01-15", OPEN, "monthly", None),
])
INVOICES = pd.DataFrame({
    "account_id": ["B", "D", "E"], "status": ["failed", "failed", "failed"],
    "issued_at": pd.to_datetime(["2026-01-10", "2025-10-01", "2026-03-01"], utc=True)})


def test_churn_is_involuntary_after_a_payment_failure_and_voluntary_otherwise():
    events = churn_events(CHURN, INVOICES, T("2026-03-31")).set_index("account_id")
    assert events["kind"].to_dict() == {"A": "voluntary", "B": "involuntary",
                                        "C": "involuntary", "D": "voluntary"}
    assert events["arr"].to_dict() == {"A": 1200, "B": 600, "C": 360, "D": 240}
    monthly = churn_by_kind(events.reset_index()).set_index("month")
    february, march = monthly.loc[T("2026-02-28")], monthly.loc[T("2026-03-31")]
    assert (february["voluntary"], february["involuntary"]) == (1, 1)
    assert (february["voluntary_arr"], february["involuntary_arr"]) == (1200, 600)
    assert (march["churned_arr"], march["involuntary_arr"]) == (600, 360)
    assert march["involuntary_share"] == 0.5


def test_without_invoices_a_churn_without_a_reason_is_voluntary():
    events = churn_events(CHURN, None, T("2026-03-31")).set_index("account_id")
    assert events.loc["B", "kind"] == "voluntary"
    assert events.loc["C", "kind"] == "involuntary"
