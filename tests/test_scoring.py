"""Scoring turns feature rows into the table a CS team reads every morning."""

import json

import numpy as np
import pandas as pd
import pytest

from account_health.demo_data import DemoConfig
from models.churn.bundle import train_bundle
from models.scoring.health_bands import health_score
from models.scoring.scores import score_accounts
from tests.conftest import TINY, labelled_snapshots


@pytest.fixture(scope="module")
def training():
    return labelled_snapshots(DemoConfig(accounts=400, months=12, seed=3,
                                         end_date=TINY.end_date))


@pytest.fixture(scope="module")
def model(training):
    bundle = train_bundle(training, horizon_days=90)
    latest = training[training["as_of_date"] == training["as_of_date"].max()].copy()
    latest["event_timestamp"] = (latest["as_of_date"] + pd.Timedelta(days=1)).dt.tz_localize(
        "UTC")
    return latest, bundle


@pytest.fixture(scope="module")
def scored(model):
    latest, bundle = model
    return latest, score_accounts(latest, bundle, model_version="7")


def test_one_row_per_account_riskiest_first(scored):
    latest, table = scored
    assert sorted(table["account_id"]) == sorted(latest["account_id"])
    assert table["risk_rank"].tolist() == list(range(1, len(table) + 1))
    assert table["churn_probability"].is_monotonic_decreasing


def test_health_band_and_money_follow_the_risk(scored):
    _, table = scored
    np.testing.assert_allclose(table["health_score"],
                               np.round(health_score(table["churn_probability"]), 1))
    np.testing.assert_allclose(table["arr"], 12 * table["mrr"])
    np.testing.assert_allclose(table["arr_at_risk"], table["arr"] * table["churn_probability"])
    assert set(table["band"]) <= {"thriving", "healthy", "neutral", "at-risk", "critical"}


def test_one_coherent_risk_per_account(scored):
    latest, table = scored
    p30, p60, p90 = table["p_churn_30d"], table["p_churn_60d"], table["p_churn_90d"]
    assert ((p30 <= p60) & (p60 <= p90)).all() and (p30 < p90).any()
    np.testing.assert_array_equal(table["churn_probability"], p90)
    # time to churn agrees with the risk: the riskier account never waits longer
    known = table.dropna(subset=["median_days_to_churn"]).sort_values("churn_probability")
    assert known["median_days_to_churn"].is_monotonic_decreasing
    # an account past even odds within 90 days has its median within 90 days
    assert (table.loc[p90 > 0.5, "median_days_to_churn"] <= 90).all()


def test_behaviour_comes_before_context_in_the_reasons(scored):
    from models.scoring.reasons import CONTEXT_FEATURES

    _, table = scored
    for reasons in table["reasons"]:
        shown = json.loads(reasons)
        first = shown[0]["feature"]
        if first in CONTEXT_FEATURES:
            # only when no behavioural reason raises the account's risk
            assert not any(r["effect"] > 0 and r["feature"] not in CONTEXT_FEATURES
                           for r in shown)


def test_no_reason_reads_against_its_direction(training, scored):
    from models.inputs import RISK_DIRECTION

    _, table = scored
    # read against the accounts the model learnt from (complete labels), not today's
    learnt = training[training["label_complete"]]
    typical = learnt[list(RISK_DIRECTION)].apply(pd.to_numeric).median()
    checked = 0
    for reasons in table["reasons"]:
        for reason in json.loads(reasons):
            sign = RISK_DIRECTION.get(reason["feature"])
            if sign is None or reason["value"] is None:
                continue
            worse = sign * (reason["value"] - typical[reason["feature"]])
            assert worse > 0 if reason["effect"] > 0 else worse <= 0, reason
            checked += 1
    assert checked > len(table)  # directional features are most of the reasons


def test_no_account_hears_the_same_reason_twice(scored):
    _, table = scored
    for reasons in table["reasons"]:
        sentences = [r["sentence"] for r in json.loads(reasons)]
        assert len(set(sentences)) == len(sentences), sentences


def test_every_account_has_reasons_an_action_and_provenance(scored):
    _, table = scored
    assert table[["reason_1", "reason_2", "reason_3", "recommended_action",
                  "action_owner"]].notna().all().all()
    assert (table["model_version"] == "7").all()
    reasons = json.loads(table["reasons"].iloc[0])
    assert len(reasons) == 3 and {"feature", "value", "direction", "effect",
                                  "sentence"} <= set(reasons[0])
    assert reasons[0]["sentence"] == table["reason_1"].iloc[0]


