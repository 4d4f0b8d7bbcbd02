"""Early-warning signals: rules on a day's features, each with a severity.

A signal holds for an account when every bound of its ``when`` holds on that day's values
(features of the snapshot, and the day's scores such as ``health_score``); like the
score-change alerts it
fires on the day it starts to hold and stays open until it clears. The defaults are the
warning signs customer-success teams watch (a renewal at low health is the score-change
alert ``renewal_at_risk``); a deployment replaces them in the scoring YAML
(``alerts.signals``, docs/scores.md).
"""

from __future__ import annotations

import re
import string
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from models.inputs import RECENCY_CAPS, recency_measured
from models.scoring.playbook import Bounds, within_bounds

Severity = Literal["critical", "high", "medium", "low"]
#: Most to least urgent; an unanswered alert escalates one step up this list.
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")


class SignalRule(BaseModel):
    """One warning sign: ``when`` bounds on feature values (all must hold)."""

    name: str
    severity: Severity
    when: dict[str, Bounds]
    #: What the alert says; ``{account_id}`` and any feature in braces are filled in.
    message: str
    #: On or off whatever the history shows; unset, it is on unless its walk-forward
    #: precision is not above the base rate (models.alerts.signal_quality).
    enabled: bool | None = None


DEFAULT_SIGNALS: list[SignalRule] = [
    SignalRule(name="no_login_14d", severity="high",
               when={"days_since_last_login": Bounds(min=14)},
               message="{account_id}: nobody has logged in for {days_since_last_login:.0f} days"),
    SignalRule(name="usage_down_25pct", severity="medium",
               when={"usage_velocity_30d": Bounds(max=-0.25)},
               message="{account_id}: usage {usage_velocity_30d:+.0%} month over month"),
    SignalRule(name="low_seat_use", severity="low",
               when={"active_users_per_seat": Bounds(max=0.4999)},
               message="{account_id}: {active_users_per_seat:.0%} of seats active"),
    SignalRule(name="payment_failed", severity="high",
               when={"failed_payments_90d": Bounds(min=1)},
               message="{account_id}: {failed_payments_90d:.0f} failed payment(s) in 90 days"),
    SignalRule(name="nps_detractor", severity="medium",
               when={"nps_latest": Bounds(max=6)},
               message="{account_id}: latest NPS {nps_latest:.0f} (detractor)"),
    SignalRule(name="high_priority_tickets", severity="high",
               when={"open_high_priority_tickets": Bounds(min=2)},
               message="{account_id}: {open_high_priority_tickets:.0f} high-priority tickets "
                       "open"),
]


class SignalConfig(BaseModel):
    """The signal rules (default: ``DEFAULT_SIGNALS``)."""

    rules: list[SignalRule] = Field(default_factory=lambda: list(DEFAULT_SIGNALS))


#: Accounts a day needs before a feature with one value for all of them counts as unmeasured.
UNMEASURED_MIN_ACCOUNTS = 20


def unmeasured_signals(values: pd.DataFrame, rules: list[SignalRule]) -> list[str]:
    """Rules on a feature the export does not measure, judged on a day with at least
    ``UNMEASURED_MIN_ACCOUNTS`` accounts: the same value for every account, or days since
    the last login at its no-login value (tenure, capped) for every account because no event
    name is mapped to a login. Such a rule would alert on everyone and says nothing."""
    if len(values) < UNMEASURED_MIN_ACCOUNTS:
        return []
    return [rule.name for rule in rules
            if any(column in values and _unmeasured(values, column) for column in rule.when)]


def _unmeasured(values: pd.DataFrame, column: str) -> bool:
    series = pd.to_numeric(values[column], errors="coerce")
    if series.nunique(dropna=True) <= 1:
        return True
    if column in RECENCY_CAPS and "tenure_days" in values:
        return not recency_measured(values, column)
    return False


def signals_holding(values: pd.DataFrame, rules: list[SignalRule]) -> dict[str, np.ndarray]:
    """Per rule, whether it holds for each row of ``values``. A rule on a feature the export
    does not have (no NPS table, say) or does not measure (``unmeasured_signals``) holds for
    nobody."""
    unmeasured = set(unmeasured_signals(values, rules))
    return {rule.name: (np.zeros(len(values), dtype=bool) if rule.name in unmeasured
                        else within_bounds(values, rule.when)) for rule in rules}


def message_fields(rule: SignalRule) -> set[str]:
    """The columns the rule's message names (none when the message is not a valid format
    string: ``signal_message`` then falls back to the rule's name)."""
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(rule.message) if field]
    except ValueError:
        return set()
    return {re.split(r"[.\[]", field)[0] for field in fields}


def signal_message(rule: SignalRule, row: dict) -> str:
    """The rule's message for one account; the plain rule name if a value is missing."""
    try:
        return rule.message.format(**row)
    except (KeyError, ValueError, TypeError):
        return f"{row.get('account_id', '')}: {rule.name.replace('_', ' ')}"
