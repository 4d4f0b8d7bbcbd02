"""Who hears about an alert, and when an unanswered one escalates.

Every alert has a severity; each severity has a target (a webhook URL, an e-mail address,
or both; empty: the deployment's default webhook) and an SLA. An alert still open after its
SLA with no ``cs_activities`` row for the account since it fired escalates to the first
role of its account's escalation chain (by ARR: a CSM manager, then a VP for the largest
accounts), one severity up; after each further SLA without an activity, to the next role,
until the chain ends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from models.alerts.signals import SEVERITIES


class Target(BaseModel):
    """Where alerts of one severity go."""

    webhook: str = ""
    email: str = ""

    def describe(self) -> str:
        parts = [f"webhook {self.webhook}" if self.webhook else "",
                 f"e-mail {self.email}" if self.email else ""]
        return ", ".join(p for p in parts if p) or "default webhook"


class EscalationRoute(BaseModel):
    """Who an unanswered alert goes to, in turn, for accounts of at least ``min_arr``."""

    min_arr: float = Field(0, ge=0)
    chain: list[str] = Field(min_length=1)


def _default_routes() -> list[EscalationRoute]:
    return [EscalationRoute(min_arr=100_000, chain=["csm_manager", "vp_customer_success"]),
            EscalationRoute(min_arr=0, chain=["csm_manager"])]


class RoutingConfig(BaseModel):
    """Targets and SLAs per severity, escalation chains by ARR with a target per role, and
    the queue of accounts without an owner."""

    targets: dict[str, Target] = Field(default_factory=lambda: {s: Target() for s in SEVERITIES})
    sla_hours: dict[str, float] = Field(
        default_factory=lambda: {"critical": 24, "high": 48, "medium": 72, "low": 168})
    #: The owner of an alert whose account has no ``csm_owner``.
    default_owner: str = "cs-unassigned"
    #: Escalation chains; an account takes the first whose ``min_arr`` its ARR reaches.
    escalation: list[EscalationRoute] = Field(default_factory=_default_routes)
    #: Where each role of a chain hears (empty: the default webhook).
    escalation_targets: dict[str, Target] = Field(default_factory=lambda: {
        "csm_manager": Target(), "vp_customer_success": Target()})

    def target(self, severity: str) -> Target:
        return self.targets.get(severity, Target())

    def escalation_target(self, role: str) -> Target:
        return self.escalation_targets.get(role, Target())

    def chains(self, arr: pd.Series) -> list[list[str]]:
        """Each account's escalation chain by its ARR (missing ARR: the smallest's)."""
        routes = sorted(self.escalation, key=lambda r: -r.min_arr)
        values = pd.to_numeric(arr, errors="coerce").fillna(0).to_numpy(float)
        return [next((r.chain for r in routes if value >= r.min_arr), []) for value in values]


def escalated_severity(severity: str) -> str:
    """The next more urgent severity (critical stays critical)."""
    return SEVERITIES[max(SEVERITIES.index(severity) - 1, 0)]


def owners(csm_owner: pd.Series | None, n: int, default: str) -> pd.Series:
    """The owner of each alert: the account's CSM, or the default queue."""
    if csm_owner is None:
        return pd.Series([default] * n, dtype="string")
    return csm_owner.astype("string").fillna(default).replace("", default)


def last_activity(activities: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Each account's latest ``cs_activities`` time by the end of ``as_of`` (naive UTC)."""
    end_of_day = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    performed = pd.to_datetime(activities["performed_at"], utc=True).dt.tz_localize(None)
    last = pd.Series(performed.to_numpy(), index=activities["account_id"].to_numpy())
    return last[last < end_of_day].groupby(level=0).max()


def unanswered(open_alerts: pd.DataFrame, latest_activity: pd.Series | None, *,
               as_of: pd.Timestamp, routing: RoutingConfig,
               chain_length: np.ndarray) -> pd.Series:
    """Whether each open alert is due its next escalation at the end of ``as_of``: past
    (escalations so far + 1) SLAs since the day it opened, with no CS activity on its
    account since then (``latest_activity``: ``last_activity`` of the day), and a role left
    in its chain (``chain_length`` per alert)."""
    if open_alerts.empty:
        return pd.Series(False, index=open_alerts.index)
    end_of_day = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    opened = pd.to_datetime(open_alerts["opened_on"])
    level = open_alerts["escalation_level"].fillna(0).to_numpy(np.int64)
    sla = pd.to_timedelta(open_alerts["severity"].map(routing.sla_hours).fillna(
        max(routing.sla_hours.values(), default=168)), unit="h")
    late = (end_of_day - opened) > sla * (level + 1)
    answered = pd.Series(False, index=open_alerts.index)
    if latest_activity is not None and len(latest_activity):
        latest = open_alerts["account_id"].map(latest_activity)
        answered = latest.notna() & (latest >= opened)
    return late & ~answered & (level < chain_length)


def deliveries(alerts: pd.DataFrame, routing: RoutingConfig,
               default_webhook: str) -> list[tuple[str, str, pd.DataFrame]]:
    """(``webhook`` or ``email``, address, alerts) per destination: each alert goes to its
    severity's targets, an escalation to its role's; a target without a webhook posts to
    ``default_webhook`` when there is one."""
    sent: dict[tuple[str, str], list[int]] = {}
    roles = (alerts["escalated_to"].fillna("").tolist() if "escalated_to" in alerts
             else [""] * len(alerts))
    for position, (severity, role) in enumerate(zip(alerts["severity"], roles, strict=True)):
        target = routing.escalation_target(role) if role else routing.target(severity)
        webhook = target.webhook or default_webhook
        if webhook:
            sent.setdefault(("webhook", webhook), []).append(position)
        if target.email:
            sent.setdefault(("email", target.email), []).append(position)
    return [(kind, address, alerts.iloc[rows]) for (kind, address), rows in sent.items()]
