"""Metric functions against values worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from models.metrics import (
    classification_metrics,
    expected_calibration_error,
    status_at,
    survival_metrics,
    top_of_list,
)


def test_expected_calibration_error_by_hand():
    # bin 0.1-0.2: predictions 0.1, 0.1 (mean 0.1), outcomes 0, 1 (rate 0.5) -> |0.4| x 2
    # bin 0.9-1.0: predictions 0.9, 0.9, outcomes 1, 1 -> |0.1| x 2 ; ECE = (0.8 + 0.2) / 4
    assert expected_calibration_error([0, 1, 1, 1], [0.1, 0.1, 0.9, 0.9]) == pytest.approx(0.25)


def test_top_of_list_by_hand():
    y = [1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]  # 3 positives in 20
    p = np.linspace(1, 0, 20)  # rows already in risk order: top 10 % = first 2 rows
    top = top_of_list(y, p)
    assert top["precision"] == 0.5
    assert top["recall"] == pytest.approx(1 / 3)
    assert top["lift"] == pytest.approx(0.5 / 0.15)


def test_classification_metrics_of_a_perfect_ranking():
    metrics = classification_metrics([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert metrics["roc_auc"] == 1.0 and metrics["pr_auc"] == 1.0
    # Brier: (0.01 + 0.04 + 0.04 + 0.01) / 4
    assert metrics["brier"] == pytest.approx(0.025)


def test_status_at_horizon_leaves_out_early_censoring():
    status = status_at(duration=[10, 40, 20, 50], event=[1, 1, 0, 0], horizon=30)
    np.testing.assert_array_equal(status, [1.0, 0.0, np.nan, 0.0])


def test_survival_metrics_by_hand():
    duration, event = np.array([10, 40, 20, 50]), np.array([1, 1, 0, 0])
    risk = np.array([0.9, 0.5, 0.6, 0.1])  # ranks the churners before the survivors
    metrics = survival_metrics(duration, event, risk, {30: np.array([0.8, 0.3, 0.5, 0.2])})
    assert metrics["concordance"] == 1.0
    # known status at 30 d: rows 0 (1), 1 (0), 3 (0): AUC 1; Brier (0.04 + 0.09 + 0.04) / 3
    assert metrics["auc_30d"] == 1.0
    assert metrics["brier_30d"] == pytest.approx(0.17 / 3)
    assert not pd.isna(metrics["concordance"])
