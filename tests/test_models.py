"""The churn models on a small seeded demo: better than the baselines, calibrated, and
recovering the planted drivers. Thresholds leave margin: over seeds 1-3 XGBoost's AUC was
0.80-0.83 (health score 0.63-0.69), ECE 0.013-0.027, Cox concordance 0.745-0.772."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from account_health.demo_data import PLANTED_DRIVERS, DemoConfig
from models.churn.baselines import BaseRateBaseline, HealthScoreBaseline, hand_weighted_health_score
from models.churn.classifier import ChurnClassifier
from models.churn.evaluation import CANDIDATES, beats_baselines, evaluate_walk_forward
from models.churn.survival import ChurnSurvivalModel
from models.walk_forward import walk_forward_folds
from tests.conftest import TINY, labelled_snapshots

MODEL_DEMO = DemoConfig(accounts=800, months=18, seed=1, end_date=TINY.end_date)


@pytest.fixture(scope="module")
def training() -> pd.DataFrame:
    return labelled_snapshots(MODEL_DEMO)


@pytest.fixture(scope="module")
def result(training):
    folds = walk_forward_folds(training["as_of_date"], n_folds=4, horizon_days=90)
    return evaluate_walk_forward(training, folds)


def pooled(result, model: str, metric: str) -> float:
    return float(result.pooled_metrics.set_index("model").loc[model, metric])


def test_xgboost_beats_both_baselines(result):
    assert beats_baselines(result.pooled_metrics) == {"roc_auc": True, "lift_at_10pct": True}
    assert pooled(result, "xgboost", "roc_auc") > pooled(result, "health_score", "roc_auc") + 0.05
    assert pooled(result, "xgboost", "roc_auc") > 0.72


def test_xgboost_is_calibrated(result):
    assert pooled(result, "xgboost", "ece") < 0.05
    predicted = result.predictions["p_xgboost"].mean()
    observed = result.predictions["churned_within_horizon"].mean()
    assert abs(predicted - observed) < 0.03


def test_shap_recovers_planted_drivers(result):
    top = set(result.shap_importance.index[:10])
    recovered = [name for name, driver in PLANTED_DRIVERS.items()
                 if set(driver["features"]) & top]
    assert len(recovered) >= 3, (recovered, list(result.shap_importance.index[:10]))


def test_cox_ranks_time_to_churn(result):
    assert pooled(result, "cox", "concordance") > 0.70
    assert pooled(result, "cox", "auc_90d") > 0.70


def test_metrics_exist_per_fold_and_segment(result):
    assert sorted(result.fold_metrics["fold"].unique()) == [1, 2, 3, 4]
    assert set(result.fold_metrics["model"]) == {"xgboost", "logistic", "textbook",
                                                 "health_score", "correlation_health",
                                                 "base_rate", "cox"}
    segments = result.segment_metrics
    assert set(segments["segment_by"]) == {"segment", "plan"}
    assert {"SMB", "mid-market"} <= set(segments["value"])


def test_every_candidate_has_one_coherent_risk_per_horizon(result):
    predictions, pooled = result.predictions, result.pooled_metrics.set_index("model")
    for model in CANDIDATES:
        p30, p60, p90 = (predictions[f"p_{model}_{h}d"] for h in (30, 60, 90))
        assert (p30 <= p60 + 1e-12).all() and (p60 <= p90 + 1e-12).all()
        np.testing.assert_allclose(p90, predictions[f"p_{model}"])  # the 90-day horizon
        for horizon in (30, 60, 90):
            for metric in ("roc_auc", "ece", "lift_at_10pct"):
                assert np.isfinite(pooled.loc[model, f"{metric}_{horizon}d"])
        # each horizon judged against its own outcome: churn within 30 days is rarer
        assert predictions[f"p_{model}_30d"].mean() < predictions[f"p_{model}"].mean()


def test_choice_is_by_per_origin_evidence(result):
    pooled = result.pooled_metrics.set_index("model")
    assert pooled["chosen"].sum() == 1 and pooled.loc[result.chosen, "chosen"]
    by_fold = result.fold_metrics[result.fold_metrics["model"] == "xgboost"]
    assert pooled.loc["xgboost", "roc_auc_origin_mean"] == pytest.approx(
        by_fold["roc_auc"].mean())
    assert pooled.loc["xgboost", "origins"] == 4
    # the tuned candidates log what each training window chose
    assert set(result.settings["model"]) == {"xgboost", "logistic", "textbook"}
    assert len(result.settings) == 3 * 4


@pytest.mark.slow
def test_evaluation_is_reproducible_in_one_process_or_in_parallel_ones(monkeypatch):
    import models.parallel

    small = labelled_snapshots(replace(MODEL_DEMO, accounts=250))
    folds = walk_forward_folds(small["as_of_date"], n_folds=2, horizon_days=90)
    first = evaluate_walk_forward(small, folds)
    monkeypatch.setattr(models.parallel, "PARALLEL_MIN_CELLS", 0)  # folds in processes
    second = evaluate_walk_forward(small, folds)
    pd.testing.assert_frame_equal(first.fold_metrics, second.fold_metrics)
    pd.testing.assert_frame_equal(first.predictions, second.predictions)


def test_survival_outputs_are_consistent(training):
    model = ChurnSurvivalModel().fit(training)
    sample = training.head(200)
    p = model.churn_probability(sample)
    assert np.all((p[30] <= p[60] + 1e-12) & (p[60] <= p[90] + 1e-12))
    assert np.all((p[30] >= 0) & (p[90] <= 1))
    median = model.median_days_to_churn(sample)
    risk = model.risk(sample)
    finite = np.isfinite(median)
    if finite.sum() > 2:  # riskier accounts are expected to churn sooner
        assert np.corrcoef(risk[finite], median[finite])[0, 1] < 0
    check = model.proportional_hazards_check()
    assert {"p", "violates"} <= set(check.columns) and len(check) == len(model.columns_)


def test_median_days_to_churn_equals_lifelines_median(training):
    model = ChurnSurvivalModel().fit(training)
    # the riskiest rows, so that many curves do cross 0.5 inside the observed times
    sample = training.iloc[np.argsort(-model.risk(training))[:300]]
    expected = np.asarray(model.model_.predict_median(
        model._design(sample)[model.columns_]), float).ravel()
    median = model.median_days_to_churn(sample)
    assert np.isfinite(expected).sum() > 10
    np.testing.assert_array_equal(median, expected)


def test_baselines(training):
    y = training["churned_within_horizon"]
    assert np.allclose(BaseRateBaseline().fit(training, y).predict_proba(training), y.mean())
    score = hand_weighted_health_score(training)
    assert score.between(0, 100).all()
    risk = HealthScoreBaseline().fit(training, y).predict_proba(training)
    # a healthier score never gets a higher calibrated risk
    order = np.argsort(score.to_numpy())
    assert np.all(np.diff(risk[order]) <= 1e-12)


def test_hand_weighted_score_by_hand():
    row = pd.DataFrame({"active_users_per_seat": [0.5], "core_feature_breadth_30d": [1.0],
                        "days_since_last_login": [15], "open_tickets": [1],
                        "open_high_priority_tickets": [1], "failed_payments_90d": [0],
                        "late_payments_90d": [1]})
    # usage 50, engagement 100, recency 50, support 65, billing 80
    expected = 0.30 * 50 + 0.25 * 100 + 0.15 * 50 + 0.15 * 65 + 0.15 * 80
    assert hand_weighted_health_score(row).iloc[0] == pytest.approx(expected)
    usage_only = row.drop(columns=["open_tickets", "open_high_priority_tickets",
                                   "failed_payments_90d", "late_payments_90d"])
    assert hand_weighted_health_score(usage_only).iloc[0] == pytest.approx(
        (0.30 * 50 + 0.25 * 100 + 0.15 * 50) / 0.70)


@pytest.mark.slow
def test_classifier_handles_unseen_categories(training):
    train = training[training["as_of_date"] < training["as_of_date"].max()]
    model = ChurnClassifier().fit(train, train["churned_within_horizon"])
    test = training[training["as_of_date"] == training["as_of_date"].max()].copy()
    test["plan"] = "brand-new-plan"
    p = model.predict_proba(test)
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
