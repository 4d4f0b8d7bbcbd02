"""Interventions: episodes and outcomes by hand, the intervals against published values, the
Qini curve by hand, the walk-forward uplift model, and the planted effect in the demo."""

import math

import numpy as np
import pandas as pd
import pytest

from account_health.demo_data import DemoConfig, generate
from features.contract import HOLDOUT_ACTION
from models.analysis.interventions import (
    BROKEN,
    CONTROL,
    TREATED,
    difference_interval,
    intervention_episodes,
    intervention_summary,
    qini_coefficient,
    qini_curve,
    success_by_lead_time,
    uplift_at,
    walk_forward_uplift,
    wilson_interval,
    with_features,
)
from tests.conftest import demo_tables

UTC = "UTC"


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


def _subscriptions() -> pd.DataFrame:
    rows = [
        # account, start, end, period
        ("A", "2026-01-10", None, "monthly"),
        ("B", "2025-06-15", "2026-06-15", "annual"),
        ("C", "2025-12-10", "2026-03-10", "monthly"),
        ("E", "2026-01-01", None, "monthly"),
        ("F", "2026-01-01", "2026-02-01", "monthly"),
        ("G", "2026-01-05", None, "monthly"),
    ]
    return pd.DataFrame({
        "subscription_id": [f"s{i}" for i in range(len(rows))],
        "account_id": [r[0] for r in rows],
        "start_date": pd.to_datetime([r[1] for r in rows]),
        "end_date": pd.to_datetime([r[2] for r in rows]),
        "billing_period": [r[3] for r in rows],
    })


def _activities() -> pd.DataFrame:
    rows = [
        # account, performed_at, action_type, flagged_at
        ("A", "2026-03-03T09:00", "re_onboarding", "2026-03-01T09:00"),
        ("A", "2026-03-10T09:00", "health_check", "2026-03-01T09:00"),
        ("B", "2026-04-01T09:00", HOLDOUT_ACTION, "2026-04-01T09:00"),
        ("C", "2026-02-22T09:00", "renewal_rescue", "2026-02-20T09:00"),
        ("D", "2026-02-22T09:00", "qbr", None),  # routine: not an episode
        ("E", "2026-02-01T09:00", HOLDOUT_ACTION, "2026-02-01T09:00"),
        ("E", "2026-02-03T09:00", "health_check", "2026-02-01T09:00"),  # holdout broken
        ("F", "2026-03-01T09:00", "health_check", "2026-03-01T09:00"),  # after it churned
        ("G", "2026-08-20T09:00", "health_check", "2026-08-15T09:00"),  # window still open
    ]
    return pd.DataFrame({
        "activity_id": [f"a{i}" for i in range(len(rows))],
        "account_id": [r[0] for r in rows],
        "performed_at": pd.to_datetime([r[1] for r in rows]).tz_localize(UTC),
        "action_type": [r[2] for r in rows],
        "owner": "ana", "outcome": None,
        "flagged_at": pd.to_datetime([r[3] for r in rows]).tz_localize(UTC),
    })


@pytest.fixture
def episodes() -> pd.DataFrame:
    return intervention_episodes(_activities(), _subscriptions(), horizon_days=90,
                                 observed_until=pd.Timestamp("2026-08-31")).set_index(
                                     "account_id")


def test_episodes_arms_actions_and_timing_by_hand(episodes):
    # D has no flag, F was no longer a customer on its flag day
    assert sorted(episodes.index) == ["A", "B", "C", "E", "G"]
    assert episodes["arm"].to_dict() == {"A": TREATED, "B": CONTROL, "C": TREATED, "E": BROKEN,
                                         "G": TREATED}
    assert episodes.loc["A", "actions"] == 2
    assert episodes.loc["A", "first_action_at"] == _ts("2026-03-03T09:00")
    assert episodes.loc["A", "days_to_first_action"] == 2
    assert episodes.loc["C", "days_to_first_action"] == 2
    assert math.isnan(episodes.loc["B", "days_to_first_action"])
    assert episodes["window_closed"].to_dict() == {"A": True, "B": True, "C": True, "E": True,
                                                   "G": False}


