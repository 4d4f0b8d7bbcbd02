"""Alerts fire on the day a condition starts, once, and again only after it has cleared."""

import pandas as pd
import pytest

from models.alerts.engine import AlertConfig, evaluate_alerts
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
    fired = run_days(days, AlertConfig(clear_after_days=1))
    assert [pairs(f) for f in fired] == [
        set(), {("A", "band_downgrade"), ("A", "health_drop")}, set(), set(),
        {("A", "band_downgrade"), ("A", "health_drop")}]


def test_a_condition_that_flickers_fires_once_until_it_stays_clear():
    """By default a condition clears after three days in a row without it: back in its band
    for a day, the account falling again is the same alert, not a new one."""
    healthy, at_risk = (75, "healthy", 200), (45, "at-risk", 200)
    days = [day_scores({"A": score}) for score in
            [healthy, at_risk, healthy, at_risk, healthy, healthy, healthy, at_risk]]
    fired = [{t for _, t in pairs(f)} for f in run_days(days)]
    assert fired == [set(), {"band_downgrade", "health_drop"}, set(), set(), set(), set(),
                     set(), {"band_downgrade", "health_drop"}]


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
    days = [day_scores({"A": (55, "neutral", 91), "B": (65, "neutral", 30),
                        "C": (58, "neutral", None)}),
            day_scores({"A": (55, "neutral", 90), "B": (65, "neutral", 29),
                        "C": (58, "neutral", None)}),
            day_scores({"A": (56, "neutral", 89), "B": (59, "neutral", 28),
                        "C": (58, "neutral", None)})]
    fired = run_days(days)
    assert [pairs(f) for f in fired] == [set(), {("A", "renewal_at_risk")},
                                         {("B", "renewal_at_risk")}]
    assert fired[1].loc[0, "message"] == "A renews in 90 days at health 55 (below 60)"


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
    from models.alerts.engine import webhook_payload

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


def features_of(rows: dict[str, dict]) -> pd.DataFrame:
    """account -> snapshot feature values (the signals' inputs)."""
    return pd.DataFrame([{"account_id": account, **values} for account, values in rows.items()])


@pytest.mark.parametrize(("rule", "holds", "clear"), [
    ("no_login_14d", {"days_since_last_login": 14}, {"days_since_last_login": 13}),
    ("usage_down_25pct", {"usage_velocity_30d": -0.25}, {"usage_velocity_30d": -0.2}),
    ("low_seat_use", {"active_users_per_seat": 0.49}, {"active_users_per_seat": 0.5}),
    ("payment_failed", {"failed_payments_90d": 1}, {"failed_payments_90d": 0}),
    ("nps_detractor", {"nps_latest": 6}, {"nps_latest": 7}),
    ("high_priority_tickets", {"open_high_priority_tickets": 2},
     {"open_high_priority_tickets": 1}),
])
def test_each_default_signal_fires_on_its_threshold_and_not_below(rule, holds, clear):
    from models.alerts.signals import DEFAULT_SIGNALS

    config = AlertConfig(signals=[s for s in DEFAULT_SIGNALS if s.name == rule])
    scores = day_scores({"A": (80, "healthy", 200), "B": (80, "healthy", 200)})
    result = evaluate_alerts(scores, None, None, as_of=pd.Timestamp("2026-10-01"),
                             config=config, features=features_of({"A": holds, "B": clear}))
    assert pairs(result.fired) == {("A", rule)}
    severity = next(s.severity for s in DEFAULT_SIGNALS if s.name == rule)
    assert result.fired.loc[0, "severity"] == severity
    assert result.fired.loc[0, "message"].startswith("A: ")


