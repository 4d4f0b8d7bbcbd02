"""Component health scores: product usage, engagement, support, billing and growth, 0-100.

Beside the model's health score (one number from the churn model), each component says in
plain terms where an account stands. A component is the weighted mean of its signals'
points; a signal scores 100 at its ``green`` threshold or better, 0 at its ``red`` threshold
or worse, and linearly between (so a signal whose green is below its red, like days since
the last login, is better low). Its colour is green at or beyond ``green``, red at or
beyond ``red``, yellow between. Signals without a value (a table the export lacks) are left
out and the other weights renormalised; a component without any signal is empty.
Weights and thresholds are configurable in the scoring YAML (``components``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, model_validator

from models.inputs import unmeasured_recency
from models.scoring.health_bands import HealthConfig, assign_bands


class Signal(BaseModel):
    """One feature's contribution to a component."""

    weight: float = Field(gt=0)
    green: float
    red: float

    @model_validator(mode="after")
    def _thresholds_differ(self) -> Signal:
        if self.green == self.red:
            raise ValueError("a signal's green and red thresholds must differ")
        return self


class Component(BaseModel):
    """A component's weight in the composite and its signals by feature."""

    weight: float = Field(gt=0)
    signals: dict[str, Signal]


def _s(weight: float, green: float, red: float) -> Signal:
    return Signal(weight=weight, green=green, red=red)


DEFAULT_COMPONENTS: dict[str, Component] = {
    "product_usage": Component(weight=0.30, signals={
        "active_users_per_seat": _s(0.4, 0.7, 0.3),
        "core_feature_breadth_30d": _s(0.3, 0.6, 0.2),
        "usage_velocity_30d": _s(0.3, 0.0, -0.3)}),
    "engagement": Component(weight=0.25, signals={
        "days_since_last_login": _s(0.5, 3, 14),
        "dau_mau_ratio": _s(0.3, 0.3, 0.1),
        "nps_latest": _s(0.2, 9, 6),
        "days_since_last_cs_touch": _s(0.2, 30, 90)}),
    "support": Component(weight=0.15, signals={
        "open_high_priority_tickets": _s(0.5, 0, 2),
        "avg_csat_90d": _s(0.3, 4.5, 3.0),
        "tickets_30d": _s(0.2, 1, 5)}),
    "billing": Component(weight=0.15, signals={
        "failed_payments_90d": _s(0.6, 0, 1),
        "late_payments_90d": _s(0.4, 0, 2)}),
    "growth": Component(weight=0.15, signals={
        "mrr_change_90d_pct": _s(0.5, 0.1, -0.1),
        "active_users_mom_change": _s(0.5, 0.05, -0.2)}),
}


def signal_points(values: pd.Series, signal: Signal) -> np.ndarray:
    """0-100 per value: 100 at ``green`` or better, 0 at ``red`` or worse, linear between;
    NaN where the value is missing."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(float)
    return np.clip((x - signal.red) / (signal.green - signal.red), 0.0, 1.0) * 100


def signal_colour(values: pd.Series, signal: Signal) -> np.ndarray:
    """``green``, ``yellow`` or ``red`` per value (empty where it is missing)."""
    points = signal_points(values, signal)
    return np.select([np.isnan(points), points >= 100, points <= 0],
                     ["", "green", "red"], "yellow")


def component_scores(frame: pd.DataFrame,
                     components: dict[str, Component] | None = None) -> pd.DataFrame:
    """``health_<component>`` (0-100, one decimal) per row of ``frame``'s features; a
    days-since feature the export does not measure (``unmeasured_recency``) is left out."""
    result = {}
    unmeasured = unmeasured_recency(frame)
    for name, component in (components or DEFAULT_COMPONENTS).items():
        total = np.zeros(len(frame))
        weight = np.zeros(len(frame))
        for feature, signal in component.signals.items():
            if feature not in frame or feature in unmeasured:
                continue
            points = signal_points(frame[feature], signal)
            present = ~np.isnan(points)
            total += np.where(present, points * signal.weight, 0.0)
            weight += np.where(present, signal.weight, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            result[f"health_{name}"] = np.round(np.where(weight > 0, total / weight, np.nan), 1)
    return pd.DataFrame(result, index=frame.index)


def composite(components: pd.DataFrame, weights: dict[str, float]) -> np.ndarray:
    """Weighted mean of the component scores present in each row."""
    total = np.zeros(len(components))
    weight = np.zeros(len(components))
    for name, w in weights.items():
        if f"health_{name}" not in components:
            continue
        values = components[f"health_{name}"].to_numpy(float)
        present = ~np.isnan(values)
        total += np.where(present, values * w, 0.0)
        weight += np.where(present, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / weight, np.nan)


def weight_sensitivity(scores: pd.DataFrame, components: dict[str, Component] | None = None,
                       health: HealthConfig | None = None, *, change: float = 0.10,
                       segments=None) -> pd.DataFrame:
    """For each component weight moved by ±``change`` (the others kept): how many accounts
    change band under the composite of the component scores in ``scores``, banded like
    the health score."""
    weights = {name: c.weight for name, c in (components or DEFAULT_COMPONENTS).items()
               if f"health_{name}" in scores}
    components = scores
    base = composite(components, weights)
    present = ~np.isnan(base)
    base_band = assign_bands(np.nan_to_num(base), segments, health)["band"].to_numpy()
    rows = []
    for name in weights:
        for sign in (-1, 1):
            moved = {**weights, name: weights[name] * (1 + sign * change)}
            band = assign_bands(np.nan_to_num(composite(components, moved)), segments,
                                health)["band"].to_numpy()
            rows.append({"component": name, "weight_change": f"{sign * change:+.0%}",
                         "accounts_changing_band": int(((band != base_band) & present).sum()),
                         "share_changing_band": float(((band != base_band) & present).sum()
                                                      / max(present.sum(), 1))})
    return pd.DataFrame(rows)