def test_episode_outcomes_and_predicted_churn_dates_by_hand(episodes):
    # A: monthly from Jan 10, first action Mar 3 -> next renewal Mar 10; never churned
    assert episodes.loc["A", "predicted_churn_date"] == pd.Timestamp("2026-03-10")
    assert episodes.loc["A", "lead_days"] == 7
    assert episodes.loc["A", "churned_within_horizon"] == 0 and episodes.loc["A", "saved"]
    # B: annual from 2025-06-15, held out on Apr 1 -> renewal Jun 15, where it churned
    assert episodes.loc["B", "predicted_churn_date"] == pd.Timestamp("2026-06-15")
    assert episodes.loc["B", "lead_days"] == 75
    assert episodes.loc["B", "churned_within_horizon"] == 1 and not episodes.loc["B", "saved"]
    # C: churned at its Mar 10 renewal, 18 days after the Feb 20 flag
    assert episodes.loc["C", "lead_days"] == 16
    assert episodes.loc["C", "churned_within_horizon"] == 1 and not episodes.loc["C", "saved"]
    # G: renews Sep 5, after the data ends: whether it was saved is not known yet
    assert not episodes.loc["G", "saved_known"]
    assert episodes.loc[["A", "B", "C"], "saved_known"].all()


def test_summary_by_hand(episodes):
    summary = intervention_summary(episodes.reset_index(), holdout_share=0.1)
    assert (summary["treated"], summary["control"], summary["holdout_broken"]) == (3, 1, 1)
    assert summary["holdout_share_observed"] == 1 / 4
    # closed windows: A (stayed) and C (churned) treated, B (churned) held out
    assert summary["treated_churn_rate"] == 1 / 2 and summary["control_churn_rate"] == 1
    assert summary["uplift"] == pytest.approx(1 - 1 / 2)
    assert summary["success_rate"] == 1 / 2 and summary["success_episodes"] == 2
    assert summary["days_to_first_action_median"] == pytest.approx(np.median([2, 2, 5]))
    # the one held-out flag churned: no false alarm among held-out accounts
    assert summary["false_positive_rate"] == 0 and summary["false_positive_episodes"] == 1


def test_success_by_lead_time_by_hand(episodes):
    table = success_by_lead_time(episodes.reset_index()).set_index("lead_time")
    assert list(table.index) == ["90+ days", "60-90 days", "30-60 days", "under 30 days"]
    assert table.loc["under 30 days", "treated_episodes"] == 2  # A and C (G unknown)
    assert table.loc["under 30 days", "treated_success_rate"] == 0.5
    assert table.loc["60-90 days", "control_episodes"] == 1  # B, lead 75
    assert table.loc["60-90 days", "control_success_rate"] == 0
    assert table.loc["90+ days", "treated_episodes"] == 0


def test_intervals_match_newcombes_published_values():
    """Newcombe (1998), Statistics in Medicine 17: 873-890 and 857-872: Wilson interval of
    81/263 and the hybrid score interval (method 10) of two differences."""
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert difference_interval(56, 70, 48, 80)[1:] == pytest.approx((0.0524, 0.3339), abs=5e-5)
    assert difference_interval(9, 10, 3, 10)[1:] == pytest.approx((0.1705, 0.8090), abs=5e-5)
    assert all(math.isnan(v) for v in difference_interval(1, 2, 0, 0))


def test_qini_curve_and_uplift_at_by_hand():
    score = np.array([0.9, 0.8, 0.7, 0.6])
    treated = np.array([True, False, True, False])
    retained = np.array([1, 0, 0, 1])
    curve = qini_curve(score, treated, retained)
    # k=1: no control yet; k=2: 1 - 0*1/1; k=3: 1 - 0*2/1; k=4: 1 - 1*2/2
    assert curve["qini"].tolist() == [0, 0, 1, 1, 0]
    assert curve["random"].tolist() == [0, 0, 0, 0, 0]
    assert qini_coefficient(curve) == 0.5
    assert uplift_at(score, treated, retained, fraction=0.5) == (1.0, 1, 1)
    assert math.isnan(uplift_at(score, treated, retained, fraction=0.25)[0])
    # the order is by score, not by row: reversed, the kept control account comes first
    # k=2: 0 - 1*1/1; k=3: 0 - 1*1/2
    reversed_order = qini_curve(score[::-1], treated, retained)
    assert reversed_order["qini"].tolist() == [0, 0, -1, -0.5, 0]


