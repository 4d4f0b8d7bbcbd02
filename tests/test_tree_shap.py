"""Grouped TreeSHAP: the same contributions as XGBoost's own over every row."""

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from models.churn import tree_shap
from models.churn.tree_shap import tree_contributions


def _rows(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Numbers with gaps, a many-valued category (partition splits), a two-valued one
    (one-hot splits) and labels that depend on all of them."""
    rng = np.random.default_rng(seed)
    usage = rng.gamma(2.0, 10.0, n)
    usage[rng.random(n) < 0.15] = np.nan
    tickets = rng.poisson(1.5, n).astype(float)
    plan = pd.Categorical(rng.choice(["basic", "team", "business", "enterprise", "edu"], n),
                          categories=["basic", "team", "business", "enterprise", "edu"])
    plan[rng.random(n) < 0.05] = np.nan
    annual = pd.Categorical(rng.choice(["monthly", "annual"], n))
    frame = pd.DataFrame({"usage": usage, "tickets": tickets, "plan": plan,
                          "billing": annual, "noise": rng.normal(size=n)})
    logit = (-0.05 * np.nan_to_num(usage, nan=-20) + 0.6 * tickets
             + np.where(np.isin(np.asarray(plan), ["basic", "edu"]), 1.0, -0.5)
             + 0.5 * (np.asarray(annual) == "monthly") - 1.0)
    return frame, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


@pytest.fixture(scope="module")
def model() -> xgb.Booster:
    frame, y = _rows(4000, 0)
    return xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3,
                      "max_cat_to_onehot": 2, "base_score": 0.3, "seed": 1},
                     xgb.DMatrix(frame, y, enable_categorical=True), num_boost_round=40)


def _plain(model: xgb.Booster, frame: pd.DataFrame, n_trees: int) -> np.ndarray:
    return model.predict(xgb.DMatrix(frame, enable_categorical=True), pred_contribs=True,
                         iteration_range=(0, n_trees))


def test_grouped_contributions_equal_xgboosts_own(model, monkeypatch):
    monkeypatch.setattr(tree_shap, "MIN_GROUPED_ROWS", 100)
    monkeypatch.setattr(tree_shap, "LEAF_CHECK_TREES", 16)  # several chunks of trees
    grouped = []
    original = tree_shap._grouped
    monkeypatch.setattr(tree_shap, "_grouped",
                        lambda *args: grouped.append(original(*args)) or grouped[-1])
    frame, _ = _rows(3000, 1)  # rows the model has not seen, gaps and categories included
    for n_trees in (40, 25):
        found = tree_contributions(model, frame, n_trees)
        assert grouped[-1] is not None  # the grouped path answered
        np.testing.assert_allclose(found, _plain(model, frame, n_trees), rtol=1e-5, atol=1e-5)
    # and they add up to the margin, base score included
    margin = model.predict(xgb.DMatrix(frame, enable_categorical=True), output_margin=True)
    np.testing.assert_allclose(found.sum(axis=1),
                               model.predict(xgb.DMatrix(frame, enable_categorical=True),
                                             output_margin=True, iteration_range=(0, 25)),
                               rtol=1e-4, atol=1e-4)
    assert not np.allclose(margin, found.sum(axis=1))  # 25 trees are not 40


def test_a_wrong_grouping_falls_back_to_xgboost(model, monkeypatch):
    monkeypatch.setattr(tree_shap, "MIN_GROUPED_ROWS", 100)
    # every row in one group: XGBoost's leaves disagree, so the grouping is not used
    monkeypatch.setattr(tree_shap, "_directions",
                        lambda tree, values, missing: np.zeros(values.shape[1], np.int32))
    frame, _ = _rows(500, 2)
    np.testing.assert_allclose(tree_contributions(model, frame, 40), _plain(model, frame, 40),
                               rtol=1e-5, atol=1e-5)


def test_few_rows_take_xgboosts_pass(model, monkeypatch):
    called = []
    monkeypatch.setattr(tree_shap, "_grouped", lambda *args: called.append(1))
    frame, _ = _rows(50, 3)
    np.testing.assert_allclose(tree_contributions(model, frame, 40), _plain(model, frame, 40))
    assert not called