def test_a_signal_fires_once_while_it_holds_and_again_after_it_clears():
    scores = day_scores({"A": (80, "healthy", 200)})
    fired, state = [], None
    for i, days in enumerate([20, 21, 3, 15, 2, 1, 1, 15]):
        result = evaluate_alerts(scores, scores, state, as_of=pd.Timestamp("2026-10-01")
                                 + pd.Timedelta(days=i),
                                 features=features_of({"A": {"days_since_last_login": days}}))
        fired.append(pairs(result.fired))
        state = result.open
    # one quiet day (3) does not clear it; three (2, 1, 1) do
    assert fired == [{("A", "no_login_14d")}, *[set()] * 6, {("A", "no_login_14d")}]
    assert state["quiet_days"].tolist() == [0]


def test_signals_on_a_table_the_export_lacks_never_fire():
    scores = day_scores({"A": (80, "healthy", 200)})
    result = evaluate_alerts(scores, None, None, as_of=pd.Timestamp("2026-10-01"),
                             features=features_of({"A": {"days_since_last_login": 1}}))
    assert result.fired.empty


def test_signals_come_from_the_config_and_names_must_be_unique():
    from pydantic import ValidationError

    from models.scoring.config import ScoringConfig

    config = ScoringConfig.model_validate({"alerts": {"signals": [
        {"name": "tiny_team", "severity": "low", "when": {"active_users_30d": {"max": 1}},
         "message": "{account_id} has {active_users_30d:.0f} active user at health "
                    "{health_score:.0f} ({reason_1})"}]}})
    scores = day_scores({"A": (80, "healthy", 200)})
    result = evaluate_alerts(scores, None, None, as_of=pd.Timestamp("2026-10-01"),
                             config=config.alerts,
                             features=features_of({"A": {"active_users_30d": 1}}))
    assert result.fired[["alert_type", "severity", "message"]].values.tolist() == [
        ["tiny_team", "low", "A has 1 active user at health 80 (a reason)"]]
    with pytest.raises(ValidationError, match="used twice: health_drop"):
        AlertConfig.model_validate({"signals": [
            {"name": "health_drop", "severity": "low", "when": {}, "message": "x"}]})


def test_alerts_carry_severity_owner_and_route():
    from models.alerts.routing import RoutingConfig, Target

    routing = RoutingConfig(targets={"critical": Target(webhook="http://pager/"),
                                     "high": Target(email="cs-leads@example.com")},
                            default_owner="cs-queue")
    scores = day_scores({"A": (75, "healthy", 200), "B": (75, "healthy", 200)}).assign(
        csm_owner=["ana", None])
    after = day_scores({"A": (20, "critical", 199), "B": (50, "at-risk", 199)}).assign(
        csm_owner=["ana", None])
    result = evaluate_alerts(after, scores, None, as_of=pd.Timestamp("2026-10-02"),
                             config=AlertConfig(routing=routing))
    table = result.fired.set_index(["account_id", "alert_type"])
    assert table.loc[("A", "newly_critical"), ["severity", "owner", "route"]].tolist() == [
        "critical", "ana", "webhook http://pager/"]
    assert table.loc[("B", "band_downgrade"), ["severity", "owner", "route"]].tolist() == [
        "high", "cs-queue", "e-mail cs-leads@example.com"]


def escalation_days(activities: pd.DataFrame | None, n_days: int = 4) -> list[pd.DataFrame]:
    """Account A critical from 2026-10-01 on (critical SLA: 24 hours)."""
    scores = day_scores({"A": (20, "critical", 200)})
    fired, state = [], None
    for i in range(n_days):
        result = evaluate_alerts(scores, scores, state, activities=activities,
                                 as_of=pd.Timestamp("2026-10-01") + pd.Timedelta(days=i))
        fired.append(result.fired)
        state = result.open
    return fired


