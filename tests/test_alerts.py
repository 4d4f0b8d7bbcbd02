"""Alerts fire on the day a condition starts, once, and again only after it has cleared."""

import pandas as pd

from models.alerts.score_changes import AlertConfig, evaluate_alerts
from models.scoring.health_bands import Band, HealthConfig


def day_scores(rows: dict[str, tuple[float, str, float]]) -> pd.DataFrame:
    """account -> (health, band, days to renewal)."""
    return pd.DataFrame([
        {"account_id": account, "health_score": health, "band": band,
         "days_to_renewal": renewal, "arr_at_risk": 100 - health, "reason_1": "a reason",
         "recommended_action": "call", "action_owner": "CSM"}
        for account, (health, band, renewal) in rows.items()],
        columns=["account_id", "health_score", "band", "days_to_renewal", "arr_at_risk",
                 "reason_1", "recommended_action", "action_owner"])


def run_days(days: list[pd.DataFrame], config: AlertConfig | None = None,
             health: HealthConfig | None = None) -> list[pd.DataFrame]:
    fired, previous, state = [], None, None
    for i, scores in enumerate(days):
        result = evaluate_alerts(scores, previous, state, config=config, health=health,
                                 as_of=pd.Timestamp("2026-10-01") + pd.Timedelta(days=i))
        fired.append(result.fired)
        previous, state = scores, result.open
    return fired


def pairs(alerts: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(alerts["account_id"], alerts["alert_type"], strict=True))


def test_downgrade_alerts_once_and_not_again_the_next_day():
    days = [day_scores({"A": (75, "healthy", 200)}),
            day_scores({"A": (62, "neutral", 199)}),
            day_scores({"A": (61, "neutral", 198)})]
    fired = run_days(days)
    assert pairs(fired[0]) == set()
    assert pairs(fired[1]) == {("A", "band_downgrade")}
    assert fired[1].loc[0, "message"] == "A fell from healthy to neutral (health 62)"
    assert pairs(fired[2]) == set()


def test_a_cleared_condition_can_alert_again():
    days = [day_scores({"A": (75, "healthy", 200)}),
            day_scores({"A": (45, "at-risk", 199)}),   # downgrade and a 30-point drop
            day_scores({"A": (44, "at-risk", 198)}),   # still open: quiet
            day_scores({"A": (72, "healthy", 197)}),   # back: both clear
            day_scores({"A": (40, "at-risk", 196)})]   # falls again: alerts again
    fired = run_days(days)
    assert [pairs(f) for f in fired] == [
        set(), {("A", "band_downgrade"), ("A", "health_drop")}, set(), set(),
        {("A", "band_downgrade"), ("A", "health_drop")}]


def test_a_further_fall_while_open_does_not_repeat_the_alert():
    days = [day_scores({"A": (75, "healthy", 200)}),
            day_scores({"A": (62, "neutral", 199)}),
            day_scores({"A": (55, "neutral", 198)}),
            day_scores({"A": (45, "at-risk", 197)})]
    fired = run_days(days)
    # 75 -> 62 -> 55 never drops 20 in a day; 55 -> 45 neither; the downgrade is open
    assert [pairs(f) for f in fired] == [set(), {("A", "band_downgrade")}, set(), set()]


def test_health_drop_threshold_is_configurable_and_measured_from_yesterday():
    days = [day_scores({"A": (90, "thriving", 200)}), day_scores({"A": (80, "healthy", 199)})]
    assert pairs(run_days(days)[1]) == {("A", "band_downgrade")}
    fired = run_days(days, config=AlertConfig(health_drop_points=10))
    assert pairs(fired[1]) == {("A", "band_downgrade"), ("A", "health_drop")}
    assert "dropped 10 points to 80" in fired[1].set_index("alert_type").loc[
        "health_drop", "message"]


def test_newly_critical_fires_once_while_the_account_stays_critical():
    days = [day_scores({"A": (50, "neutral", 200), "B": (20, "critical", 200)}),
            day_scores({"A": (25, "critical", 199), "B": (21, "critical", 199)}),
            day_scores({"A": (24, "critical", 198), "B": (22, "critical", 198)})]
    fired = run_days(days)
    assert pairs(fired[0]) == {("B", "newly_critical")}
    assert pairs(fired[1]) == {("A", "newly_critical"), ("A", "band_downgrade"),
                               ("A", "health_drop")}
    assert pairs(fired[2]) == set()


def test_renewal_at_risk_needs_both_a_near_renewal_and_low_health():
    days = [day_scores({"A": (55, "neutral", 61), "B": (65, "neutral", 30),
                        "C": (58, "neutral", None)}),
            day_scores({"A": (55, "neutral", 60), "B": (65, "neutral", 29),
                        "C": (58, "neutral", None)}),
            day_scores({"A": (56, "neutral", 59), "B": (59, "neutral", 28),
                        "C": (58, "neutral", None)})]
    fired = run_days(days)
    assert [pairs(f) for f in fired] == [set(), {("A", "renewal_at_risk")},
                                         {("B", "renewal_at_risk")}]
    assert fired[1].loc[0, "message"] == "A renews in 60 days at health 55 (below 60)"


def test_churned_accounts_close_their_alerts():
    days = [day_scores({"A": (20, "critical", 10)}), day_scores({}),
            day_scores({"A": (20, "critical", 10)})]
    fired = run_days(days)
    assert pairs(fired[0]) == pairs(fired[2]) == {("A", "newly_critical"),
                                                 ("A", "renewal_at_risk")}
    assert pairs(fired[1]) == set()


def test_lowest_band_of_a_segment_override_counts_as_critical():
    health = HealthConfig(segment_bands={"enterprise": [
        Band(name="watch", min_score=40, color="yellow"),
        Band(name="escalate", min_score=0, color="red")]})
    days = [day_scores({"E": (35, "escalate", 200)})]
    assert pairs(run_days(days, health=health)[0]) == {("E", "newly_critical")}


def test_same_inputs_give_the_same_alert_ids():
    days = [day_scores({"A": (75, "healthy", 200)}), day_scores({"A": (45, "at-risk", 50)})]
    first, again = run_days(days)[1], run_days(days)[1]
    pd.testing.assert_frame_equal(first, again)
    assert first["alert_id"].is_unique and len(first) == 3


def test_webhook_payload_is_one_slack_message_listing_the_largest_first():
    from models.alerts.score_changes import webhook_payload

    days = [day_scores({"A": (75, "healthy", 200), "B": (80, "healthy", 200),
                        "C": (90, "thriving", 200)}),
            day_scores({"A": (45, "at-risk", 199), "B": (20, "critical", 199),
                        "C": (72, "healthy", 199)})]
    fired = run_days(days)[1]
    payload = webhook_payload(fired, max_listed=2)
    assert payload["text"] == ("account-health: 6 new alerts for 2026-10-02 (3 band downgrade, "
                               "2 health drop, 1 newly critical)")
    lines = payload["blocks"][1]["text"]["text"].split("\n")
    assert len(lines) == 3 and lines[0].startswith("• B ") and "$80 ARR at risk" in lines[0]
    assert lines[2] == "… and 4 more in the alerts table"
