"""Daily alerts: what got worse since yesterday and which warning signs hold, each said once
until it clears, with a severity, an owner and a route; escalated along its account's chain
when unanswered.

Four score-change conditions, evaluated per account on a day's scores against the previous
day's:

* ``band_downgrade`` - the band is worse than yesterday's; open until the account is back in
  that band (or better).
* ``health_drop`` - health fell by ``health_drop_points`` or more since yesterday; open until
  it is back within ``health_drop_points`` of the level it fell from.
* ``health_decline`` - a slide: health is ``decline_points`` or more below its highest of
  the ``decline_days`` before (and no one-day drop says so already); open until it is
  back within ``decline_points`` of that high.
* ``newly_critical`` - the account is in the lowest band; open while it stays there.
* ``renewal_at_risk`` - renewal within ``renewal_days`` at health below
  ``renewal_health_below``; open while both hold.

and the early-warning signals of ``models.alerts.signals`` on the day's features.

An alert fires on the day its condition starts to hold and is then *open*: the same
condition does not fire again for that account until it has cleared, which takes
``clear_after_days`` days in a row without it (no alert storm, no flicker). The
open alerts at the end of a day are the state the next day starts from; accounts that are
no longer scored (churned) close theirs. On the first scored day nothing is known to have
*started*: the conditions holding then open as the initial backlog (``backlog``), which
never fires nor escalates but is worked through the day's work items
(``models.alerts.work_items``). An open alert past its severity's SLA with no CS
activity on the account since it opened escalates to the next role of its account's chain
(``models.alerts.routing``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.message import EmailMessage

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, model_validator

from models.alerts.routing import (
    RoutingConfig,
    escalated_severity,
    last_activity,
    owners,
    unanswered,
)
from models.alerts.signals import (
    DEFAULT_SIGNALS,
    Severity,
    SignalRule,
    message_fields,
    signal_message,
    signals_holding,
)
from models.scoring.health_bands import HealthConfig

SCORE_CHANGE_TYPES = ("band_downgrade", "health_drop", "health_decline", "newly_critical",
                      "renewal_at_risk")
#: Most days a slide (``health_decline``) may be measured over: the scores a day's alerts load.
DECLINE_WINDOW_MAX_DAYS = 28
# Fixed dtypes, so that a day without alerts is stored with the same schema as any other.
OPEN_DTYPES = {"as_of": "datetime64[ns]", "account_id": "string", "alert_type": "string",
               "opened_on": "datetime64[ns]", "reference_health": "float64",
               "reference_band": "string", "severity": "string", "escalation_level": "int64",
               "backlog": "bool", "quiet_days": "int64", "message": "string"}
ALERT_DTYPES = {"alert_id": "string", "as_of": "datetime64[ns]", "account_id": "string",
                "alert_type": "string", "severity": "string", "escalation": "bool",
                "escalated_to": "string",
                "owner": "string", "route": "string", "message": "string",
                "health_score": "float64", "previous_health_score": "float64",
                "band": "string", "previous_band": "string", "days_to_renewal": "float64",
                "arr_at_risk": "float64", "reason_1": "string", "recommended_action": "string",
                "action_owner": "string"}


class AlertConfig(BaseModel):
    """Thresholds, severities, signals and routing of the alerts (defaults: the
    customer-success playbook's)."""

    health_drop_points: float = Field(20, gt=0)
    decline_points: float = Field(25, gt=0)
    decline_days: int = Field(21, ge=2, le=DECLINE_WINDOW_MAX_DAYS)
    #: Days a condition must stop holding before it clears (1: the first such day); until
    #: then it stays open, quiet, and cannot fire again.
    clear_after_days: int = Field(3, ge=1)
    renewal_days: int = Field(90, ge=0)
    renewal_health_below: float = Field(60, gt=0, le=100)
    severity: dict[str, Severity] = Field(default_factory=lambda: {
        "band_downgrade": "high", "health_drop": "high", "health_decline": "high",
        "newly_critical": "critical", "renewal_at_risk": "critical"})
    signals: list[SignalRule] = Field(default_factory=lambda: list(DEFAULT_SIGNALS))
    routing: RoutingConfig = Field(default_factory=RoutingConfig)

    @model_validator(mode="after")
    def _names_are_unique(self) -> AlertConfig:
        names = [*SCORE_CHANGE_TYPES, *(s.name for s in self.signals)]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"alert names must be unique; used twice: {', '.join(doubled)}")
        return self

    def alert_types(self) -> tuple[str, ...]:
        return (*SCORE_CHANGE_TYPES, *(s.name for s in self.signals))

    def severity_of(self, alert_type: str) -> str:
        rule = next((s for s in self.signals if s.name == alert_type), None)
        return rule.severity if rule is not None else self.severity.get(alert_type, "high")


