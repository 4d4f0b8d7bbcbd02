"""Reasons: plain sentences, largest effects first, adding up to the model margin."""

import numpy as np
import pandas as pd
import pytest

from models.churn.classifier import ChurnClassifier
from models.scoring.reasons import describe, top_reasons


def test_sentences_read_like_a_csm_would_write_them():
    assert describe("active_users_mom_change", -0.42) == (
        "Active users fell 42% over the last 30 days")
    assert describe("failed_payments_90d", 1) == "1 failed payment in the last 90 days"
    assert describe("open_high_priority_tickets", 2) == "2 open high-priority tickets"
    assert describe("days_to_renewal", 12.0) == "Renewal in 12 days"
    assert describe("days_to_renewal", 1) == "Renewal in 1 day"
    assert describe("days_since_last_login", 1.0) == "Last login 1 day ago"
    assert describe("nps_latest", float("nan")) == "No recent NPS response"
    assert describe("core_events_per_active_user_30d", None) == (
        "No active users in the last 30 days")
    assert describe("event_3_per_user_30d", float("nan")) == (
        "No active users in the last 30 days")
    # a missing value of a nullable integer column, as snapshots store counts
    assert describe("failed_payments_90d", pd.NA) == "failed payments 90d unknown"
    assert describe("open_tickets", None) == "open tickets unknown"


def test_top_reasons_by_hand():
    contributions = pd.DataFrame({"days_to_renewal": [0.9, -0.1], "nps_latest": [-0.5, 0.05],
                                  "failed_payments_90d": [0.2, 0.0], "bias": [-2.0, -2.0]})
    values = pd.DataFrame({"days_to_renewal": [5, 200], "nps_latest": [9.0, 7.0],
                           "failed_payments_90d": [1, 0]})
    reasons = top_reasons(contributions, values, k=2)
    first = reasons[reasons["account_index"] == 0]
    assert first["feature"].tolist() == ["days_to_renewal", "nps_latest"]
    assert first["direction"].tolist() == ["raises risk", "lowers risk"]
    assert first["sentence"].iloc[0] == "Renewal in 5 days"
    assert first["other_effect"].iloc[0] == pytest.approx(0.2)


def test_reasons_add_up_to_the_model_margin():
    rng = np.random.default_rng(0)
    frame = pd.concat([pd.DataFrame({
        "as_of_date": pd.Timestamp("2026-01-31") + pd.DateOffset(months=m),
        "account_id": [f"a{i}" for i in range(300)],
        "active_users_30d": rng.poisson(5, 300), "days_to_renewal": rng.integers(1, 365, 300),
        "failed_payments_90d": rng.poisson(0.3, 300), "plan": rng.choice(["a", "b"], 300),
    }) for m in range(4)], ignore_index=True)
    y = (rng.random(len(frame)) < 0.1 + 0.2 * (frame["failed_payments_90d"] > 0)).astype(int)
    model = ChurnClassifier().fit(frame, y)
    contributions = model.shap_values(frame)
    reasons = top_reasons(contributions, frame, k=3)
    per_account = reasons.groupby("account_index").agg(
        shown=("effect", "sum"), other=("other_effect", "first"), base=("base_value", "first"))
    margin = model.model_.predict(model.matrix(frame), output_margin=True,
                                  iteration_range=(0, model.best_iteration_ + 1))
    np.testing.assert_allclose(per_account["shown"] + per_account["other"] + per_account["base"],
                               margin, rtol=1e-4, atol=1e-4)


def test_every_feature_has_a_sentence():
    from features.snapshot import FEATURE_GROUPS
    from models.scoring.reasons import SENTENCES

    features = {f for group in FEATURE_GROUPS.values() for f in group}
    assert set(SENTENCES) <= features
    names = [f"name{k}" for k in range(1, 13)]
    fallback = [f for f in features
                if describe(f, 1.0, names) == f"{f.replace('_', ' ')} = 1.0"]
    assert fallback == []


