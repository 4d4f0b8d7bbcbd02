"""One risk per horizon: the classifier's risk spread over time by the training rows."""

import numpy as np
import pytest

from models.churn.horizons import HorizonCurve

# five training rows: churn on days 10, 20 and 40; censored on days 20 and 100
DURATION = [10, 20, 20, 40, 100]
CHURNED = [1, 1, 0, 1, 0]


def test_cumulative_hazard_by_hand():
    curve = HorizonCurve().fit(DURATION, CHURNED)
    # at risk 5, 4, 2: 1/5, then + 1/4, then + 1/2; flat after the last churn
    np.testing.assert_allclose(curve.cumulative_hazard([5, 10, 30, 40, 200]),
                               [0.0, 0.2, 0.45, 0.95, 0.95])


def test_risks_grow_with_the_horizon_and_keep_the_classifiers_own():
    curve = HorizonCurve().fit(DURATION, CHURNED)
    risk = np.array([0.0, 0.2, 0.5, 0.9])
    p = curve.probabilities(risk, horizon_days=40, horizons=(10, 20, 40, 100))
    np.testing.assert_array_equal(p[40], risk)
    np.testing.assert_allclose(p[20], 1 - (1 - risk) ** (0.45 / 0.95))
    np.testing.assert_allclose(p[10], 1 - (1 - risk) ** (0.2 / 0.95))
    for shorter, longer in ((10, 20), (20, 40), (40, 100)):
        assert (p[shorter] <= p[longer]).all()


def test_median_days_is_where_the_same_risk_reaches_one_half():
    curve = HorizonCurve().fit(DURATION, CHURNED)
    median = curve.median_days(np.array([0.5, 0.75, 0.9, 0.2]), horizon_days=40)
    # 0.5 by day 40 exactly; 0.75 needs Λ ≥ 0.475 (day 40); 0.9 needs Λ ≥ 0.286 (day 20);
    # 0.2 never reaches one half within the days observed
    assert median.tolist() == [40.0, 40.0, 20.0, np.inf]


def test_without_churn_by_the_horizon_the_risk_spreads_linearly():
    curve = HorizonCurve().fit([100, 120], [1, 0])
    p = curve.probabilities(np.array([0.3]), horizon_days=90, horizons=(30, 90))
    assert p[30][0] == pytest.approx(1 - 0.7 ** (30 / 90))