@dataclass(frozen=True)
class AlertResult:
    """Alerts fired (and escalated) on the day, and the alerts open at its end."""

    fired: pd.DataFrame
    open: pd.DataFrame


def _typed(frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    frame = frame.reindex(columns=list(dtypes))
    for column, dtype in dtypes.items():
        if dtype == "bool":
            frame[column] = frame[column].astype("boolean").fillna(False)
        elif dtype == "int64":
            frame[column] = frame[column].fillna(0)
    return frame.astype(dtypes)


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


def alert_id(account_id: str, alert_type: str, opened_day: str) -> str:
    """Stable id of one alert opened on ``opened_day`` (YYYY-MM-DD): the same alert on a
    re-run has the same id."""
    key = f"{account_id}|{alert_type}|{opened_day}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def evaluate_alerts(today: pd.DataFrame, previous: pd.DataFrame | None,
                    open_alerts: pd.DataFrame | None, *, as_of: pd.Timestamp,
                    config: AlertConfig | None = None,
                    health: HealthConfig | None = None,
                    features: pd.DataFrame | None = None,
                    activities: pd.DataFrame | None = None,
                    first_day: bool = False,
                    recent_high: pd.Series | None = None) -> AlertResult:
    """Alerts for one day's scores (``account_scores`` rows).

    ``previous`` is the previous day's scores (None on the first scored day: then only the
    conditions that need no comparison can fire); ``open_alerts`` is the previous day's
    ``AlertResult.open`` (None: nothing open); ``features`` the day's snapshot rows the
    signals read (None: no signal holds); ``activities`` the ``cs_activities`` table that
    answers an alert (None: nothing has been done, so late alerts escalate). On the
    ``first_day`` of scoring the conditions that hold open as the backlog and none fires.
    ``recent_high`` is each account's highest health over the ``decline_days`` before the
    day (``recent_high_health``; None: no slide can be measured).
    Each open condition carries its ``message``, as an alert would say it.
    """
    config = config or AlertConfig()
    health = health or HealthConfig()
    as_of = pd.Timestamp(as_of).normalize()
    rank = _band_rank(health)
    types = config.alert_types()
    if (open_alerts is not None and "escalation_level" not in open_alerts
            and "escalated" in open_alerts):  # a state stored with a once-only flag
        open_alerts = open_alerts.assign(
            escalation_level=open_alerts["escalated"].astype("boolean").fillna(False)
            .astype(int))
    open_alerts = empty_open_alerts() if open_alerts is None else _typed(open_alerts,
                                                                          OPEN_DTYPES)
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
                .reindex(ids) for t in types}
    is_open = {t: was_open[t]["alert_type"].notna().to_numpy() for t in types}
    health_today = scores["health_score"].to_numpy(float)
    # Comparison conditions remember where they started: yesterday's health and band.
    reference_health = {t: np.full(len(scores), np.nan) for t in types}
    reference_band = {t: np.full(len(scores), None, dtype=object) for t in types}
    for t in ("band_downgrade", "health_drop"):
        reference_health[t] = np.where(is_open[t], was_open[t]["reference_health"].to_numpy(float),
                                       scores["previous_health_score"].to_numpy(float))
        reference_band[t] = np.where(is_open[t], was_open[t]["reference_band"].to_numpy(object),
                                     scores["previous_band"].to_numpy(object))
    high = (np.full(len(scores), np.nan) if recent_high is None
            else ids.map(recent_high).to_numpy(float))
    reference_health["health_decline"] = np.where(
        is_open["health_decline"], was_open["health_decline"]["reference_health"].to_numpy(float),
        high)
    reference_rank = pd.Series(reference_band["band_downgrade"]).map(rank).to_numpy(float)
    values = scores if features is None else scores.merge(
        features[["account_id", *(c for c in features.columns if c not in scores.columns)]],
        on="account_id", how="left")
    holds = {
        # rank/health against the reference: yesterday's for a new alert, the day it
        # opened for an open one (NaN on the first day compares False: nothing to compare)
        "band_downgrade": band_rank.to_numpy(float) < reference_rank,
        "health_drop": (reference_health["health_drop"] - health_today
                        >= config.health_drop_points),
        # a new slide is one no one-day drop already reports
        "health_decline": ((reference_health["health_decline"] - health_today
                            >= config.decline_points)
                           & (is_open["health_decline"]
                              | ~(reference_health["health_drop"] - health_today
                                  >= config.health_drop_points))),
        "newly_critical": scores["band"].isin(_lowest_bands(health)).to_numpy(),
        "renewal_at_risk": ((scores["days_to_renewal"] <= config.renewal_days)
                            & (scores["health_score"] < config.renewal_health_below)).to_numpy(),
        **(signals_holding(values, config.signals) if features is not None
           else {s.name: np.zeros(len(scores), dtype=bool) for s in config.signals}),
    }

    # once per day, not once per alert type
    latest_activity = None if activities is None else last_activity(activities, as_of)
    chains = config.routing.chains(scores["arr"] if "arr" in scores
                                   else pd.Series(np.nan, index=scores.index))
    fired, escalated, still_open = [], [], []
    for t in types:
        severity = config.severity_of(t)
        # a condition that stops holding stays open, quiet, for clear_after_days - 1 days:
        # one that flickers around its threshold does not fire anew each time it returns
        quiet_before = was_open[t]["quiet_days"].fillna(0).to_numpy(np.int64)
        quiet_days = np.where(holds[t], 0, quiet_before + 1)
        keep = holds[t] | (is_open[t] & (quiet_days < config.clear_after_days))
        state = pd.DataFrame({
            "as_of": as_of, "account_id": ids.to_numpy(), "alert_type": t,
            "opened_on": pd.to_datetime(np.where(is_open[t], was_open[t]["opened_on"]
                                                 .to_numpy("datetime64[ns]"),
                                                 as_of.to_datetime64())),
            "reference_health": reference_health[t], "reference_band": reference_band[t],
            "severity": severity,
            "escalation_level": np.where(is_open[t], was_open[t]["escalation_level"]
                                         .fillna(0).to_numpy(np.int64), 0),
            "backlog": (is_open[t] & was_open[t]["backlog"].astype("boolean").fillna(False)
                        .to_numpy(bool)) | first_day,
            "quiet_days": quiet_days,
        })[keep]
        # without a cs_activities table nothing can be known to be unanswered; the backlog
        # was never sent, so nobody was late answering it, nor a condition gone quiet
        chain = [chains[i] for i in np.flatnonzero(keep)]
        late = (unanswered(state, latest_activity, as_of=as_of, routing=config.routing,
                           chain_length=np.array([len(c) for c in chain], dtype=np.int64))
                if activities is not None else pd.Series(False, index=state.index))
        late &= ~state["backlog"] & (state["quiet_days"] == 0)
        state.loc[late, "escalation_level"] += 1
        roles = [c[level - 1] for c, level, due in zip(
            chain, state["escalation_level"], late, strict=True) if due]
        still_open.append(state)
        if not first_day:
            new = holds[t] & ~is_open[t]
            starts = values[new].assign(alert_type=t, severity=severity, escalation=False,
                                        opened_on=as_of)
            if t == "health_decline":  # measured from the recent high, not yesterday
                starts["previous_health_score"] = reference_health[t][new]
            fired.append(starts)
        late_rows = values[keep][late.to_numpy()]
        # an escalation says where the condition started, not where it was yesterday
        escalated.append(late_rows.assign(
            alert_type=t, severity=escalated_severity(severity), escalation=True,
            escalated_to=roles,
            opened_on=state.loc[late, "opened_on"].to_numpy(),
            previous_health_score=state.loc[late, "reference_health"].to_numpy(),
            previous_band=state.loc[late, "reference_band"].to_numpy()))

    open_next = pd.concat(still_open, ignore_index=True)
    # an open condition is described from where it started, not from yesterday
    described = open_next.merge(values.drop(columns=["as_of", "previous_health_score",
                                                      "previous_band"], errors="ignore"),
                                on="account_id", how="left")
    open_next["message"] = _messages(described.assign(
        previous_health_score=described["reference_health"],
        previous_band=described["reference_band"]), config)
    open_next = _typed(open_next, OPEN_DTYPES)
    parts = [frame for frame in (*fired, *escalated) if len(frame)]
    alerts = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return AlertResult(fired=_describe(alerts, as_of, config),
                       open=open_next.sort_values(["account_id", "alert_type"],
                                                  ignore_index=True))


