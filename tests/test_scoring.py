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
def scored():
    training = labelled_snapshots(DemoConfig(accounts=400, months=12, seed=3,
                                             end_date=TINY.end_date))
    bundle = train_bundle(training, horizon_days=90)
    latest = training[training["as_of_date"] == training["as_of_date"].max()].copy()
    latest["event_timestamp"] = (latest["as_of_date"] + pd.Timedelta(days=1)).dt.tz_localize(
        "UTC")
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
    assert (table["p_churn_30d"] <= table["p_churn_90d"] + 1e-12).all()


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
    assert set(first) == {"customer_id", "health_score", "signals", "band", "timestamp"}
    assert first["customer_id"] == table["account_id"].iloc[0]
    assert first["health_score"] == table["health_score"].iloc[0]
    assert [s["name"] for s in first["signals"]] == [
        r["feature"] for r in json.loads(table["reasons"].iloc[0])]
    assert set(first["signals"][0]) == {"name", "value", "weight"}
    assert first["timestamp"].startswith(str(table["as_of"].iloc[0] + pd.Timedelta(days=1)))