def test_an_unanswered_alert_escalates_once_after_its_sla():
    none_done = pd.DataFrame({"account_id": ["other"], "performed_at": ["2026-10-01T10:00Z"]})
    fired = escalation_days(none_done)
    assert [f["escalation"].tolist() for f in fired] == [[False], [True], [], []]
    escalation = fired[1].iloc[0]
    # critical is the most urgent severity: it escalates to the critical target again
    assert escalation["alert_type"] == "newly_critical" and escalation["severity"] == "critical"
    assert escalation["message"].startswith("no CS activity since 2026-10-01 (SLA 24 h), "
                                            "escalated to csm manager: A is now critical")
    assert escalation["escalated_to"] == "csm_manager"
    assert escalation["alert_id"] != fired[0].iloc[0]["alert_id"]


def test_an_activity_after_the_alert_answers_it_and_one_before_does_not():
    answered = pd.DataFrame({"account_id": ["A"], "performed_at": ["2026-10-01T15:00Z"]})
    assert not any(f["escalation"].any() for f in escalation_days(answered))
    before = pd.DataFrame({"account_id": ["A"], "performed_at": ["2026-09-30T15:00Z"]})
    assert [f["escalation"].tolist() for f in escalation_days(before)][1] == [True]
    # without a cs_activities table nobody can know an alert was unanswered
    assert not any(f["escalation"].any() for f in escalation_days(None))


def test_high_severity_escalates_to_critical():
    from models.alerts.routing import escalated_severity

    assert [escalated_severity(s) for s in ("low", "medium", "high", "critical")] == [
        "medium", "high", "critical", "critical"]


def test_a_signal_on_a_feature_the_export_does_not_measure_stays_silent():
    """Without a login event in the export every account shows the capped value: the rule
    would alert on everyone, so it is not evaluated (and the asset warns)."""
    from models.alerts.signals import DEFAULT_SIGNALS, unmeasured_signals

    accounts = [f"a{i}" for i in range(25)]
    scores = day_scores({a: (80, "healthy", 200) for a in accounts})
    unmeasured = features_of({a: {"days_since_last_login": 90, "usage_velocity_30d": -0.5
                                  if a == "a0" else 0.1} for a in accounts})
    result = evaluate_alerts(scores, None, None, as_of=pd.Timestamp("2026-10-01"),
                             features=unmeasured)
    assert pairs(result.fired) == {("a0", "usage_down_25pct")}
    assert unmeasured_signals(unmeasured, DEFAULT_SIGNALS) == ["no_login_14d"]
    # a handful of accounts sharing a value is not evidence of anything
    assert unmeasured_signals(unmeasured.head(5), DEFAULT_SIGNALS) == []
    # no login anywhere: each account shows its tenure, capped at 90 days, and that varies
    tenure = [30 + 5 * i for i in range(25)]
    no_login = features_of({a: {"days_since_last_login": min(t, 90), "tenure_days": t}
                            for a, t in zip(accounts, tenure, strict=True)})
    assert unmeasured_signals(no_login, DEFAULT_SIGNALS) == ["no_login_14d"]
    one_login = no_login.assign(days_since_last_login=[20] + no_login[
        "days_since_last_login"].tolist()[1:])
    assert unmeasured_signals(one_login, DEFAULT_SIGNALS) == []


def test_a_usage_drop_reads_as_one_signed_change():
    from models.alerts.signals import DEFAULT_SIGNALS

    rule = next(r for r in DEFAULT_SIGNALS if r.name == "usage_down_25pct")
    message = rule.message.format(account_id="acc_1", usage_velocity_30d=-0.62)
    assert message == "acc_1: usage -62% month over month"