def _describe(alerts: pd.DataFrame, as_of: pd.Timestamp, config: AlertConfig) -> pd.DataFrame:
    if alerts.empty:
        return _typed(pd.DataFrame(), ALERT_DTYPES)
    alerts = alerts.copy()
    alerts["as_of"] = as_of
    # each alert's day as text once, not a Timestamp boxed per alert
    opened = pd.to_datetime(alerts["opened_on"]).dt.strftime("%Y-%m-%d").tolist()
    roles = (alerts["escalated_to"] if "escalated_to" in alerts
             else pd.Series("", index=alerts.index)).fillna("").astype(str)
    alerts["alert_id"] = [
        alert_id(a, f"{t}:escalated:{r}" if e else t, o)
        for a, t, e, r, o in zip(alerts["account_id"], alerts["alert_type"],
                                 alerts["escalation"], roles,
                              opened, strict=True)]
    sla = config.routing.sla_hours
    alerts["message"] = [
        (f"no CS activity since {day} (SLA "
         f"{sla.get(config.severity_of(alert_type), 0):.0f} h), escalated to "
         f"{role.replace('_', ' ')}: " if escalation else "") + message
        for message, alert_type, escalation, day, role in zip(
            _messages(alerts, config), alerts["alert_type"], alerts["escalation"], opened,
            roles, strict=True)]
    alerts["owner"] = owners(alerts.get("csm_owner"), len(alerts),
                             config.routing.default_owner).to_numpy()
    alerts["route"] = [config.routing.escalation_target(role).describe() if role
                       else config.routing.target(severity).describe()
                       for severity, role in zip(alerts["severity"], roles, strict=True)]
    return _typed(alerts, ALERT_DTYPES).sort_values(
        ["escalation", "arr_at_risk", "account_id", "alert_type"],
        ascending=[True, False, True, True], ignore_index=True)


