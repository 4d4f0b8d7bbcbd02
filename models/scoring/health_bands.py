"""Health score (0-100) from calibrated churn risk, and the bands customer-success teams use.

The score is a monotone map of the calibrated probability of churn within the horizon:

    health = 100 / (1 + (risk / risk_at_50) ** steepness)

With the defaults (risk_at_50 = 0.20, steepness = 1.5) an account at the demo's base rate
(~0.10) scores ~74 (healthy), twice the base rate 50 (neutral/at-risk boundary), three times
~35 (at-risk) and 0.5 or more ~20 (critical). Bands and their thresholds are configurable,
with per-segment overrides; each band also has a red/yellow/green view.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, model_validator


class Band(BaseModel):
    """A band holds scores at or above ``min_score`` (up to the next band's threshold)."""

    name: str
    min_score: float
    color: str  # red / yellow / green


DEFAULT_BANDS = [
    Band(name="thriving", min_score=85, color="green"),
    Band(name="healthy", min_score=70, color="green"),
    Band(name="neutral", min_score=50, color="yellow"),
    Band(name="at-risk", min_score=30, color="red"),
    Band(name="critical", min_score=0, color="red"),
]


class HealthConfig(BaseModel):
    """How risk becomes a score and a score becomes a band."""

    risk_at_50: float = Field(0.20, gt=0, lt=1)
    steepness: float = Field(1.5, gt=0)
    bands: list[Band] = Field(default_factory=lambda: list(DEFAULT_BANDS))
    #: segment -> bands replacing the default ones for accounts of that segment
    segment_bands: dict[str, list[Band]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _bands_cover_zero(self) -> HealthConfig:
        for name, bands in {"bands": self.bands, **self.segment_bands}.items():
            if not bands or min(b.min_score for b in bands) > 0:
                raise ValueError(f"{name}: the lowest band must start at 0 so every score "
                                 "has a band")
        return self


def health_score(risk, config: HealthConfig | None = None) -> np.ndarray:
    """0-100 health score from calibrated churn probability (higher is healthier)."""
    config = config or HealthConfig()
    risk = np.clip(np.asarray(risk, dtype=float), 0.0, 1.0)
    return 100.0 / (1.0 + (risk / config.risk_at_50) ** config.steepness)


def _assign(scores: np.ndarray, bands: list[Band]) -> tuple[np.ndarray, np.ndarray]:
    ordered = sorted(bands, key=lambda b: b.min_score)
    thresholds = np.array([b.min_score for b in ordered])
    index = np.searchsorted(thresholds, scores, side="right") - 1
    index = np.clip(index, 0, len(ordered) - 1)
    return (np.array([b.name for b in ordered])[index],
            np.array([b.color for b in ordered])[index])


def assign_bands(scores, segments=None, config: HealthConfig | None = None) -> pd.DataFrame:
    """``band`` and ``color`` for each score, using the account's segment overrides if any."""
    config = config or HealthConfig()
    scores = np.asarray(scores, dtype=float)
    band, color = _assign(scores, config.bands)
    if segments is not None and config.segment_bands:
        segments = np.asarray(segments, dtype=object)
        for segment, bands in config.segment_bands.items():
            rows = segments == segment
            if rows.any():
                band[rows], color[rows] = _assign(scores[rows], bands)
    return pd.DataFrame({"band": band, "color": color})


def churn_by_band(risk, churned, segments=None,
                  config: HealthConfig | None = None) -> pd.DataFrame:
    """Per band: accounts, mean predicted risk and observed churn rate (e.g. on the
    out-of-fold predictions of walk-forward validation), ordered from healthiest."""
    config = config or HealthConfig()
    bands = assign_bands(health_score(risk, config), segments, config)
    table = pd.DataFrame({"band": bands["band"], "risk": np.asarray(risk, float),
                          "churned": np.asarray(churned, float)})
    summary = table.groupby("band").agg(accounts=("risk", "size"),
                                        mean_predicted_risk=("risk", "mean"),
                                        observed_churn_rate=("churned", "mean"))
    order = [b.name for b in sorted(config.bands, key=lambda b: -b.min_score)]
    return summary.reindex([b for b in order if b in summary.index]).reset_index()
