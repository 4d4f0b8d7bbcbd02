"""Revenue and retention metrics against figures worked out by hand (docs/metrics.md)."""

import pandas as pd
import pytest

from features.retention import arr_by_band, health_distribution, mrr_movements, retention_by_month

T = pd.Timestamp


def subscriptions() -> pd.DataFrame:
    rows = [
        # A: new in January at 100, an add-on of 50 in February
        ("a1", "A", "pro", 100.0, "2026-01-10", None),
        ("a2", "A", "addon", 50.0, "2026-02-15", None),
        # B: 200 from December, churns in February, returns in March at 120
        ("b1", "B", "pro", 200.0, "2025-12-05", "2026-02-20"),
        ("b2", "B", "starter", 120.0, "2026-03-03", None),
        # C: an annual contract (MRR 300) mid-term all along
        ("c1", "C", "enterprise", 300.0, "2025-11-15", "2026-11-15"),
        # D: 80 until 31 January (not active that day), then a free plan: a downgrade to zero
        ("d1", "D", "starter", 80.0, "2025-12-01", "2026-01-31"),
        ("d2", "D", "free", 0.0, "2026-01-31", None),
        # E: 500 until 1 February, then 400 on a smaller plan
        ("e1", "E", "enterprise", 500.0, "2025-12-01", "2026-02-01"),
        ("e2", "E", "business", 400.0, "2026-02-01", None),
    ]
    frame = pd.DataFrame(rows, columns=["subscription_id", "account_id", "plan", "mrr",
                                        "start_date", "end_date"])
    frame["start_date"] = pd.to_datetime(frame["start_date"])
    frame["end_date"] = pd.to_datetime(frame["end_date"])
    return frame


@pytest.fixture(scope="module")
def movements() -> pd.DataFrame:
    return mrr_movements(subscriptions(), last_day=T("2026-03-31"))


@pytest.fixture(scope="module")
def monthly(movements) -> pd.DataFrame:
    return retention_by_month(movements).set_index("month")


def movement(movements, account, month) -> dict:
    row = movements[(movements["account_id"] == account) & (movements["month"] == T(month))]
    assert len(row) == 1
    return row.iloc[0].to_dict()


def test_months_run_from_the_first_subscription_to_the_last_month(monthly):
    assert list(monthly.index) == list(pd.date_range("2025-11-30", "2026-03-31", freq="ME"))


def test_a_month_in_progress_is_left_out():
    months = mrr_movements(subscriptions(), last_day=T("2026-03-30"))["month"]
    assert months.max() == T("2026-02-28")


def test_january_by_hand(monthly):
    # start (December's end): B 200 + C 300 + D 80 + E 500 = 1080; A new 100; D lost 80
    january = monthly.loc[T("2026-01-31")]
    assert (january["starting_mrr"], january["new"], january["churned"],
            january["ending_mrr"]) == (1080, 100, 80, 1100)
    assert january["nrr"] == pytest.approx(1000 / 1080)
    assert january["grr"] == pytest.approx(1000 / 1080)
    assert (january["starting_accounts"], january["retained_accounts"]) == (4, 3)
    assert january["logo_retention"] == pytest.approx(0.75)
    assert january["logo_churn"] == pytest.approx(0.25)
    assert january["revenue_churn"] == pytest.approx(80 / 1080)


def test_february_by_hand(monthly):
    # start 1100 (A 100, B 200, C 300, E 500); A +50, B churns 200, E -100
    february = monthly.loc[T("2026-02-28")]
    assert (february["expansion"], february["contraction"], february["churned"]) == (50, 100,
                                                                                       200)
    assert february["nrr"] == pytest.approx((1100 + 50 - 100 - 200) / 1100)
    assert february["grr"] == pytest.approx((1100 - 100 - 200) / 1100)
    assert february["expansion_rate"] == pytest.approx(50 / 1100)
    assert (february["tailwind"], february["headwind"]) == (50, 300)
    assert february["logo_retention"] == pytest.approx(3 / 4)


def test_a_customer_who_churns_and_returns_is_a_reactivation_not_new(movements, monthly):
    assert movement(movements, "B", "2026-02-28")["churned"] == 200
    march = movement(movements, "B", "2026-03-31")
    assert (march["reactivation"], march["new"], march["retained"]) == (120, 0, False)
    # the returning account adds MRR but is not in March's retention base
    assert monthly.loc[T("2026-03-31"), "reactivation"] == 120
    assert monthly.loc[T("2026-03-31"), "nrr"] == pytest.approx(1.0)
    assert monthly.loc[T("2026-03-31"), "starting_accounts"] == 3


def test_a_downgrade_to_zero_is_churned_mrr_and_a_lost_logo(movements):
    january = movement(movements, "D", "2026-01-31")
    assert (january["churned"], january["retained"]) == (80, False)
    assert not ((movements["account_id"] == "D") & (movements["month"] > T("2026-01-31"))).any()


def test_an_annual_contract_mid_term_moves_nothing(movements):
    rows = movements[movements["account_id"] == "C"]
    assert rows["month"].min() == T("2025-11-30") and rows.iloc[0]["new"] == 300
    assert (rows.iloc[1:][["new", "expansion", "contraction", "churned",
                           "reactivation"]] == 0).all().all()


def test_ending_mrr_is_starting_plus_movements(monthly):
    expected = (monthly["starting_mrr"] + monthly["new"] + monthly["reactivation"]
                + monthly["expansion"] - monthly["contraction"] - monthly["churned"])
    pd.testing.assert_series_equal(monthly["ending_mrr"], expected, check_names=False)