#: The columns ``_messages`` reads (besides each signal's message fields).
MESSAGE_COLUMNS = ("account_id", "alert_type", "as_of", "opened_on", "band", "previous_band",
                   "health_score", "previous_health_score", "days_to_renewal")


def _messages(conditions: pd.DataFrame, config: AlertConfig) -> list[str]:
    """What each row's condition (``alert_type``, with the account's values) says."""
    signals = {s.name: s for s in config.signals}
    # the messages read a few columns; a row of every column costs seconds at 100k alerts
    read = set(MESSAGE_COLUMNS).union(*(message_fields(s) for s in signals.values()))
    names = [c for c in conditions.columns if c in read]
    # a column at a time to Python (to_dict boxes value by value: seconds at 100k rows)
    rows = [dict(zip(names, row, strict=True))
            for row in zip(*(conditions[c].tolist() for c in names), strict=True)]
    return [signal_message(signals[row["alert_type"]], row) if row["alert_type"] in signals
            else _message(row, config) for row in rows]


def _message(row: dict, config: AlertConfig) -> str:
    health = f"health {row['health_score']:.0f}"
    account = row["account_id"]
    if row["alert_type"] == "band_downgrade":
        return f"{account} fell from {row['previous_band']} to {row['band']} ({health})"
    if row["alert_type"] == "health_drop":
        drop = row["previous_health_score"] - row["health_score"]
        opened = pd.Timestamp(row["opened_on"])
        since = ("yesterday" if opened == pd.Timestamp(row["as_of"])
                 else f"{opened - pd.Timedelta(days=1):%Y-%m-%d}")
        return (f"{account} health dropped {drop:.0f} points to "
                f"{row['health_score']:.0f} since {since}")
    if row["alert_type"] == "health_decline":
        fall = row["previous_health_score"] - row["health_score"]
        return (f"{account} health slid {fall:.0f} points to {row['health_score']:.0f} from "
                f"{row['previous_health_score']:.0f} in {config.decline_days} days")
    if row["alert_type"] == "newly_critical":
        return f"{account} is now {row['band']} ({health})"
    days = row["days_to_renewal"]
    return (f"{account} renews in {days:.0f} day{'' if round(days) == 1 else 's'} at {health} "
            f"(below {config.renewal_health_below:.0f})")


