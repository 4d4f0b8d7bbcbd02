"""Playbook effectiveness by hand: each episode credited to its main playbook, churn against
the shared holdout, the ARR kept and the cost per retained dollar."""

import math

import pandas as pd
import pytest

from models.analysis.interventions import difference_interval
from models.analysis.playbooks import episode_playbooks, playbook_effectiveness

FLAG = pd.Timestamp("2026-01-10T09:00Z")


def episode(account: str, arm: str, churned: int, *, actions: int = 1,
            closed: bool = True) -> dict:
    return {"account_id": account, "flagged_at": FLAG, "flag_date": pd.Timestamp("2026-01-10"),
            "arm": arm, "actions": actions, "churned_within_horizon": churned,
            "window_closed": closed}


EPISODES = pd.DataFrame([
    episode("c1", "control", 1), episode("c2", "control", 0), episode("c3", "control", 1),
    episode("c4", "control", 0),                                   # control churn: 50 %
    episode("e1", "treated", 0, actions=2), episode("e2", "treated", 0),
    episode("e3", "treated", 1),                                   # exec calls: 1 of 3
    episode("h1", "treated", 1), episode("h2", "treated", 1),      # health checks: 2 of 2
    episode("late", "treated", 0, closed=False),                   # horizon still open
])
ACTIVITIES = pd.DataFrame({
    "account_id": ["c1", "c2", "c3", "c4", "e1", "e1", "e1", "e2", "e3", "h1", "h2", "late"],
    "flagged_at": FLAG,
    "action_type": ["holdout"] * 4 + ["executive_call", "executive_call", "health_check",
                                      "executive_call", "executive_call", "health_check",
                                      "health_check", "health_check"]})
SUBSCRIPTIONS = pd.DataFrame({
    "account_id": ["e1", "e2", "e3", "h1", "h2", "e1"],
    "start_date": pd.to_datetime(["2025-01-01"] * 5 + ["2026-02-01"]),
    "end_date": pd.NaT, "mrr": [100.0, 200.0, 300.0, 50.0, 50.0, 999.0]})


def test_an_episode_belongs_to_the_playbook_of_most_of_its_outreach():
    playbooks = episode_playbooks(EPISODES, ACTIVITIES)
    assert playbooks.tolist()[4:] == ["executive_call", "executive_call", "executive_call",
                                      "health_check", "health_check", "health_check"]
    assert playbooks.iloc[:4].isna().all()  # held out: no outreach


def test_each_playbook_against_the_shared_holdout_with_the_arr_it_keeps():
    table = playbook_effectiveness(EPISODES, ACTIVITIES, SUBSCRIPTIONS,
                                   activity_costs={"executive_call": 100.0}).set_index(
        "playbook")
    calls = table.loc["executive_call"]
    assert (calls["episodes"], calls["churned"], calls["control_episodes"]) == (3, 1, 4)
    uplift, low, high = difference_interval(2, 4, 1, 3)
    assert calls["uplift"] == pytest.approx(0.5 - 1 / 3) == pytest.approx(uplift)
    assert (calls["uplift_low"], calls["uplift_high"]) == pytest.approx((low, high))
    # ARR on the flag day: 12 x (100 + 200 + 300); e1's later subscription is not counted
    assert calls["arr_treated"] == 7200
    assert calls["arr_saved"] == pytest.approx(uplift * 7200)
    assert calls["cost"] == 400 and calls["cost_per_retained_arr"] == pytest.approx(
        400 / (uplift * 7200))
    checks = table.loc["health_check"]
    assert checks["uplift"] == pytest.approx(-0.5) and checks["arr_saved"] < 0
    assert math.isnan(checks["cost"]) and math.isnan(checks["cost_per_retained_arr"])
    assert table.index.tolist() == ["executive_call", "health_check"]  # most ARR kept first


def test_nothing_to_say_before_any_horizon_has_closed():
    assert playbook_effectiveness(EPISODES.assign(window_closed=False), ACTIVITIES,
                                  SUBSCRIPTIONS).empty
