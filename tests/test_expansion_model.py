"""Expansion targeting: top-N metrics and the rubric by hand, and the model against the rubric
and random targeting on the demo's walk-forward folds."""

import numpy as np
import pandas as pd
import pytest

from features.expansion import expansion_events, expansion_labels
from models.expansion import EXPANSION_LABEL, RUBRIC, evaluate_expansion, rubric_score
from models.metrics import top_n
from models.validation import walk_forward_folds
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
def validation():
    tables = demo_tables(MODEL_DEMO)
    training = labelled_snapshots(MODEL_DEMO, tables=tables)
    labels = expansion_labels(training, expansion_events(tables["subscriptions"]),
                              horizon_days=90,
                              observed_until=pd.Timestamp(MODEL_DEMO.end_date))
    training = pd.concat([training, labels], axis=1)
    folds = walk_forward_folds(training["as_of_date"], n_folds=4, horizon_days=90)
    return evaluate_expansion(training, folds, n=50)


def test_expansion_model_beats_rubric_and_random_on_walk_forward_precision(validation):
    pooled = validation.pooled_metrics.set_index("model")
    assert validation.predictions[EXPANSION_LABEL].sum() > 20
    assert pooled.loc["xgboost", "precision_at_n"] > pooled.loc["rubric", "precision_at_n"]
    assert pooled.loc["xgboost", "precision_at_n"] > pooled.loc["random", "precision_at_n"]
    assert pooled.loc["xgboost", "lift_at_n"] > 1.5