def test_per_event_features_name_their_event():
    names = ["call_started", "invite_sent"]
    assert describe("event_1_30d", 3, names) == "3 'call_started' events in the last 30 days"
    assert describe("event_2_mom_change", -0.5, names) == (
        "'invite_sent' events fell 50% over the last 30 days")
    assert describe("event_2_per_user_30d", 0.25, names) == (
        "0.2 'invite_sent' events per active user in 30 days")
    # named by event, as the training set names them: the export's own spelling returns
    spelled = ["Call Started", "invite_sent"]
    assert describe("event_call_started_7d", 2, spelled) == (
        "2 'Call Started' events in the last 7 days")
    assert describe("event_invite_sent_90d", 1, []) == "1 'invite_sent' event in the last 90 days"
    # a slot the model knows no name for still reads as an event
    assert describe("event_5_7d", 1, names) == "1 'event 5' event in the last 7 days"


def test_context_is_never_the_first_reason_while_behaviour_raises_the_risk():
    contributions = pd.DataFrame({"billing_period": [1.2, 1.2], "industry": [0.8, 0.8],
                                  "events_wow_change": [0.1, -0.3], "bias": [-2.0, -2.0]})
    values = pd.DataFrame({"billing_period": ["annual", "annual"], "industry": ["JP", "JP"],
                           "events_wow_change": [-0.2, 0.4]})
    reasons = top_reasons(contributions, values, k=3)
    first = reasons[reasons["rank"] == 1].set_index("account_index")["feature"]
    # account 0: usage fell and raised its risk, so usage leads despite a smaller effect
    assert first[0] == "events_wow_change"
    # account 1: no behaviour raises its risk, so the largest effect leads, context or not
    assert first[1] == "billing_period"
    # nothing is lost: the shown reasons still add up to the margin
    shown = reasons.groupby("account_index")["effect"].sum() + reasons.groupby(
        "account_index")["other_effect"].first()
    np.testing.assert_allclose(shown, contributions.drop(columns="bias").sum(axis=1))


def test_no_login_wording_without_a_login_event():
    from models.inputs import informative_columns, login_measured

    rng = np.random.default_rng(4)
    n = 600
    frame = pd.DataFrame({
        "as_of_date": pd.Timestamp("2026-01-04") + pd.to_timedelta(7 * (np.arange(n) % 8),
                                                                   unit="D"),
        "tenure_days": rng.integers(1, 400, n).astype(float),
        "events_30d": rng.poisson(50, n).astype(float)})
    # no login event in the export: every account shows its tenure, capped at 90 days
    frame["days_since_last_login"] = np.minimum(frame["tenure_days"], 90)
    y = pd.Series((rng.random(n) < 0.2).astype(int))
    assert not login_measured(frame)
    assert "days_since_last_login" in informative_columns(frame, list(frame.columns[1:]))[1]
    model = ChurnClassifier().fit(frame, y)
    reasons = top_reasons(model.shap_values(frame), frame, k=2)
    assert not reasons["sentence"].str.contains("login", case=False).any()
    # with logins measured, the feature is used and speaks of logins
    frame["days_since_last_login"] = rng.integers(0, 10, n).astype(float)
    assert login_measured(frame)
    assert "days_since_last_login" in ChurnClassifier().fit(frame, y).features_


def test_a_reason_that_reads_backwards_is_not_shown():
    contributions = pd.DataFrame({
        "days_since_last_cs_touch": [0.9, 0.9, 0.9, 0.9],
        "failed_payments_90d": [0.2, 0.2, -0.3, 0.2], "nps_latest": [0.1, 0.1, 0.1, 0.1],
        "seats": [0.05, 0.05, 0.05, 0.05], "bias": [-2.0] * 4})
    # typical (median) values: 20 days since a touch, 1 failed payment, NPS 7
    values = pd.DataFrame({"days_since_last_cs_touch": [3.0, 60.0, 20.0, 20.0],
                           "failed_payments_90d": [2, 0, 3, 0],
                           "nps_latest": [5.0, float("nan"), 9.0, 7.0],
                           "seats": [10, 10, 10, 10]})
    reasons = top_reasons(contributions, values, k=2)
    by_account = reasons.groupby("account_index")["feature"].apply(list)
    # account 0 was touched 3 days ago, sooner than typical: the model's largest push up,
    # but not a reason a CSM can act on; its failed payments and low NPS are
    assert by_account[0] == ["failed_payments_90d", "nps_latest"]
    # 60 days without a touch is worse than typical: the same effect is a reason; no failed
    # payment raising the risk is not; a missing NPS has no direction ("No recent response")
    assert by_account[1] == ["days_since_last_cs_touch", "nps_latest"]
    # account 2: everything directional reads backwards (the typical 20 days raising the
    # risk, 3 failed payments lowering it, NPS 9 raising it): the context comes first, and a
    # backwards one fills the list only because fewer than k others exist
    assert by_account[2] == ["seats", "days_since_last_cs_touch"]
    # nothing is lost: the hidden effects count in other_effect
    shown = reasons.groupby("account_index")["effect"].sum() + reasons.groupby(
        "account_index")["other_effect"].first()
    np.testing.assert_allclose(shown, contributions.drop(columns="bias").sum(axis=1))
    # against a given reference instead of these accounts' medians
    typical = pd.Series({"days_since_last_cs_touch": 2.0})
    assert top_reasons(contributions, values, k=1,
                       typical=typical)["feature"].iloc[0] == "days_since_last_cs_touch"