def _synthetic_episodes(n: int = 1200, seed: int = 3) -> pd.DataFrame:
    """Outreach prevents churn only for accounts with x > 0."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    treated = rng.random(n) < 0.5
    risk = 0.35 - 0.3 * (treated & (x > 0))
    flag = pd.Timestamp("2025-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 540, n)), "D")
    return pd.DataFrame({
        "account_id": [f"a{i}" for i in range(n)], "flagged_at": flag.tz_localize(UTC),
        "flag_date": flag, "arm": np.where(treated, TREATED, CONTROL),
        "churned_within_horizon": (rng.random(n) < risk).astype(int), "window_closed": True,
        "x": x, "noise": rng.normal(size=n)})


def test_walk_forward_uplift_finds_who_benefits_without_seeing_the_future():
    episodes = _synthetic_episodes()
    scored, _ = walk_forward_uplift(episodes, ["x", "noise"], horizon_days=90)
    assert scored is not None and scored["arm"].nunique() == 2
    # every scored episode comes after its origin, and the folds do not overlap
    assert (scored["flag_date"] >= scored["origin"]).all()
    assert not scored["account_id"].duplicated().any()
    assert scored["flag_date"].min() > episodes["flag_date"].min() + pd.Timedelta(days=90)
    # those who benefit (x > 0) are predicted to benefit more
    by_benefit = scored.groupby(scored["x"] > 0)["uplift_score"].mean()
    assert by_benefit[True] - by_benefit[False] > 0.02
    assert scored["uplift_score"].corr(scored["x"], method="spearman") > 0.3
    curve = qini_curve(scored["uplift_score"], scored["arm"] == TREATED,
                       1 - scored["churned_within_horizon"])
    assert qini_coefficient(curve) > 0


def test_walk_forward_uplift_says_why_when_the_data_do_not_allow_it():
    episodes = _synthetic_episodes(n=60)
    scored, why = walk_forward_uplift(episodes, ["x"], horizon_days=90, min_per_arm=20)
    assert scored is None and "under 20" in why


def test_features_come_from_before_the_flag():
    episodes = _synthetic_episodes(n=5)[["account_id", "flagged_at", "flag_date"]]
    snapshots = pd.DataFrame({
        "account_id": np.repeat(episodes["account_id"], 3).to_numpy(),
        "as_of_date": np.concatenate([[d - pd.Timedelta(days=40), d - pd.Timedelta(days=1), d]
                                      for d in episodes["flag_date"]]),
        "x": np.tile([1.0, 2.0, 3.0], 5)})
    joined = with_features(episodes, snapshots, ["x"])
    assert (joined["features_as_of"] < joined["flag_date"]).all()
    assert (joined["x"] == 2.0).all()  # the day before the flag, not the flag day's end


@pytest.fixture(scope="module")
def demo_with_holdout():
    config = DemoConfig(accounts=2000, holdout_share=0.5)
    planted = generate(config)["cs_activities"].attrs["planted_interventions"]
    return config, demo_tables(config), planted


def test_demo_activities_follow_the_plan(demo_with_holdout):
    config, tables, _ = demo_with_holdout
    activities = tables["cs_activities"]
    flagged = activities[activities["flagged_at"].notna()]
    assert (flagged["performed_at"] >= flagged["flagged_at"]).all()
    kinds = flagged.assign(held_out=flagged["action_type"] == HOLDOUT_ACTION).groupby(
        ["account_id", "flagged_at"])["held_out"].agg(["any", "all"])
    assert (kinds["any"] == kinds["all"]).all()  # held out or contacted, never both
    assert abs(kinds["any"].mean() - config.holdout_share) < 0.08


def test_uplift_interval_contains_the_planted_effect(demo_with_holdout):
    config, tables, planted = demo_with_holdout
    episodes = intervention_episodes(tables["cs_activities"], tables["subscriptions"],
                                     horizon_days=planted["outcome_window_days"],
                                     observed_until=pd.Timestamp(config.end_date))
    summary = intervention_summary(episodes, holdout_share=config.holdout_share)
    assert summary["uplift_control"] >= 100 and summary["uplift_treated"] >= 100
    assert summary["uplift_low"] <= planted["uplift"] <= summary["uplift_high"]
    assert summary["uplift_low"] > 0  # outreach works in the demo, and the data show it
    assert planted["uplift"] > 0.05


def test_two_model_uplift_is_estimable_on_the_demo_with_a_larger_holdout(demo_with_holdout):
    from models.inputs import feature_columns
    from tests.conftest import labelled_snapshots

    config, tables, planted = demo_with_holdout
    training = labelled_snapshots(config, tables=tables)
    features = [c for c in feature_columns(training)
                if pd.api.types.is_numeric_dtype(training[c])]
    episodes = intervention_episodes(tables["cs_activities"], tables["subscriptions"],
                                     horizon_days=planted["outcome_window_days"],
                                     observed_until=pd.Timestamp(config.end_date))
    scored, _ = walk_forward_uplift(with_features(episodes, training, features), features,
                                    horizon_days=planted["outcome_window_days"])
    assert scored is not None and set(scored["arm"]) == {TREATED, CONTROL}
    assert (scored["features_as_of"] < scored["flag_date"]).all()
    curve = qini_curve(scored["uplift_score"], scored["arm"] == TREATED,
                       1 - scored["churned_within_horizon"])
    # outreach keeps accounts overall, so the whole curve ends above zero
    assert curve["qini"].iloc[-1] > 0
