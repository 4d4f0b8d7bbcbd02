"""Component health scores: signal points, colours, weights and their sensitivity."""

import numpy as np
import pandas as pd
import pytest

from models.scoring.components import (
    Component,
    Signal,
    component_scores,
    signal_colour,
    signal_points,
    weight_sensitivity,
)


def test_a_signal_scores_100_at_green_0_at_red_and_linearly_between():
    higher_better = Signal(weight=1, green=0.7, red=0.3)
    np.testing.assert_allclose(signal_points(pd.Series([0.8, 0.7, 0.5, 0.3, 0.2, None]),
                                             higher_better),
                               [100, 100, 50, 0, 0, np.nan])
    lower_better = Signal(weight=1, green=3, red=14)
    np.testing.assert_allclose(signal_points(pd.Series([1, 3, 8.5, 14, 30]), lower_better),
                               [100, 100, 50, 0, 0])
    assert signal_colour(pd.Series([1, 8.5, 20, None]), lower_better).tolist() == [
        "green", "yellow", "red", ""]


def test_green_and_red_must_differ():
    with pytest.raises(ValueError, match="must differ"):
        Signal(weight=1, green=2, red=2)


def test_components_average_their_present_signals_by_weight():
    frame = pd.DataFrame({"active_users_per_seat": [0.5, None],
                          "core_feature_breadth_30d": [0.6, None],
                          "days_since_last_login": [8.5, 1]})
    scores = component_scores(frame)
    # usage: (0.4 × 50 + 0.3 × 100) / (0.4 + 0.3); usage_velocity_30d is absent
    assert scores.loc[0, "health_product_usage"] == pytest.approx(71.4)
    assert np.isnan(scores.loc[1, "health_product_usage"])  # no signal has a value
    # engagement: only days_since_last_login is present
    assert scores["health_engagement"].tolist() == [50.0, 100.0]
    assert scores["health_support"].isna().all()  # a component without any signal


def test_weights_and_thresholds_come_from_the_scoring_config():
    from models.scoring.config import ScoringConfig

    config = ScoringConfig.model_validate({"components": {"usage": {"weight": 1, "signals": {
        "active_users_per_seat": {"weight": 3, "green": 1.0, "red": 0.0},
        "events_30d": {"weight": 1, "green": 100, "red": 0}}}}})
    frame = pd.DataFrame({"active_users_per_seat": [0.5], "events_30d": [10]})
    scores = component_scores(frame, config.components)
    assert list(scores.columns) == ["health_usage"]
    assert scores.loc[0, "health_usage"] == pytest.approx((3 * 50 + 1 * 10) / 4)


def test_weight_sensitivity_counts_accounts_whose_band_moves():
    components = {"a": Component(weight=1, signals={"x": Signal(weight=1, green=1, red=0)}),
                  "b": Component(weight=1, signals={"y": Signal(weight=1, green=1, red=0)})}
    # composites 50 (on the neutral / at-risk boundary), 90 and 10
    scores = pd.DataFrame({"health_a": [100.0, 90, 10], "health_b": [0.0, 90, 10]})
    table = weight_sensitivity(scores, components).set_index(["component", "weight_change"])
    # a -10 %: 90 / 1.9 = 47.4 (at-risk); a +10 %: 52.4 (neutral, unchanged)
    assert table.loc[("a", "-10%"), "accounts_changing_band"] == 1
    assert table.loc[("a", "+10%"), "accounts_changing_band"] == 0
    # b +10 %: 100 / 2.1 = 47.6 (at-risk); b -10 %: 52.6
    assert table.loc[("b", "+10%"), "accounts_changing_band"] == 1
    assert table.loc[("b", "-10%"), "share_changing_band"] == 0
