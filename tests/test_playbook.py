"""The playbook maps band, ARR tier, reasons and renewal timing to actions as configured."""

import pandas as pd
import pytest

from models.scoring.playbook import HOLDOUT_RULE, Playbook, recommend_actions


def accounts(**columns):
    base = {"band": "healthy", "arr": 5_000.0, "days_to_renewal": 200,
            "risk_reasons": [[]], "active_users_per_seat": 0.5}
    base.update(columns)
    return pd.DataFrame(base)


@pytest.mark.parametrize(("columns", "rule"), [
    ({"band": "critical", "arr": 80_000.0}, "executive_sponsor_call"),
    ({"band": "critical", "arr": 8_000.0, "days_to_renewal": 30}, "renewal_rescue"),
    ({"band": "neutral", "risk_reasons": [["failed_payments_90d"]]}, "billing_outreach"),
    ({"band": "at-risk", "risk_reasons": [["usage_velocity_30d"]]}, "re_onboarding"),
    ({"band": "healthy", "risk_reasons": [["usage_velocity_30d"]]}, "keep_cadence"),
    ({"band": "at-risk", "risk_reasons": [["open_high_priority_tickets"]]},
     "support_escalation"),
    ({"band": "healthy", "active_users_per_seat": 0.95}, "expansion_conversation"),
    ({"band": "critical", "arr": 1_000.0}, "health_check"),
    ({"band": "thriving", "nps_latest": 10.0}, "reference_ask"),
    ({"band": "thriving", "nps_latest": 8.0}, "keep_cadence"),
])
def test_default_playbook_rules(columns, rule):
    result = recommend_actions(accounts(**columns))
    assert result["rule"].iloc[0] == rule


def test_first_matching_rule_wins_and_carries_owner_and_sla():
    result = recommend_actions(accounts(band="critical", arr=80_000.0,
                                        risk_reasons=[["failed_payments_90d"]]))
    assert result.iloc[0].to_dict() == {
        "rule": "executive_sponsor_call",
        "action": "Executive sponsor call to agree a recovery plan",
        "owner": "CSM lead + executive sponsor", "sla_hours": 24, "holdout": False}


def test_custom_playbook_from_yaml(tmp_path):
    path = tmp_path / "playbook.yaml"
    path.write_text("arr_tiers: {big: 1000, small: 0}\n"
                    "rules:\n"
                    "  - {name: big_red, when: {bands: [critical], arr_tiers: [big]},"
                    " action: call, owner: vp, sla_hours: 4}\n"
                    "  - {name: rest, action: wait, owner: csm, sla_hours: 100}\n")
    playbook = Playbook.load(path)
    result = recommend_actions(accounts(band=["critical", "critical"], arr=[2000.0, 10.0],
                                        risk_reasons=[[], []]), playbook)
    assert result["rule"].tolist() == ["big_red", "rest"]


def test_a_playbook_without_a_catch_all_is_an_error(tmp_path):
    path = tmp_path / "playbook.yaml"
    path.write_text("arr_tiers: {all: 0}\nrules:\n"
                    "  - {name: only, when: {bands: [critical]}, action: a, owner: o,"
                    " sla_hours: 1}\n")
    with pytest.raises(ValueError, match="no rule for some accounts"):
        recommend_actions(accounts(), Playbook.load(path))


def test_the_holdout_is_a_stable_random_share_of_accounts_drawn_by_salt():
    ids = pd.Series([f"acc_{i:06d}" for i in range(20_000)])
    playbook = Playbook.load()
    held = playbook.held_out(ids)
    assert abs(held.mean() - playbook.holdout_share) < 0.01
    assert (playbook.held_out(ids) == held).all()  # the same tomorrow
    assert playbook.held_out(ids.iloc[::-1])[::-1].tolist() == held.tolist()  # order-free
    redrawn = playbook.model_copy(update={"holdout_salt": "2027"}).held_out(ids)
    assert abs((redrawn & held).mean() - playbook.holdout_share ** 2) < 0.01  # independent
    assert not playbook.model_copy(update={"holdout_share": 0.0}).held_out(ids).any()


def test_only_flagged_accounts_drawn_into_the_holdout_get_the_holdout_action():
    playbook = Playbook.load().model_copy(update={"holdout_share": 0.5})
    ids = [f"acc_{i}" for i in range(400)]
    held = playbook.held_out(pd.Series(ids))
    bands = ["critical", "at-risk", "neutral", "healthy"] * 100
    no_reasons = [[] for _ in ids]
    result = recommend_actions(accounts(band=bands, account_id=ids, risk_reasons=no_reasons),
                               playbook)
    flagged = pd.Series(bands).isin(["critical", "at-risk"]).to_numpy()
    assert (result["holdout"].to_numpy() == (held & flagged)).all()
    assert (result.loc[result["holdout"], "rule"] == HOLDOUT_RULE).all()
    assert (result.loc[~result["holdout"], "rule"] != HOLDOUT_RULE).all()
    # without account ids (what-if tables) nobody is held out
    assert not recommend_actions(accounts(band=bands, risk_reasons=no_reasons), playbook)[
        "holdout"].any()


def test_rules_match_segment_plan_and_bounds_on_any_feature(tmp_path):
    path = tmp_path / "playbook.yaml"
    path.write_text("arr_tiers: {all: 0}\nrules:\n"
                    "  - {name: smb_payments, when: {segments: [SMB], plans: [Pro Plus],"
                    " features: {failed_payments_90d: {min: 1}}}, action: a, owner: o,"
                    " sla_hours: 1}\n"
                    "  - {name: rest, action: b, owner: o, sla_hours: 2}\n")
    frame = accounts(band=["healthy"] * 4, arr=[1.0] * 4, risk_reasons=[[]] * 4,
                     segment=["smb", "SMB", "enterprise", "smb"],
                     plan=["pro_plus", "Pro Plus", "pro_plus", "pro plus"],
                     failed_payments_90d=[1, 0, 2, None])
    assert recommend_actions(frame, Playbook.load(path))["rule"].tolist() == [
        "smb_payments", "rest", "rest", "rest"]


def test_a_bound_on_a_feature_the_export_lacks_matches_nobody(tmp_path):
    path = tmp_path / "playbook.yaml"
    path.write_text("arr_tiers: {all: 0}\nrules:\n"
                    "  - {name: detractors, when: {features: {nps_latest: {max: 6}}},"
                    " action: a, owner: o, sla_hours: 1}\n"
                    "  - {name: rest, action: b, owner: o, sla_hours: 2}\n")
    assert recommend_actions(accounts(), Playbook.load(path))["rule"].tolist() == ["rest"]


def test_recently_churned_high_arr_accounts_are_won_back_by_kind_of_churn():
    from models.scoring.playbook import win_back_candidates

    churned = pd.DataFrame({
        "account_id": ["big_left", "big_card", "small", "big_long_ago"],
        "churn_date": pd.to_datetime(["2026-11-20", "2026-11-25", "2026-11-20", "2026-08-01"]),
        "arr": [80_000.0, 60_000.0, 2_000.0, 90_000.0],
        "kind": ["voluntary", "involuntary", "voluntary", "voluntary"]})
    chosen = win_back_candidates(churned, pd.Timestamp("2026-11-30")).set_index("account_id")
    # high tier from 50,000 ARR; within 60 days of the day
    assert sorted(chosen.index) == ["big_card", "big_left"]
    assert chosen.loc["big_left", "action"].startswith("Win-back call")
    assert chosen.loc["big_card", "action"].startswith("Recover the failed payment")
