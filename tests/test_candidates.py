"""Candidate churn models: the logistic regression, XGBoost's calibration, choosing by
evidence, and fitting on columns that carry nothing."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from models.churn.classifier import DEFAULT_GRID, ChurnClassifier
from models.churn.evaluation import choose_candidate
from models.churn.logistic import LogisticChurnModel, LogisticConfig
from models.churn.textbook import TextbookChurnModel
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


def folds_of(aucs: dict[str, list[float]]) -> pd.DataFrame:
    """Per-origin metrics as evaluate_walk_forward reports them."""
    return pd.DataFrame([{"fold": i + 1, "model": model, "roc_auc": auc}
                         for model, values in aucs.items() for i, auc in enumerate(values)])


def test_a_complex_candidate_wins_only_beyond_the_spread_across_origins():
    # xgboost is better on average, but by less than its margin's standard error
    noisy = folds_of({"textbook": [0.70, 0.74, 0.66, 0.72],
                      "logistic": [0.69, 0.73, 0.67, 0.71],
                      "xgboost": [0.80, 0.66, 0.75, 0.69],
                      "health_score": [0.9, 0.9, 0.9, 0.9]})  # baselines never win
    assert choose_candidate(noisy) == "textbook"
    # the same mean margin, steady across origins: it wins
    steady = folds_of({"textbook": [0.70, 0.74, 0.66, 0.72],
                       "logistic": [0.69, 0.73, 0.67, 0.71],
                       "xgboost": [0.73, 0.77, 0.69, 0.75]})
    assert choose_candidate(steady) == "xgboost"
    # a steady margin smaller than the promotion margin keeps the simpler model
    assert choose_candidate(steady, margin=0.05) == "textbook"


def test_the_simplest_candidate_within_reach_of_the_best_is_chosen():
    table = folds_of({"textbook": [0.60, 0.62, 0.61],
                      "logistic": [0.70, 0.72, 0.71],
                      "xgboost": [0.705, 0.725, 0.712]})
    assert choose_candidate(table) == "logistic"
    table.loc[table["model"] == "logistic", "roc_auc"] = np.nan
    assert choose_candidate(table) == "xgboost"  # a candidate without an AUC never wins


def test_textbook_model_reads_only_per_event_counts_and_account_size():
    frame, y = synthetic()
    frame["event_message_sent_30d"] = np.random.default_rng(1).poisson(20, len(frame))
    frame["event_message_sent_mom_change"] = 0.1 * np.arange(len(frame)) % 3
    model = TextbookChurnModel().fit(frame, y)
    assert set(model.features_) == {"event_message_sent_30d", "events_30d", "seats", "mrr"}
    assert model.c_ == 1.0  # sklearn's default strength: nothing tuned on any dataset


def test_capacity_is_chosen_on_later_dates_and_reported():
    frame, y = synthetic()
    model = ChurnClassifier().fit(frame, y)
    assert set(model.validation_auc_) == {str(s) for s in DEFAULT_GRID}
    assert model.setting_ in DEFAULT_GRID
    assert "rounds" in model.chosen_setting()
    logistic = LogisticChurnModel().fit(frame, y)
    assert logistic.c_ in LogisticConfig().c_grid
    # the strongest regularisation within 0.001 of the best later-date AUC
    scores, best = logistic.validation_auc_, max(logistic.validation_auc_.values())
    earlier = [c for c in LogisticConfig().c_grid if c < logistic.c_]
    assert scores[logistic.c_] >= best - 1e-3
    assert all(scores[c] < best - 1e-3 for c in earlier)
