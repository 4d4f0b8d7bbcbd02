"""Promotion rules: a worse model never replaces the champion."""

from models.promotion import decide_promotion

BASELINES = {"health_score": {"roc_auc": 0.65, "lift_at_10pct": 2.0},
             "base_rate": {"roc_auc": 0.50, "lift_at_10pct": 1.0}}


def candidate(auc, lift=3.0):
    return {"roc_auc": auc, "lift_at_10pct": lift}


def test_first_model_that_beats_baselines_becomes_champion():
    decision = decide_promotion(candidate(0.80), BASELINES, None)
    assert decision.promote and "no champion" in decision.reason


def test_worse_model_does_not_replace_the_champion():
    decision = decide_promotion(candidate(0.78), BASELINES, candidate(0.80))
    assert not decision.promote and "champion" in decision.reason


def test_equal_model_within_margin_does_not_replace_the_champion():
    assert not decide_promotion(candidate(0.803), BASELINES, candidate(0.80),
                                margin=0.005).promote


def test_better_model_replaces_the_champion():
    assert decide_promotion(candidate(0.82), BASELINES, candidate(0.80)).promote


def test_model_must_beat_every_baseline_on_every_metric():
    decision = decide_promotion(candidate(0.80, lift=1.9), BASELINES, None)
    assert not decision.promote and "lift_at_10pct" in decision.reason
    assert "health_score" in decision.reason


def test_auc_floor():
    decision = decide_promotion(candidate(0.60), {}, None, auc_floor=0.65)
    assert not decision.promote and "floor" in decision.reason


def test_undefined_metrics_never_promote():
    assert not decide_promotion(candidate(float("nan")), BASELINES, None).promote
    assert not decide_promotion(candidate(0.8, lift=float("nan")), BASELINES, None).promote


def test_a_champion_must_beat_the_textbook_model_on_the_same_folds():
    mine = {**candidate(0.80), "roc_auc_origin_mean": 0.80}
    decision = decide_promotion(mine, BASELINES, None,
                                textbook={"roc_auc_origin_mean": 0.798})
    assert not decision.promote and "textbook" in decision.reason
    assert decide_promotion(mine, BASELINES, None,
                            textbook={"roc_auc_origin_mean": 0.79}).promote
    # the textbook model itself is held to the other baselines only
    assert decide_promotion(mine, BASELINES, None, textbook=None).promote