def webhook_payload(alerts: pd.DataFrame, *, max_listed: int = 20) -> dict:
    """Slack-compatible message (``text`` plus ``blocks``) for a batch of alerts.

    One message per batch, the largest ARR at risk first; beyond ``max_listed`` alerts the
    message says how many more there are, so a bad day is one post, not hundreds.
    """
    counts = alerts["alert_type"].value_counts()
    days = sorted(pd.to_datetime(alerts["as_of"]).dt.strftime("%Y-%m-%d").unique())
    order = [*SCORE_CHANGE_TYPES, *sorted(set(counts.index) - set(SCORE_CHANGE_TYPES))]
    summary = (f"account-health: {len(alerts)} new alert{'s' * (len(alerts) != 1)} for "
               f"{', '.join(days)} (" + ", ".join(f"{counts[t]} {t.replace('_', ' ')}"
                                                 for t in order if t in counts) + ")")
    ordered = alerts.sort_values("arr_at_risk", ascending=False).head(max_listed)
    lines = [f"• {row.message}; ${row.arr_at_risk:,.0f} ARR at risk; "
             f"{row.recommended_action} ({row.action_owner})"
             for row in ordered.itertuples(index=False)]
    if len(alerts) > max_listed:
        lines.append(f"… and {len(alerts) - max_listed} more in the alerts table")
    return {"text": summary,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": summary}},
                       {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]}


def email_message(alerts: pd.DataFrame, *, to: str, sender: str) -> EmailMessage:
    """The same alerts as ``webhook_payload``, as a plain-text e-mail to ``to``."""
    payload = webhook_payload(alerts, max_listed=len(alerts))
    message = EmailMessage()
    message["Subject"] = payload["text"]
    message["From"], message["To"] = sender, to
    body = [f"{row.severity.upper()} · {row.message}; owner {row.owner}; "
            f"${row.arr_at_risk:,.0f} ARR at risk; {row.recommended_action}"
            for row in alerts.sort_values("arr_at_risk", ascending=False).itertuples(index=False)]
    message.set_content("\n".join(body) + "\n")
    return message


def recent_high_health(scores: pd.DataFrame, day: pd.Timestamp, days: int) -> pd.Series:
    """Each account's highest health score over the ``days`` days before ``day``
    (``scores``: ``account_id, as_of, health_score`` of any days)."""
    as_of = pd.to_datetime(scores["as_of"])
    day = pd.Timestamp(day).normalize()
    window = scores[(as_of < day) & (as_of >= day - pd.Timedelta(days=days))]
    return window.groupby("account_id")["health_score"].max()
