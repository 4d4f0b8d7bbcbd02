"""Health score and bands follow the configured rules, including segment overrides."""

import numpy as np
import pytest
from pydantic import ValidationError

from models.scoring.health_bands import Band, HealthConfig, assign_bands, health_score


def test_score_is_100_at_no_risk_50_at_the_midpoint_and_falls_with_risk():
    scores = health_score([0.0, 0.1, 0.2, 0.3, 1.0])
    assert scores[0] == 100 and scores[2] == pytest.approx(50)
    # 0.1 is half the midpoint risk: 100 / (1 + 0.5 ** 1.5)
    assert scores[1] == pytest.approx(100 / (1 + 0.5 ** 1.5))
    assert np.all(np.diff(scores) < 0)


def test_default_bands_at_their_boundaries():
    bands = assign_bands([100, 85, 84.9, 70, 69.9, 50, 49.9, 30, 29.9, 0])
    assert bands["band"].tolist() == ["thriving", "thriving", "healthy", "healthy", "neutral",
                                      "neutral", "at-risk", "at-risk", "critical", "critical"]
    assert bands["color"].tolist() == ["green"] * 4 + ["yellow"] * 2 + ["red"] * 4


def test_segment_override_applies_only_to_that_segment():
    strict = [Band(name="fine", min_score=90, color="green"),
              Band(name="watch", min_score=60, color="yellow"),
              Band(name="escalate", min_score=0, color="red")]
    config = HealthConfig(segment_bands={"enterprise": strict})
    bands = assign_bands([80, 80, 95], ["SMB", "enterprise", "enterprise"], config)
    assert bands["band"].tolist() == ["healthy", "watch", "fine"]


def test_bands_must_cover_every_score():
    with pytest.raises(ValidationError, match="lowest band must start at 0"):
        HealthConfig(bands=[Band(name="ok", min_score=10, color="green")])


def test_churn_by_band_counts_and_rates():
    from models.scoring.health_bands import churn_by_band

    # risks 0.01 and 0.02 score > 85 (thriving); 0.5 scores ~20 (critical)
    table = churn_by_band([0.01, 0.02, 0.5, 0.5], [0, 0, 1, 0]).set_index("band")
    assert table.loc["thriving", "accounts"] == 2
    assert table.loc["thriving", "observed_churn_rate"] == 0
    assert table.loc["critical", "observed_churn_rate"] == 0.5
    assert list(table.index) == ["thriving", "critical"]
