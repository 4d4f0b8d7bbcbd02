"""Daily alerts: what changed for the worse since yesterday, each said once until it clears.

Four conditions, evaluated per account on a day's scores against the previous day's:

* ``band_downgrade`` - the band is worse than yesterday's; open until the account is back in
  that band (or better).
* ``health_drop`` - health fell by ``health_drop_points`` or more since yesterday; open until
  it is back within ``health_drop_points`` of the level it fell from.
* ``newly_critical`` - the account is in the lowest band; open while it stays there.
* ``renewal_at_risk`` - renewal within ``renewal_days`` at health below
  ``renewal_health_below``; open while both hold.

An alert fires on the day its condition starts to hold and is then *open*: the same
condition does not fire again for that account until it has cleared (no alert storm). The
open alerts at the end of a day are the state the next day starts from; accounts that are
no longer scored (churned) close theirs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from models.scoring.health_bands import HealthConfig

ALERT_TYPES = ("band_downgrade", "health_drop", "newly_critical", "renewal_at_risk")
# Fixed dtypes, so that a day without alerts is stored with the same schema as any other.
OPEN_DTYPES = {"as_of": "datetime64[ns]", "account_id": "string", "alert_type": "string",
               "opened_on": "datetime64[ns]", "reference_health": "float64",
               "reference_band": "string"}
ALERT_DTYPES = {"alert_id": "string", "as_of": "datetime64[ns]", "account_id": "string",
                "alert_type": "string", "message": "string", "health_score": "float64",
                "previous_health_score": "float64", "band": "string",
                "previous_band": "string", "days_to_renewal": "float64",
                "arr_at_risk": "float64", "reason_1": "string", "recommended_action": "string",
                "action_owner": "string"}


class AlertConfig(BaseModel):
    """Thresholds of the alert conditions (defaults: the customer-success playbook's)."""

    health_drop_points: float = Field(20, gt=0)
    renewal_days: int = Field(60, ge=0)
    renewal_health_below: float = Field(60, gt=0, le=100)


@dataclass(frozen=True)
class AlertResult:
    """Alerts fired on the day, and the alerts open at its end (tomorrow's state)."""

    fired: pd.DataFrame
    open: pd.DataFrame


def _typed(frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    return frame.reindex(columns=list(dtypes)).astype(dtypes)


def empty_open_alerts() -> pd.DataFrame:
    return _typed(pd.DataFrame(), OPEN_DTYPES)


def _band_rank(health: HealthConfig) -> dict[str, float]:
    """Band name -> its threshold, so that a lower value is a worse band."""
    rank = {}
    for bands in [*health.segment_bands.values(), health.bands]:
        rank.update({b.name: b.min_score for b in bands})
    return rank


def _lowest_bands(health: HealthConfig) -> set[str]:
    return {min(bands, key=lambda b: b.min_score).name
            for bands in [health.bands, *health.segment_bands.values()]}


def alert_id(account_id: str, alert_type: str, opened_on: pd.Timestamp) -> str:
    """Stable id of one alert (the same alert on a re-run has the same id)."""
    key = f"{account_id}|{alert_type}|{pd.Timestamp(opened_on):%Y-%m-%d}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def evaluate_alerts(today: pd.DataFrame, previous: pd.DataFrame | None,
                    open_alerts: pd.DataFrame | None, *, as_of: pd.Timestamp,
                    config: AlertConfig | None = None,
                    health: HealthConfig | None = None) -> AlertResult:
    """Alerts for one day's scores (``account_scores`` rows).

    ``previous`` is the previous day's scores (None on the first scored day: then only the
    conditions that need no comparison, critical and renewal, can fire); ``open_alerts``
    is the previous day's ``AlertResult.open`` (None: nothing open).
    """
    config = config or AlertConfig()
    health = health or HealthConfig()
    as_of = pd.Timestamp(as_of).normalize()
    rank = _band_rank(health)
    open_alerts = empty_open_alerts() if open_alerts is None else open_alerts
    columns = ["account_id", "health_score", "band"]
    yesterday = (previous[columns] if previous is not None
                 else pd.DataFrame({c: pd.Series(dtype=object) for c in columns}))
    scores = today.merge(yesterday.rename(columns={"health_score": "previous_health_score",
                                                   "band": "previous_band"}),
                         on="account_id", how="left")
    scores["previous_health_score"] = scores["previous_health_score"].astype(float)
    band_rank = scores["band"].map(rank).astype(float)

    ids = scores["account_id"]
    was_open = {t: open_alerts[open_alerts["alert_type"] == t].set_index("account_id")
                .reindex(ids) for t in ALERT_TYPES}
    is_open = {t: was_open[t]["alert_type"].notna().to_numpy() for t in ALERT_TYPES}
    health_today = scores["health_score"].to_numpy(float)
    # Comparison conditions remember where they started: yesterday's health and band.
    reference_health = {t: np.full(len(scores), np.nan) for t in ALERT_TYPES}
    reference_band = {t: np.full(len(scores), None, dtype=object) for t in ALERT_TYPES}
    for t in ("band_downgrade", "health_drop"):
        reference_health[t] = np.where(is_open[t], was_open[t]["reference_health"].to_numpy(float),
                                       scores["previous_health_score"].to_numpy(float))
        reference_band[t] = np.where(is_open[t], was_open[t]["reference_band"].to_numpy(object),
                                     scores["previous_band"].to_numpy(object))
    reference_rank = pd.Series(reference_band["band_downgrade"]).map(rank).to_numpy(float)
    holds = {
        # rank/health against the reference: yesterday's for a new alert, the day it
        # opened for an open one (NaN on the first day compares False: nothing to compare)
        "band_downgrade": band_rank.to_numpy(float) < reference_rank,
        "health_drop": (reference_health["health_drop"] - health_today
                        >= config.health_drop_points),
        "newly_critical": scores["band"].isin(_lowest_bands(health)).to_numpy(),
        "renewal_at_risk": ((scores["days_to_renewal"] <= config.renewal_days)
                            & (scores["health_score"] < config.renewal_health_below)).to_numpy(),
    }

    fired, still_open = [], []
    for t in ALERT_TYPES:
        state = pd.DataFrame({
            "as_of": as_of, "account_id": ids.to_numpy(), "alert_type": t,
            "opened_on": np.where(is_open[t], was_open[t]["opened_on"].to_numpy(), as_of),
            "reference_health": reference_health[t], "reference_band": reference_band[t],
        })
        still_open.append(state[holds[t]])
        fired.append(scores[holds[t] & ~is_open[t]].assign(alert_type=t))

    open_next = _typed(pd.concat(still_open, ignore_index=True), OPEN_DTYPES)
    alerts = pd.concat(fired, ignore_index=True)
    return AlertResult(fired=_describe(alerts, as_of, config),
                       open=open_next.sort_values(["account_id", "alert_type"],
                                                  ignore_index=True))


def _describe(alerts: pd.DataFrame, as_of: pd.Timestamp, config: AlertConfig) -> pd.DataFrame:
    if alerts.empty:
        return _typed(pd.DataFrame(), ALERT_DTYPES)
    alerts = alerts.copy()
    alerts["as_of"] = as_of
    alerts["alert_id"] = [alert_id(a, t, as_of)
                          for a, t in zip(alerts["account_id"], alerts["alert_type"],
                                          strict=True)]
    alerts["message"] = [_message(row, config) for row in alerts.itertuples(index=False)]
    return _typed(alerts, ALERT_DTYPES).sort_values(["arr_at_risk", "account_id", "alert_type"],
                                             ascending=[False, True, True], ignore_index=True)


def _message(row, config: AlertConfig) -> str:
    health = f"health {row.health_score:.0f}"
    if row.alert_type == "band_downgrade":
        return f"{row.account_id} fell from {row.previous_band} to {row.band} ({health})"
    if row.alert_type == "health_drop":
        drop = row.previous_health_score - row.health_score
        return (f"{row.account_id} health dropped {drop:.0f} points to "
                f"{row.health_score:.0f} since yesterday")
    if row.alert_type == "newly_critical":
        return f"{row.account_id} is now {row.band} ({health})"
    return (f"{row.account_id} renews in {row.days_to_renewal:.0f} days at {health} "
            f"(below {config.renewal_health_below:.0f})")


def webhook_payload(alerts: pd.DataFrame, *, max_listed: int = 20) -> dict:
    """Slack-compatible message (``text`` plus ``blocks``) for a batch of alerts.

    One message per batch, the largest ARR at risk first; beyond ``max_listed`` alerts the
    message says how many more there are, so a bad day is one post, not hundreds.
    """
    counts = alerts["alert_type"].value_counts()
    days = sorted(pd.to_datetime(alerts["as_of"]).dt.strftime("%Y-%m-%d").unique())
    summary = (f"account-health: {len(alerts)} new alert{'s' * (len(alerts) != 1)} for "
               f"{', '.join(days)} (" + ", ".join(f"{counts[t]} {t.replace('_', ' ')}"
                                                 for t in ALERT_TYPES if t in counts) + ")")
    ordered = alerts.sort_values("arr_at_risk", ascending=False).head(max_listed)
    lines = [f"• {row.message}; ${row.arr_at_risk:,.0f} ARR at risk; "
             f"{row.recommended_action} ({row.action_owner})"
             for row in ordered.itertuples(index=False)]
    if len(alerts) > max_listed:
        lines.append(f"… and {len(alerts) - max_listed} more in the alerts table")
    return {"text": summary,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": summary}},
                       {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]}
