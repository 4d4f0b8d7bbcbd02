"""Candidate churn models: the logistic regression, XGBoost's calibration, choosing by
evidence, and fitting on columns that carry nothing."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from models.churn.classifier import ChurnClassifier
from models.churn.evaluation import best_candidate
from models.churn.logistic import LogisticChurnModel
from models.inputs import informative_columns


def synthetic(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Churn driven by falling usage and few seats, over twelve weekly dates."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "as_of_date": pd.Timestamp("2026-01-04") + pd.to_timedelta(
            7 * rng.integers(0, 12, n), unit="D"),
        "events_30d": rng.poisson(200, n).astype(float),
        "usage_velocity_30d": rng.normal(0, 0.3, n),
        "seats": rng.integers(1, 50, n).astype(float),
        "mrr": rng.lognormal(6, 1, n),
        "segment": rng.choice(["web", "appstore"], n),
        "industry": pd.Series([None] * n, dtype=object),  # a mapping removed every value
        "error_rate_30d": 0.0,  # constant
    })
    logit = -2.5 - 4 * frame["usage_velocity_30d"] - 0.03 * frame["seats"]
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int))
    return frame, y


def test_empty_and_constant_columns_are_left_out_of_every_fit():
    frame, y = synthetic()
    kept, dropped = informative_columns(frame, ["events_30d", "industry", "error_rate_30d",
                                                "segment"])
    assert (kept, dropped) == (["events_30d", "segment"], ["industry", "error_rate_30d"])
    for model in (ChurnClassifier(), LogisticChurnModel()):
        model.fit(frame, y)
        assert {"industry", "error_rate_30d"} <= set(model.dropped_features_)
        assert np.isfinite(model.predict_proba(frame)).all()


def test_logistic_contributions_add_up_to_its_log_odds():
    frame, y = synthetic()
    model = LogisticChurnModel().fit(frame, y)
    contributions = model.shap_values(frame.head(50))
    probability = model.predict_proba(frame.head(50))
    assert np.allclose(contributions.sum(axis=1), np.log(probability / (1 - probability)))
    # the planted driver moves risk the right way: falling usage raises it
    by_velocity = contributions["usage_velocity_30d"].corr(frame.head(50)["usage_velocity_30d"])
    assert by_velocity < -0.9


def test_calibrated_xgboost_keeps_its_ranking_and_never_says_0_or_1():
    frame, y = synthetic()
    model = ChurnClassifier().fit(frame, y)
    probability = model.predict_proba(frame)
    assert ((probability > 0) & (probability < 1)).all()
    assert spearmanr(model.raw_score(frame), probability).statistic == pytest.approx(1.0)
    # as many distinct probabilities as distinct raw scores: no steps
    assert len(np.unique(probability)) == len(np.unique(model.raw_score(frame)))


def test_training_labels_of_one_class_are_refused_with_a_reason():
    frame, _ = synthetic()
    with pytest.raises(ValueError, match="one class"):
        ChurnClassifier().fit(frame, pd.Series(0, index=frame.index))


def test_the_candidate_with_the_best_walk_forward_auc_is_chosen():
    pooled = pd.DataFrame({"model": ["xgboost", "logistic", "health_score"],
                           "roc_auc": [0.70, 0.74, 0.80]})
    assert best_candidate(pooled) == "logistic"  # baselines are never candidates
    pooled.loc[1, "roc_auc"] = np.nan
    assert best_candidate(pooled) == "xgboost"
    pooled.loc[1, "roc_auc"] = 0.70
    assert best_candidate(pooled) == "xgboost"  # a tie goes to the first listed