def test_every_direction_is_a_feature_with_a_sentence():
    from features.snapshot import FEATURE_GROUPS
    from models.inputs import RISK_DIRECTION
    from models.scoring.reasons import CONTEXT_FEATURES, SENTENCES

    features = {f for group in FEATURE_GROUPS.values() for f in group}
    assert set(RISK_DIRECTION) <= features & set(SENTENCES)
    assert not set(RISK_DIRECTION) & set(CONTEXT_FEATURES)


def test_a_sentence_is_said_once_per_account():
    # without active users every per-user rate is missing and reads the same sentence
    contributions = pd.DataFrame({
        "events_per_active_user_30d": [0.9, 0.1], "core_events_per_active_user_30d": [0.8, 0.2],
        "event_2_per_user_30d": [0.7, 0.3], "failed_payments_90d": [0.2, 0.05],
        "bias": [-2.0, -2.0]})
    nan = float("nan")
    values = pd.DataFrame({"events_per_active_user_30d": [nan, 4.0],
                           "core_events_per_active_user_30d": [nan, 2.0],
                           "event_2_per_user_30d": [nan, nan],
                           "failed_payments_90d": [2, 0]})
    reasons = top_reasons(contributions, values, k=2, typical=pd.Series(
        {"failed_payments_90d": 0.0, "events_per_active_user_30d": 9.0,
         "core_events_per_active_user_30d": 9.0}))
    first = reasons[reasons["account_index"] == 0]
    assert first["sentence"].tolist() == ["No active users in the last 30 days",
                                          "2 failed payments in the last 90 days"]
    assert first["feature"].iloc[0] == "events_per_active_user_30d"  # the largest of them
    # one missing rate among measured ones is said once anyway, in its own rank
    second = reasons[reasons["account_index"] == 1]
    assert second["feature"].tolist() == ["event_2_per_user_30d",
                                          "core_events_per_active_user_30d"]
    shown = reasons.groupby("account_index")["effect"].sum() + reasons.groupby(
        "account_index")["other_effect"].first()
    np.testing.assert_allclose(shown, contributions.drop(columns="bias").sum(axis=1))


def test_reasons_rank_ties_to_the_earlier_feature_like_a_stable_sort():
    """The top reasons are each row's largest values, ties going to the earlier feature:
    what a stable sort of every column would give."""
    from models.scoring.reasons import _largest_columns

    rng = np.random.default_rng(3)
    rank_by = rng.integers(0, 6, size=(500, 9)).astype(float)  # many ties
    expected = np.argsort(-rank_by, axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(_largest_columns(rank_by, 4), expected)


def test_many_values_get_each_their_own_sentence_in_order():
    """describe_all writes each distinct value once, and each value still gets its own
    sentence, missing ones included, in the order given."""
    from models.scoring.reasons import describe_all

    values = [2.0, None, 1.0, 2.0, float("nan"), 1.0, 7.0]
    assert describe_all("open_tickets", values) == [
        "2 open support tickets", "open tickets unknown", "1 open support ticket",
        "2 open support tickets", "open tickets unknown", "1 open support ticket",
        "7 open support tickets"]