def test_by_plan_movements_count_against_the_plan_the_revenue_started_in(movements):
    by_plan = retention_by_month(movements, by=["plan"]).set_index(["month", "plan"])
    enterprise = by_plan.loc[(T("2026-02-28"), "enterprise")]
    # C (300, flat) and E (500, down 100 onto business)
    assert (enterprise["starting_mrr"], enterprise["contraction"]) == (800, 100)
    assert enterprise["nrr"] == pytest.approx(700 / 800)
    assert by_plan.loc[(T("2026-01-31"), "pro"), "new"] == 100


def test_rates_are_missing_not_zero_without_a_starting_base(monthly):
    november = monthly.loc[T("2025-11-30")]
    assert november["starting_mrr"] == 0 and november["new"] == 300
    assert pd.isna(november["nrr"]) and pd.isna(november["logo_retention"])


def test_arr_at_risk_by_band_lists_every_band():
    scores = pd.DataFrame({"account_id": ["a", "b", "c"], "band": ["critical", "healthy",
                                                                   "critical"],
                           "arr": [1200.0, 600.0, 200.0], "arr_at_risk": [600.0, 60.0, 100.0]})
    table = arr_by_band(scores, ["thriving", "healthy", "critical"]).set_index("band")
    assert table.loc["critical", ["accounts", "arr", "arr_at_risk"]].tolist() == [2, 1400, 700]
    assert table.loc["thriving", ["accounts", "arr"]].tolist() == [0, 0]
    assert table.loc["critical", "share_of_arr"] == pytest.approx(0.7)


def test_health_distribution_bins_of_ten_with_100_in_the_top_bin():
    scores = pd.DataFrame({"health_score": [0.0, 9.99, 10.0, 55.0, 100.0]})
    table = health_distribution(scores)
    assert table["accounts"].tolist() == [2, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    assert (table["from"].iloc[-1], table["to"].iloc[-1]) == (90, 100)


def test_cohort_curves_by_hand(movements):
    from features.retention import cohort_retention

    table = cohort_retention(movements).set_index(["cohort", "age_months"])
    # December cohort: B 200, D 80, E 500 = 780. January: B, E (700); February: E (400);
    # March: E 400 and B back at 120 (520)
    december = table.loc[T("2025-12-31")]
    assert december["accounts"].unique().tolist() == [3]
    assert december["paying_accounts"].tolist() == [3, 2, 1, 2]
    assert december["logo_retention"].tolist() == pytest.approx([1, 2 / 3, 1 / 3, 2 / 3])
    assert december["revenue_retention"].tolist() == pytest.approx(
        [1, 700 / 780, 400 / 780, 520 / 780])
    # A, January's cohort of one, expands: revenue retention above 1
    assert table.loc[T("2026-01-31"), "revenue_retention"].tolist() == pytest.approx(
        [1, 1.5, 1.5])
    # November's annual contract: five months at 100 %
    assert table.loc[T("2025-11-30"), "logo_retention"].tolist() == [1.0] * 5


def test_a_cohort_with_nobody_left_shows_zero_not_a_gap():
    from features.retention import cohort_retention

    subs = subscriptions()
    subs = subs[subs["account_id"] == "D"]
    table = cohort_retention(mrr_movements(subs, last_day=T("2026-03-31")),
                             last_month=T("2026-03-31"))
    assert table["age_months"].tolist() == [0, 1, 2, 3]
    assert table["paying_accounts"].tolist() == [1, 0, 0, 0]
    assert table["revenue_retention"].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_cohorts_by_segment_split_the_curves(movements):
    from features.retention import cohort_retention

    segments = {"A": "SMB", "B": "SMB", "C": "enterprise", "D": "SMB", "E": "enterprise"}
    table = cohort_retention(movements.assign(segment=movements["account_id"].map(segments)),
                             by=["segment"]).set_index(["cohort", "segment", "age_months"])
    # December's SMB accounts: B 200 and D 80; only B is paying in January
    assert table.loc[(T("2025-12-31"), "SMB", 1), "logo_retention"] == pytest.approx(0.5)
    assert table.loc[(T("2025-12-31"), "enterprise", 2), "revenue_retention"] == pytest.approx(
        400 / 500)


def test_an_account_s_plan_is_its_largest_subscription_s_and_ties_go_to_the_first_name():
    subs = pd.DataFrame({"subscription_id": ["x1", "x2", "y1", "y2"],
                         "account_id": ["X", "X", "Y", "Y"],
                         "plan": ["pro", "basic", "zeta", "alpha"],
                         "mrr": [100.0, 100.0, 300.0, 50.0],
                         "start_date": T("2026-01-05"), "end_date": pd.NaT})
    plans = mrr_movements(subs, last_day=T("2026-01-31")).set_index("account_id")["plan"]
    assert plans.to_dict() == {"X": "basic", "Y": "zeta"}


def test_account_attributes_are_read_per_account_and_missing_for_unknown_accounts(movements):
    from features.retention import with_account_attributes

    accounts = pd.DataFrame({"account_id": ["A", "B", "C", "D"],
                             "segment": ["SMB", "SMB", "enterprise", None]})
    table = with_account_attributes(movements, accounts, ["segment"])
    segments = dict(zip(table["account_id"], table["segment"], strict=True))
    assert {k: v for k, v in segments.items() if isinstance(v, str)} == {
        "A": "SMB", "B": "SMB", "C": "enterprise"}
    assert pd.isna(segments["D"]) and pd.isna(segments["E"])  # no segment; not in accounts
    assert len(table) == len(movements)
