"""Tables behind the model-health page, against values worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from models.analysis.drift import DriftThresholds
from models.analysis.model_quality import (
    bands_of,
    calibration_table,
    kaplan_meier,
    lift_by_decile,
    prediction_drift,
    reference_predictions,
)
from models.scoring.health_bands import HealthConfig


def test_calibration_by_hand():
    table = calibration_table([0, 1, 0, 1, 1], [0.05, 0.15, 0.12, 0.95, 1.0])
    assert table["bin"].tolist() == pytest.approx([0.0, 0.1, 0.9])
    assert table["rows"].tolist() == [1, 2, 2]
    assert table["mean_predicted"].tolist() == pytest.approx([0.05, 0.135, 0.975])
    assert table["observed_rate"].tolist() == pytest.approx([0.0, 0.5, 1.0])


def test_lift_by_hand():
    probability = np.linspace(0.9, 0.0, 10)  # riskiest first: one row per decile
    table = lift_by_decile([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], probability)
    assert table["decile"].tolist() == list(range(1, 11))
    assert table["lift"].tolist() == pytest.approx([5, 5, 0, 0, 0, 0, 0, 0, 0, 0])


def test_lift_is_missing_when_nobody_churned():
    assert lift_by_decile([0] * 20, np.linspace(0, 1, 20))["lift"].isna().all()


def test_kaplan_meier_by_hand():
    """Four accounts: churn at 1, churn at 2, left the data at 2 (censored), churn at 3.
    S(1) = 3/4; S(2) = 3/4 * 2/3 = 1/2; at 3 one account is left and churns: S(3) = 0."""
    curves = kaplan_meier([1, 2, 2, 3, 5], [1, 1, 0, 1, 0], ["a", "a", "a", "a", "b"])
    a = curves[curves["group"] == "a"].set_index("days")
    assert a["survival"].to_dict() == pytest.approx({0: 1.0, 1: 0.75, 2: 0.5, 3: 0.0})
    assert a.loc[3, "at_risk"] == 1
    b = curves[curves["group"] == "b"].set_index("days")
    assert b["survival"].tolist() == pytest.approx([1.0, 1.0])  # censored only


def test_bands_follow_the_health_config():
    bands = bands_of([0.01, 0.9], config=HealthConfig())
    assert bands["band"].tolist() == ["thriving", "critical"]
    assert bands["color"].tolist() == ["green", "red"]


def test_prediction_drift_is_quiet_on_a_resample_and_fires_on_a_planted_shift():
    generator = np.random.default_rng(3)
    reference = generator.beta(2, 12, 5000)
    same = prediction_drift(reference, generator.beta(2, 12, 2000))
    assert not same["drifted"] and same["psi"] < 0.05
    shifted = prediction_drift(reference, generator.beta(4, 8, 2000))
    assert shifted["drifted"] and shifted["psi"] > 0.25
    assert shifted["mean_current"] == pytest.approx(4 / 12, abs=0.02)
    assert shifted["mean_reference"] == pytest.approx(reference.mean())


def test_prediction_drift_reports_flagged_shares_and_honours_thresholds():
    reference = np.arange(100) / 200  # 0, 0.005, ..., 0.495
    current = reference + 0.02
    loose = prediction_drift(reference, current, thresholds=DriftThresholds(psi=1, ks=1),
                             flagged_reference=pd.Series(reference > 0.405),
                             flagged_current=pd.Series(current > 0.405))
    assert not loose["drifted"]
    assert loose["flagged_share_reference"] == pytest.approx(0.18)
    assert loose["flagged_share_current"] == pytest.approx(0.22)
    strict = prediction_drift(reference, current, thresholds=DriftThresholds(psi=1, ks=0.01))
    assert strict["drifted"] and "flagged_share_current" not in strict


class HalfTheMrr:
    """A stand-in model: churn probability = mrr / 1000."""

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return pd.DataFrame({"churn_probability": model_input["mrr"] / 1000},
                            index=model_input.index)


def test_the_reference_is_the_models_own_predictions_on_its_latest_training_dates():
    dates = pd.to_datetime(["2026-05-31", "2026-06-30", "2026-07-31", "2026-08-31"])
    training = pd.DataFrame({"account_id": ["a", "b"] * 4, "as_of_date": dates.repeat(2),
                             "segment": ["smb", "mid"] * 4, "mrr": range(100, 900, 100)})
    reference = reference_predictions(HalfTheMrr(), training, dates=2)
    assert reference["as_of_date"].tolist() == list(dates[2:].repeat(2))
    assert reference["churn_probability"].tolist() == pytest.approx([0.5, 0.6, 0.7, 0.8])
    assert reference["segment"].tolist() == ["smb", "mid"] * 2
