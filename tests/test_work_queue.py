"""The CSM work queue by hand: capacity per CSM and queue, ordering by expected ARR,
overflow reported (never dropped), unowned accounts visible."""

import pandas as pd

from models.alerts.work_queue import CapacityConfig, overflow_summary, work_queue
from models.expansion.opportunities import OPPORTUNITY_COLUMNS

SCORES = pd.DataFrame({
    "account_id": ["a1", "a2", "a3", "a4", "a5", "a6"],
    "band": ["critical", "at-risk", "at-risk", "healthy", "critical", "at-risk"],
    "arr_at_risk": [500.0, 900.0, 100.0, 5000.0, 300.0, 50.0],
    "recommended_action": ["exec call", "qbr", "check-in", "none", "exec call", "check-in"],
})
OPPORTUNITIES = pd.DataFrame({
    "account_id": ["a4", "a7", "a8", "a2"],
    "status": ["open", "open", "open", "expansion after recovery"],
    "tier": ["High", "Medium", "Low", "High"],
    "projected_arr": [800.0, 200.0, 900.0, 999.0],
})
OWNERS = pd.Series({"a1": "kim", "a2": "kim", "a3": "kim", "a4": "lee", "a5": "lee",
                    "a7": "lee"})
CONFIG = CapacityConfig(retention_accounts_per_csm_per_week=2,
                        expansion_accounts_per_csm_per_week=1)


def test_retention_queue_by_hand():
    queue = work_queue(SCORES, OPPORTUNITIES, OWNERS, CONFIG)
    retention = queue[queue["queue"] == "retention"].set_index("account_id")
    # kim: a2 (900), a1 (500) scheduled, a3 (100) overflow; lee: a5; a6 has no CSM
    assert retention.loc[["a2", "a1", "a3"], "rank"].tolist() == [1, 2, 3]
    assert retention.loc[["a2", "a1"], "status"].eq("scheduled").all()
    assert retention.loc["a3", "status"] == "overflow"
    assert retention.loc["a5", "status"] == "scheduled"
    assert retention.loc["a6", "csm_owner"] == "(no CSM)"
    assert retention.loc["a6", "status"] == "overflow"
    assert "a4" not in retention.index  # healthy accounts are not in the retention queue
    assert retention.loc["a1", "action"] == "exec call"


def test_expansion_queue_by_hand():
    queue = work_queue(SCORES, OPPORTUNITIES, OWNERS, CONFIG)
    expansion = queue[queue["queue"] == "expansion"].set_index("account_id")
    # a8 is Low tier and a2 waits for recovery: neither is a lead; lee has capacity 1
    assert sorted(expansion.index) == ["a4", "a7"]
    assert expansion.loc["a4", "status"] == "scheduled"
    assert expansion.loc["a7", "status"] == "overflow"


def test_overflow_is_summarised_not_dropped():
    queue = work_queue(SCORES, OPPORTUNITIES, OWNERS, CONFIG)
    summary = overflow_summary(queue).set_index("queue")
    assert summary.loc["retention", "accounts_scheduled"] == 3
    assert summary.loc["retention", "accounts_overflow"] == 2
    assert summary.loc["retention", "expected_arr_overflow"] == 150.0
    assert summary.loc["expansion", "expected_arr_overflow"] == 200.0
    candidates = (SCORES["band"].isin(["at-risk", "critical"]).sum() + 2)
    assert len(queue) == candidates


def test_without_owners_everything_overflows():
    queue = work_queue(SCORES, OPPORTUNITIES, None, CONFIG)
    assert queue["status"].eq("overflow").all()


def test_no_expansion_champion_leaves_only_the_retention_queue():
    """Without an expansion champion the day's opportunities table is empty (untyped)."""
    empty = pd.DataFrame({c: [] for c in OPPORTUNITY_COLUMNS})
    queue = work_queue(SCORES, empty, OWNERS, CONFIG)
    assert set(queue["queue"]) == {"retention"}
    assert len(queue) == 5


def test_held_out_accounts_are_listed_outside_capacity():
    scores = SCORES.assign(holdout=[False, True, False, False, False, False])
    queue = work_queue(scores, OPPORTUNITIES, OWNERS, CONFIG)
    retention = queue[queue["queue"] == "retention"].set_index("account_id")
    assert retention.loc["a2", "status"] == "holdout"
    # a2 (the largest) is held out, so kim's capacity of 2 goes to a1 and a3
    assert retention.loc[["a1", "a3"], "status"].eq("scheduled").all()


def test_win_back_queue_by_hand():
    win_back = pd.DataFrame({"account_id": ["w1", "w2", "w3"], "arr": [70_000.0, 90_000.0,
                                                                         60_000.0],
                             "action": ["call", "recover payment", "call"]})
    owners = pd.concat([OWNERS, pd.Series({"w1": "kim", "w2": "kim", "w3": "kim"})])
    config = CapacityConfig(win_back_accounts_per_csm_per_week=2)
    queue = work_queue(SCORES, OPPORTUNITIES, owners, config, win_back=win_back)
    back = queue[queue["queue"] == "win_back"].set_index("account_id")
    # kim takes the two largest lost ARRs; the third overflows
    assert back.loc[["w2", "w1", "w3"], "status"].tolist() == ["scheduled", "scheduled",
                                                               "overflow"]
    assert back.loc["w2", "action"] == "recover payment"
    assert "win_back" in set(overflow_summary(queue)["queue"])