def test_conditions_holding_on_the_first_day_are_backlog_and_new_ones_fire_later():
    critical = day_scores({"A": (20, "critical", 200), "B": (80, "healthy", 200)})
    first = evaluate_alerts(critical, None, None, as_of=pd.Timestamp("2026-10-01"),
                            first_day=True, activities=pd.DataFrame(
                                {"account_id": ["other"], "performed_at": ["2026-10-01"]}))
    assert first.fired.empty
    assert first.open[["account_id", "alert_type", "backlog"]].values.tolist() == [
        ["A", "newly_critical", True]]
    assert first.open.loc[0, "message"] == "A is now critical (health 20)"
    later = day_scores({"A": (20, "critical", 200), "B": (25, "critical", 199)})
    fired, state = [], first.open
    for i in range(1, 4):
        result = evaluate_alerts(later, later if i > 1 else critical, state,
                                 as_of=pd.Timestamp("2026-10-01") + pd.Timedelta(days=i),
                                 activities=pd.DataFrame({"account_id": ["other"],
                                                          "performed_at": ["2026-10-01"]}))
        fired.append(result.fired)
        state = result.open
    # B's fall starts on day 2 and fires; A's long-held condition never fires nor escalates
    assert pairs(fired[0]) == {("B", "newly_critical"), ("B", "band_downgrade"),
                               ("B", "health_drop")}
    assert not any("A" in set(f["account_id"]) for f in fired)
    assert state.set_index(["account_id", "alert_type"])["backlog"].to_dict() == {
        ("A", "newly_critical"): True, ("B", "band_downgrade"): False,
        ("B", "health_drop"): False, ("B", "newly_critical"): False}


def test_an_open_condition_is_described_from_where_it_started():
    days = [day_scores({"A": (75, "healthy", 200)}), day_scores({"A": (50, "at-risk", 199)}),
            day_scores({"A": (48, "at-risk", 198)})]
    previous, state = None, None
    for i, scores in enumerate(days):
        result = evaluate_alerts(scores, previous, state,
                                 as_of=pd.Timestamp("2026-10-01") + pd.Timedelta(days=i))
        previous, state = scores, result.open
    messages = state.set_index("alert_type")["message"]
    assert messages["band_downgrade"] == "A fell from healthy to at-risk (health 48)"
    assert messages["health_drop"] == "A health dropped 27 points to 48 since 2026-10-01"


def test_an_escalation_describes_the_condition_from_where_it_started():
    nobody = pd.DataFrame({"account_id": ["other"], "performed_at": ["2026-10-01T10:00Z"]})
    days = [day_scores({"A": (75, "healthy", 200)})] + [
        day_scores({"A": (50, "at-risk", 199)}) for _ in range(4)]
    previous, state, fired = None, None, []
    for i, scores in enumerate(days):
        result = evaluate_alerts(scores, previous, state, activities=nobody,
                                 as_of=pd.Timestamp("2026-10-01") + pd.Timedelta(days=i))
        previous, state = scores, result.open
        fired.append(result.fired)
    escalations = pd.concat(fired).query("escalation").set_index("alert_type")["message"]
    assert escalations["health_drop"].endswith(
        "escalated to csm manager: A health dropped 25 points to 50 since 2026-10-01")
    assert escalations["band_downgrade"].endswith(
        "escalated to csm manager: A fell from healthy to at-risk (health 50)")


def run_slide(healths: list[float], config: AlertConfig | None = None) -> list[pd.DataFrame]:
    """Account A's health day by day, each day's slide measured from the stored days."""
    from models.alerts.engine import recent_high_health

    fired, previous, state, stored = [], None, None, []
    for i, health in enumerate(healths):
        day = pd.Timestamp("2026-10-01") + pd.Timedelta(days=i)
        scores = day_scores({"A": (health, "neutral", 200)})
        history = (pd.concat(stored) if stored
                   else pd.DataFrame(columns=["account_id", "as_of", "health_score"]))
        result = evaluate_alerts(scores, previous, state, as_of=day, config=config,
                                 recent_high=recent_high_health(
                                     history, day, (config or AlertConfig()).decline_days))
        fired.append(result.fired)
        previous, state = scores, result.open
        stored.append(scores.assign(as_of=day)[["account_id", "as_of", "health_score"]])
    return fired


