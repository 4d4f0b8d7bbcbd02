"""Expansion targeting: top-N metrics and the rubric by hand, and the model against the rubric
and random targeting on the demo's walk-forward folds."""

import json

import numpy as np
import pandas as pd
import pytest

from features.expansion_events import expansion_events, expansion_labels
from models.expansion.model import (
    EXPANSION_LABEL,
    RUBRIC,
    evaluate_expansion,
    rubric_score,
    train_expansion_model,
)
from models.expansion.opportunities import (
    OPPORTUNITY_COLUMNS,
    score_opportunities,
    tier_of,
    validate_opportunities,
)
from models.metrics import top_n
from models.walk_forward import walk_forward_folds
from tests.conftest import demo_tables, labelled_snapshots
from tests.test_models import MODEL_DEMO


def test_top_n_by_hand():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 1, 0, 0])
    score = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    value = np.array([100, 0, 50, 0, 0, 0, 0, 50, 0, 0])
    figures = top_n(y, score, n=3, value=value)
    assert figures["precision"] == pytest.approx(2 / 3)
    assert figures["lift"] == pytest.approx((2 / 3) / 0.3)
    assert figures["value_captured"] == pytest.approx(150 / 200)
    # a list longer than the population is the population: lift 1
    assert top_n(y, score, n=50)["lift"] == pytest.approx(1.0)


def test_rubric_by_hand():
    frame = pd.DataFrame({"active_users_per_seat": [0.2, 0.9], "core_feature_breadth_30d":
                          [0.5, 0.1], "active_users_mom_change": [0.0, 0.3],
                          "nps_trend": [np.nan, 2.0], "tickets_30d": [3, 0]})
    # percentiles among two rows: 50 (lower) or 100 (higher); a missing value counts 50
    first = 0.40 * 50 + 0.30 * 100 + 0.15 * 50 + 0.10 * 50 + 0.05 * 100
    second = 0.40 * 100 + 0.30 * 50 + 0.15 * 100 + 0.10 * 100 + 0.05 * 50
    np.testing.assert_allclose(rubric_score(frame), [first, second])
    assert sum(weight for weight, _ in RUBRIC.values()) == pytest.approx(1.0)
    # without support and NPS tables their components drop out and the rest are rescaled
    usage_only = frame.drop(columns=["nps_trend", "tickets_30d"])
    np.testing.assert_allclose(rubric_score(usage_only).iloc[0],
                               (0.40 * 50 + 0.30 * 100 + 0.15 * 50) / 0.85)


@pytest.fixture(scope="module")
def training():
    tables = demo_tables(MODEL_DEMO)
    training = labelled_snapshots(MODEL_DEMO, tables=tables)
    labels = expansion_labels(training, expansion_events(tables["subscriptions"]),
                              horizon_days=90,
                              observed_until=pd.Timestamp(MODEL_DEMO.end_date))
    return pd.concat([training, labels], axis=1)


@pytest.fixture(scope="module")
def validation(training):
    folds = walk_forward_folds(training["as_of_date"], n_folds=4, horizon_days=90)
    return evaluate_expansion(training, folds, n=50)


def test_expansion_model_beats_rubric_and_random_on_walk_forward_precision(validation):
    pooled = validation.pooled_metrics.set_index("model")
    assert validation.predictions[EXPANSION_LABEL].sum() > 20
    assert pooled.loc["xgboost", "precision_at_n"] > pooled.loc["rubric", "precision_at_n"]
    assert pooled.loc["xgboost", "precision_at_n"] > pooled.loc["random", "precision_at_n"]
    assert pooled.loc["xgboost", "lift_at_n"] > 1.5


def test_tiers_by_hand():
    assert tier_of([100, 80.1, 80, 50, 49.9, 0]).tolist() == ["High", "High", "Medium",
                                                              "Medium", "Low", "Low"]


@pytest.fixture(scope="module")
def opportunities(training):
    model = train_expansion_model(training, horizon_days=90)
    day = training["as_of_date"].max()
    features = training[training["as_of_date"] == day].drop(
        columns=["churned_within_horizon", "expanded_within_horizon"])
    bands = np.where(np.arange(len(features)) % 5 == 0, "critical", "healthy")
    scores = pd.DataFrame({"account_id": features["account_id"], "band": bands,
                           "arr": 12 * features["mrr"]})
    return model, features, scores, score_opportunities(features, scores, model, day=day)


def test_opportunities_follow_the_schema_best_first(opportunities):
    model, features, scores, table = opportunities
    assert validate_opportunities(table) == []
    assert list(table.columns) == OPPORTUNITY_COLUMNS
    assert len(table) == len(features) and table["score"].is_monotonic_decreasing
    # the score is the percentile of the probability of close
    assert np.all(np.diff(table["poc"].to_numpy()) <= 1e-12)
    arr = scores.set_index("account_id").loc[table["account_id"], "arr"].to_numpy()
    np.testing.assert_allclose(table["projected_arr"], table["poc"] * model.expansion_share * arr,
                               atol=0.01)
    assert 0 < model.expansion_share < 2
    signals = json.loads(table["signals_json"].iloc[0])
    assert signals and all(s["effect"] > 0 and s["sentence"] for s in signals)
    # only the High tier is explained
    explained = table["signals_json"] != "[]"
    assert explained.any() and (table.loc[explained, "tier"] == "High").all()
    assert (table.loc[table["tier"] != "High", "signals_json"] == "[]").all()


def test_accounts_needing_recovery_are_not_handed_over(opportunities):
    _, _, scores, table = opportunities
    critical = set(scores.loc[scores["band"] == "critical", "account_id"])
    held = table["status"] == "expansion after recovery"
    assert set(table.loc[held, "account_id"]) == critical
    assert (table.loc[~held, "status"] == "open").all()


def test_schema_violations_are_named(opportunities):
    table = opportunities[3]
    assert validate_opportunities(table.drop(columns="poc")) == ["missing columns: poc"]
    broken = table.copy()
    broken.loc[0, "score"] = 101.0
    broken.loc[1, "status"] = "won"
    broken.loc[2, "signals_json"] = "not json"
    broken.loc[3, "tier"] = "Low" if broken.loc[3, "tier"] != "Low" else "High"
    problems = validate_opportunities(broken)
    assert any("0-100" in p for p in problems) and any("status" in p for p in problems)
    assert any("JSON" in p for p in problems) and any("tier" in p for p in problems)


def test_expansion_validation_is_the_same_in_parallel_processes(training, validation,
                                                                monkeypatch):
    import models.parallel

    monkeypatch.setattr(models.parallel, "PARALLEL_MIN_CELLS", 0)
    folds = walk_forward_folds(training["as_of_date"], n_folds=4, horizon_days=90)
    parallel = evaluate_expansion(training, folds, n=50)
    pd.testing.assert_frame_equal(parallel.predictions, validation.predictions)
