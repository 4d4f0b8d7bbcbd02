"""Activation by hand: the definition learned from month-old accounts that stayed (or
configured), time to value per signup month, and the onboarding queue."""

import pandas as pd
import pytest

from models.analysis.activation import (
    ActivationConfig,
    activated,
    activation_definition,
    onboarding_queue,
    time_to_value,
)

NAMES = ["login", "Reports Run", "export", "rare"]


def month_old(account: str, *, login: int, reports: int, export: int, rare: int = 0,
              churned: int = 0, tenure: int = 32) -> dict:
    return {"account_id": account, "tenure_days": tenure, "churned_within_horizon": churned,
            "event_login_30d": login, "event_reports_run_30d": reports,
            "event_export_30d": export, "event_rare_30d": rare}


TRAINING = pd.DataFrame([
    month_old("a", login=30, reports=2, export=1),
    month_old("b", login=30, reports=8, export=0),
    month_old("c", login=30, reports=4, export=3, rare=1),
    month_old("d", login=30, reports=6, export=5),
    month_old("e", login=30, reports=0, export=0, churned=1),   # churned: not learned from
    month_old("f", login=30, reports=1, export=1, tenure=90),   # not a month old
])


def test_the_definition_is_learned_from_month_old_accounts_that_stayed():
    definition = activation_definition(TRAINING, NAMES, ignore={"login"})
    # reports: 4 of 4 stayed accounts (25th percentile of 2, 8, 4, 6 = 3.5 -> 3); export:
    # 3 of 4 (of 1, 3, 5 -> 2); rare: 1 of 4; logins never count
    assert definition.to_dict("records") == [
        {"event": "Reports Run", "min_events_30d": 3.0, "source": "learned"},
        {"event": "export", "min_events_30d": 2.0, "source": "learned"},
        {"event": "rare", "min_events_30d": 1.0, "source": "learned"}]
    configured = activation_definition(TRAINING, NAMES,
                                       config=ActivationConfig(events={"export": 5}))
    assert configured.to_dict("records") == [
        {"event": "export", "min_events_30d": 5, "source": "configured"}]


def test_activated_needs_every_event_at_its_count():
    definition = pd.DataFrame({"event": ["Reports Run", "export"], "min_events_30d": [3, 2]})
    assert activated(TRAINING, definition, NAMES).tolist() == [False, False, True, True, False,
                                                              False]
    assert not activated(TRAINING, definition.iloc[:0], NAMES).any()


def test_time_to_value_per_signup_month():
    definition = pd.DataFrame({"event": ["export"], "min_events_30d": [1]})

    def weekly(account: str, exports: list[int]) -> list[dict]:
        return [{"account_id": account, "tenure_days": 7 * (i + 1), "event_export_30d": n,
                 "churned_within_horizon": 0} for i, n in enumerate(exports)]

    rows = pd.DataFrame(
        weekly("x", [0, 0, 1, 1] + [1] * 10)            # day 21
        + weekly("y", [0] * 8 + [2] * 6)                # day 63
        + weekly("z", [0] * 14)                         # never
        + weekly("new", [1, 1]))                        # followed 14 days only: left out
    signup = pd.Series(pd.to_datetime(["2026-01-05", "2026-01-20", "2026-02-01",
                                       "2026-02-03"]), index=["x", "y", "z", "new"])
    table = time_to_value(rows, definition, NAMES, signup).set_index("cohort")
    assert table.loc["2026-01"].to_dict() == {
        "accounts": 2, "activated_30d": 0.5, "activated_60d": 0.5, "activated_90d": 1.0,
        "median_days_to_value": 42.0}
    assert table.loc["2026-02", "accounts"] == 1
    assert table.loc["2026-02", "activated_90d"] == 0.0


def test_the_onboarding_queue_is_new_accounts_below_activation_largest_first():
    definition = pd.DataFrame({"event": ["Reports Run", "export"], "min_events_30d": [3, 2]})
    snapshot = pd.DataFrame([
        month_old("young_low", login=5, reports=1, export=2, tenure=40),
        month_old("young_ok", login=5, reports=5, export=2, tenure=45),
        month_old("young_big", login=5, reports=0, export=0, tenure=30),
        month_old("too_new", login=5, reports=0, export=0, tenure=20),
        month_old("too_old", login=5, reports=0, export=0, tenure=61),
    ])
    scores = pd.DataFrame({"account_id": snapshot["account_id"], "csm_owner": "kim",
                           "arr": [1000.0, 2000.0, 9000.0, 500.0, 500.0]})
    queue = onboarding_queue(snapshot, scores, definition, NAMES)
    assert queue["account_id"].tolist() == ["young_big", "young_low"]
    assert queue["missing"].tolist() == ["Reports Run 0 of 3; export 0 of 2 in 30 days",
                                         "Reports Run 1 of 3 in 30 days"]
    wider = onboarding_queue(snapshot, scores, definition, NAMES,
                             ActivationConfig(onboarding_days=(14, 90)))
    assert len(wider) == 4


@pytest.mark.parametrize("names", [NAMES])
def test_no_definition_queues_every_new_account_and_says_why(names):
    snapshot = pd.DataFrame([month_old("n", login=1, reports=0, export=0, tenure=35)])
    queue = onboarding_queue(snapshot, pd.DataFrame({"account_id": ["n"], "arr": [1.0]}),
                             pd.DataFrame(columns=["event", "min_events_30d"]), names)
    assert queue["missing"].tolist() == ["no activation events defined"]