def test_a_slide_of_25_points_over_three_weeks_alerts_once():
    # 90 down to 58 by 4 points a day: never a one-day drop of 20
    fired = run_slide([90 - 4 * i for i in range(9)])
    days = [i for i, f in enumerate(fired) if len(f)]
    assert days == [7]  # 90 - 62 = 28 >= 25 on day 7; day 6 is 24 down
    assert fired[7].loc[0, "alert_type"] == "health_decline"
    assert fired[7].loc[0, "message"] == "A health slid 28 points to 62 from 90 in 21 days"


def test_a_slide_is_measured_within_its_window_and_a_one_day_drop_is_not_a_slide():
    # the high of 90 lies 22 days back when the account reaches 64: outside 21 days, and
    # no 21 days hold a fall of 25
    slow = [90] + [88 - i for i in range(21)] + [64]
    assert all(f.empty or "health_decline" not in set(f["alert_type"]) for f in run_slide(slow))
    assert pairs(run_slide(slow, AlertConfig(decline_days=28))[-1]) == {("A", "health_decline")}
    # a fall of 30 in one day is a health_drop, not also a slide
    assert pairs(run_slide([90, 60])[1]) == {("A", "health_drop")}


def test_a_large_account_escalates_to_its_manager_then_its_vp():
    from models.alerts.routing import RoutingConfig, Target

    routing = RoutingConfig(escalation_targets={
        "csm_manager": Target(email="managers@example.com"),
        "vp_customer_success": Target(webhook="http://vp/")})
    nobody = pd.DataFrame({"account_id": ["other"], "performed_at": ["2026-10-01T10:00Z"]})
    scores = day_scores({"big": (20, "critical", 200), "small": (20, "critical", 200)}).assign(
        arr=[250_000.0, 20_000.0])
    fired, state = [], None
    for i in range(5):  # critical: SLA 24 h
        result = evaluate_alerts(scores, scores, state, activities=nobody,
                                 config=AlertConfig(routing=routing),
                                 as_of=pd.Timestamp("2026-10-01") + pd.Timedelta(days=i))
        fired.append(result.fired.query("escalation"))
        state = result.open
    steps = [sorted(zip(f["account_id"], f["escalated_to"], f["route"], strict=True))
             for f in fired]
    assert steps[0] == [] and steps[3:] == [[], []]
    assert steps[1] == [("big", "csm_manager", "e-mail managers@example.com"),
                        ("small", "csm_manager", "e-mail managers@example.com")]
    assert steps[2] == [("big", "vp_customer_success", "webhook http://vp/")]
    assert fired[1]["alert_id"].is_unique and not set(fired[1]["alert_id"]) & set(
        fired[2]["alert_id"])


def test_a_renewal_tomorrow_reads_as_one_day():
    days = [day_scores({"A": (55, "neutral", 2)}), day_scores({"A": (55, "neutral", 1)})]
    result = evaluate_alerts(days[0], None, None, as_of=pd.Timestamp("2026-10-01"))
    assert result.fired.loc[0, "message"] == "A renews in 2 days at health 55 (below 60)"
    result = evaluate_alerts(days[1], None, None, as_of=pd.Timestamp("2026-10-01"))
    assert result.fired.loc[0, "message"] == "A renews in 1 day at health 55 (below 60)"


def test_a_state_stored_with_the_once_only_flag_is_not_escalated_again():
    from models.alerts.routing import RoutingConfig

    nobody = pd.DataFrame({"account_id": ["other"], "performed_at": ["2026-10-01T10:00Z"]})
    scores = day_scores({"A": (20, "critical", 200)})
    stored = pd.DataFrame({"as_of": [pd.Timestamp("2026-10-01")], "account_id": ["A"],
                           "alert_type": ["newly_critical"],
                           "opened_on": [pd.Timestamp("2026-10-01")], "severity": ["critical"],
                           "escalated": [True]})
    result = evaluate_alerts(scores, scores, stored, activities=nobody,
                             as_of=pd.Timestamp("2026-10-05"),
                             config=AlertConfig(routing=RoutingConfig()))
    assert result.fired.empty and result.open["escalation_level"].tolist() == [1]