def test_crm_records_follow_the_output_contract(scored):
    from models.scoring.scores import crm_records

    _, table = scored
    records = crm_records(table.head(3))
    assert json.loads(json.dumps(records)) == records  # plain JSON
    first = records[0]
    assert set(first) == {"customer_id", "health_score", "components", "signals", "band",
                          "timestamp"}
    assert first["customer_id"] == table["account_id"].iloc[0]
    assert first["health_score"] == table["health_score"].iloc[0]
    assert [s["name"] for s in first["signals"]] == [
        r["feature"] for r in json.loads(table["reasons"].iloc[0])]
    assert set(first["signals"][0]) == {"name", "value", "weight"}
    assert first["timestamp"].startswith(str(table["as_of"].iloc[0] + pd.Timedelta(days=1)))


def test_scores_carry_the_portfolio_they_belong_to(scored):
    from models.scoring.playbook import Playbook

    latest, table = scored
    by_account = latest.set_index("account_id")
    assert (table["segment"].to_numpy() == by_account.loc[table["account_id"], "segment"]
            .to_numpy()).all()
    assert (table["plan"].to_numpy() == by_account.loc[table["account_id"], "plan"]
            .to_numpy()).all()
    tiers = Playbook.load().arr_tiers
    expected = [max((t for t, floor in tiers.items() if arr >= floor), key=tiers.get)
                for arr in table["arr"]]
    assert table["arr_tier"].tolist() == expected


def test_a_playbook_rule_may_bound_any_feature_and_match_a_segment(model, tmp_path):
    """Every snapshot feature reaches the playbook (not only the few the scores show)."""
    from models.scoring.playbook import Playbook

    latest, bundle = model
    segment = latest["segment"].mode().iloc[0]
    path = tmp_path / "playbook.yaml"
    path.write_text(
        "arr_tiers: {all: 0}\nrules:\n"
        "  - {name: long_tenure_in_segment, when: {segments: [" + segment.upper() + "],"
        " features: {tenure_days: {min: 300}, core_feature_breadth_30d: {max: 0.5}}},"
        " action: reference call, owner: CSM, sla_hours: 24}\n"
        "  - {name: rest, action: wait, owner: CSM, sla_hours: 100}\n")
    table = score_accounts(latest, bundle, model_version="7", playbook=Playbook.load(path))
    rows = latest.set_index("account_id").loc[table["account_id"]]
    expected = ((rows["segment"] == segment) & (rows["tenure_days"] >= 300)
                & (rows["core_feature_breadth_30d"] <= 0.5)).to_numpy()
    assert expected.any() and not expected.all()
    chosen = (table["recommended_action"] == "reference call").to_numpy()
    assert (chosen == (expected & ~table["holdout"].to_numpy())).all()


def test_component_scores_follow_their_features_and_reach_the_crm_records(scored):
    from models.scoring.components import component_scores
    from models.scoring.scores import crm_records

    latest, table = scored
    names = ["health_product_usage", "health_engagement", "health_support",
             "health_billing", "health_growth"]
    expected = component_scores(latest.set_index("account_id").loc[table["account_id"]]
                                .reset_index())
    np.testing.assert_allclose(table[names].to_numpy(float), expected[names].to_numpy(float))
    assert table[names].stack().between(0, 100).all()
    record = crm_records(table.head(1))[0]
    assert record["components"] == {n.removeprefix("health_"): table[n].iloc[0]
                                    for n in names}


@pytest.mark.spark
def test_scoring_on_spark_equals_local_scoring(model, scored):
    from models.scoring.spark_scoring import score_accounts_on_spark
    from pipelines.engine import ComputeEngine

    latest, bundle = model
    local = scored[1]
    spark = ComputeEngine(name="spark", spark_master="local[2]").spark_session()
    # tasks of 50 accounts: several groups, ranked together afterwards
    on_spark = score_accounts_on_spark(spark, latest, bundle, model_version="7",
                                       accounts_per_task=50)
    assert len(local) > 100
    pd.testing.assert_frame_equal(on_spark, local, check_exact=False, rtol=0, atol=1e-9)
