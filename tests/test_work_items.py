"""Work items by hand: one per account, reasons folded, ranked by ARR at risk and severity,
each CSM's list within capacity, answered and held-out accounts off the list."""

import pandas as pd

from models.alerts.work_items import work_item_summary, work_items

DAY = pd.Timestamp("2026-10-10")


def condition(account: str, alert_type: str, severity: str, opened: str, *,
              backlog: bool = False) -> dict:
    return {"as_of": DAY, "account_id": account, "alert_type": alert_type,
            "severity": severity, "opened_on": pd.Timestamp(opened), "backlog": backlog,
            "message": f"{account}: {alert_type.replace('_', ' ')}"}


OPEN = pd.DataFrame([
    condition("a1", "low_seat_use", "low", "2026-10-01", backlog=True),
    condition("a1", "payment_failed", "high", "2026-10-10"),
    condition("a2", "no_login_14d", "high", "2026-10-03"),
    condition("a3", "newly_critical", "critical", "2026-10-01", backlog=True),
    condition("a4", "usage_down_25pct", "medium", "2026-10-09"),
    condition("a5", "low_seat_use", "low", "2026-10-10"),
    condition("a6", "newly_critical", "critical", "2026-10-10"),
])
SCORES = pd.DataFrame({
    "account_id": ["a1", "a2", "a3", "a4", "a5", "a6", "a7"],
    "csm_owner": ["kim", "kim", "kim", "lee", "lee", None, "lee"],
    "arr_at_risk": [100.0, 120.0, 30.0, 500.0, 900.0, 800.0, 9000.0],
    "churn_probability": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
    "arr": [1000.0, 600.0, 100.0, 1250.0, 1800.0, 1333.0, 12857.0],
    "health_score": [60.0, 55.0, 20.0, 45.0, 50.0, 15.0, 10.0],
    "band": ["neutral", "neutral", "critical", "at-risk", "neutral", "critical", "critical"],
    "recommended_action": ["billing", "re-onboard", "exec call", "check-in", "seats", "exec",
                           "exec"],
    "holdout": [False, False, False, False, False, False, False],
})


def items_by_account(**kwargs) -> pd.DataFrame:
    defaults = {"per_csm_per_day": 2, "activities": None}
    return work_items(OPEN, SCORES, **{**defaults, **kwargs}).set_index("account_id")


def test_conditions_fold_into_one_item_per_account_most_severe_first():
    items = items_by_account()
    assert sorted(items.index) == ["a1", "a2", "a3", "a4", "a5", "a6"]  # a7: nothing open
    assert items.loc["a1", "conditions"] == "payment failed, low seat use"
    # the item is the account's: its reasons do not repeat its id
    assert items.loc["a1", "reasons"] == "payment failed; low seat use"
    assert items.loc["a1", "severity"] == "high"
    assert items.loc["a1", "opened_on"] == pd.Timestamp("2026-10-01")


def test_priority_is_arr_at_risk_weighted_by_the_most_severe_condition():
    items = items_by_account()
    # high weighs 2, critical 3, medium 1.5, low 1
    assert items["priority"].to_dict() == {"a1": 200.0, "a2": 240.0, "a3": 90.0,
                                           "a4": 750.0, "a5": 900.0, "a6": 2400.0}


def test_each_csm_gets_their_capacity_best_first_and_the_rest_waits():
    items = items_by_account(per_csm_per_day=2)
    assert items.loc[["a2", "a1", "a3"], "rank"].tolist() == [1, 2, 3]
    assert items.loc[["a2", "a1", "a5", "a4"], "status"].eq("today").all()
    assert items.loc["a3", "status"] == "backlog"
    # no CSM: never on a list, however urgent
    assert items.loc["a6", ["csm_owner", "status"]].tolist() == ["(no CSM)", "backlog"]
    one = items_by_account(per_csm_per_day=1)
    assert one.loc[one["status"] == "today"].index.tolist() == ["a2", "a5"]


def test_new_means_a_condition_fired_that_day_not_the_initial_backlog():
    items = items_by_account()
    assert items["new"].to_dict() == {"a1": True, "a2": False, "a3": False, "a4": False,
                                      "a5": True, "a6": True}


def test_an_activity_since_the_latest_condition_takes_the_item_off_the_list():
    activities = pd.DataFrame({
        "account_id": ["a2", "a1", "a4"],
        # a2 answered after it opened; a1's latest condition opened after the call; a4's
        # activity comes after the day
        "performed_at": ["2026-10-05T09:00Z", "2026-10-08T09:00Z", "2026-10-11T09:00Z"]})
    items = items_by_account(per_csm_per_day=2, activities=activities)
    assert items.loc["a2", ["status", "rank"]].tolist() == ["answered", 0]
    # a2's place goes to the next of kim's: a3
    assert items.loc[["a1", "a3"], "status"].tolist() == ["today", "today"]
    assert items.loc["a4", "status"] == "today"


def test_held_out_accounts_are_listed_but_never_called():
    scores = SCORES.assign(holdout=SCORES["account_id"].eq("a5"))
    items = work_items(OPEN, scores, per_csm_per_day=2).set_index("account_id")
    assert items.loc["a5", ["status", "rank"]].tolist() == ["holdout", 0]
    summary = work_item_summary(items.reset_index()).set_index("csm_owner")
    assert summary.loc["lee", ["today", "new", "holdout"]].tolist() == [1, 1, 1]
    assert summary.loc["kim", ["today", "new", "backlog"]].tolist() == [2, 1, 1]


def test_a_day_without_open_conditions_has_no_items():
    assert work_items(OPEN.iloc[:0], SCORES, per_csm_per_day=2).empty


def test_a_condition_gone_quiet_makes_no_item():
    quiet = pd.DataFrame([{**condition("a7", "no_login_14d", "high", "2026-10-02"),
                           "quiet_days": 1}])
    both = pd.concat([OPEN.assign(quiet_days=0), quiet], ignore_index=True)
    items = work_items(both, SCORES, per_csm_per_day=2)
    assert "a7" not in set(items["account_id"]) and len(items) == 6
