"""Past scores against outcomes: realised metrics, false alarms and surprise churn by hand."""

import pandas as pd
import pytest

from models.analysis.outcomes import label_scores, realised_performance, surprise_churn

T = pd.Timestamp
HORIZON = 60


def periods() -> pd.DataFrame:
    # A churns 15 Mar, B stays, C churns 1 May, D churns 10 Feb, E churns 10 Apr
    return pd.DataFrame({
        "account_id": ["A", "B", "C", "D", "E"],
        "period_start": [T("2025-06-01")] * 5,
        "period_end": [T("2026-03-15"), pd.NaT, T("2026-05-01"), T("2026-02-10"),
                       T("2026-04-10")]})


def scores() -> pd.DataFrame:
    rows = [  # as_of, account, churn probability, colour
        ("2026-01-31", "A", 0.80, "red"), ("2026-01-31", "B", 0.10, "green"),
        ("2026-01-31", "C", 0.30, "yellow"), ("2026-01-31", "D", 0.60, "red"),
        ("2026-01-31", "E", 0.05, "green"),
        ("2026-02-28", "A", 0.20, "green"), ("2026-02-28", "B", 0.70, "red"),
        ("2026-02-28", "C", 0.40, "yellow"), ("2026-02-28", "E", 0.15, "green"),
    ]
    frame = pd.DataFrame(rows, columns=["as_of", "account_id", "churn_probability", "color"])
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["band"] = frame["color"].map({"red": "critical", "yellow": "neutral",
                                        "green": "healthy"})
    return frame


def test_labels_by_hand():
    labelled = label_scores(scores(), periods(), horizon_days=HORIZON,
                            observed_until=T("2026-06-30")).set_index(["as_of", "account_id"])
    # 31 Jan: A in 43 days, D in 10 (churn); C in 90, E in 69 (beyond 60 days)
    assert labelled.loc[T("2026-01-31"), "churned_within_horizon"].to_dict() == {
        "A": 1, "B": 0, "C": 0, "D": 1, "E": 0}
    # 28 Feb: A in 15 days, E in 41; C in 62
    assert labelled.loc[T("2026-02-28"), "churned_within_horizon"].to_dict() == {
        "A": 1, "B": 0, "C": 0, "E": 1}


def test_a_day_inside_its_horizon_is_not_judged():
    labelled = label_scores(scores(), periods(), horizon_days=HORIZON,
                            observed_until=T("2026-04-15"))
    # 31 Jan + 60 days is 1 Apr (closed); 28 Feb + 60 days is 29 Apr (still open), although
    # A and E have already churned by then
    assert set(labelled["as_of"]) == {T("2026-01-31")}
    assert len(labelled) == 5


def test_realised_performance_by_hand():
    labelled = label_scores(scores(), periods(), horizon_days=HORIZON,
                            observed_until=T("2026-06-30"))
    table = realised_performance(labelled).set_index("as_of")
    january, february = table.loc[T("2026-01-31")], table.loc[T("2026-02-28")]
    # January ranks both churners (0.8, 0.6) above the rest; February ranks them last
    assert (january["roc_auc"], february["roc_auc"]) == (1.0, 0.0)
    # top 10 % of five is one account: A, a churner; base rate 2/5
    assert january["lift_at_10pct"] == pytest.approx(2.5)
    # red in January: A and D, both churned; red in February: B, who stayed
    assert (january["flagged_accounts"], january["at_risk_false_positive_rate"]) == (2, 0.0)
    assert (february["flagged_accounts"], february["at_risk_false_positive_rate"]) == (1, 1.0)


def test_surprise_churn_by_hand():
    table = surprise_churn(scores(), periods(), observed_until=T("2026-06-30")).set_index(
        "account_id")
    # D's only score is 10 days before its churn: outside 30-90 days, so D is left out
    assert sorted(table.index) == ["A", "C", "E"]
    # A: 31 Jan (43 days before) red; C: 28 Feb (62 days) yellow; E: 28 Feb (41 days) green
    assert table["as_of"].to_dict() == {"A": T("2026-01-31"), "C": T("2026-02-28"),
                                        "E": T("2026-02-28")}
    assert table["surprise"].to_dict() == {"A": False, "C": False, "E": True}


def test_churns_after_the_observation_date_are_not_judged():
    table = surprise_churn(scores(), periods(), observed_until=T("2026-04-01"))
    assert sorted(table["account_id"]) == ["A"]
