"""A second demo export of another shape: a team-messaging product with a year of history.

Its event names (``message_sent``, ``call_started``, ``notification_muted``, ...) are not
the first demo's, its ``segment`` column holds acquisition channels (``web``,
``appstore``, ``partner``, ``outbound``), plans are billed quarterly, semiannually or
yearly, and churn follows behaviour that the project's fixed usage features do not name:
a team that is drifting away keeps chatting, but stops calling and inviting, mutes
notifications and exports its workspace before the renewal it will not take. Teams differ
widely in how much they use each feature, so a level alone says little; the change
against the team's own past says more.

It exists to check that the product learns a product it was not written for; nothing in
``features/`` or ``models/`` refers to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

#: Per active user and day: mean events of each name for an engaged team.
EVENT_RATES = {"message_sent": 9.0, "reaction_added": 3.0, "file_shared": 0.6,
               "call_started": 0.5, "search_performed": 0.8, "channel_created": 0.05,
               "invite_sent": 0.04, "notification_muted": 0.05, "workspace_exported": 0.004}
#: How a drifting team's rates change once drift has fully set in (multipliers).
DRIFT_EFFECTS = {"message_sent": 0.85, "reaction_added": 0.7, "call_started": 0.25,
                 "invite_sent": 0.05, "channel_created": 0.4, "notification_muted": 4.0,
                 "workspace_exported": 10.0}
CHANNELS = ("web", "appstore", "partner", "outbound")
CHANNEL_SHARES = (0.45, 0.3, 0.15, 0.1)
PLANS = {"team": 6.0, "pro": 11.0, "business": 19.0}  # per seat per month
TERMS = {"quarterly": 3, "semiannual": 6, "annual": 12}
TERM_SHARES = (0.5, 0.35, 0.15)
#: Log-odds of not renewing at a term end, and what adds to them.
BASE_LOG_ODDS = -3.2
DRIFT_LOG_ODDS = 3.4  # drifting for 45+ days before the renewal
PARTIAL_DRIFT_LOG_ODDS = 1.6  # drifting, but for less
DRIFT_SHARE = 0.35  # of teams start drifting at some point of the year
DRIFT_RAMP_DAYS = 45


@dataclass(frozen=True)
class MessagingDemoConfig:
    """What to generate; ``end_date`` is the last day with data (inclusive)."""

    accounts: int = 800
    months: int = 12
    seed: int = 11
    end_date: date = date(2026, 10, 31)


def generate(config: MessagingDemoConfig) -> dict[str, pd.DataFrame]:
    """accounts, subscriptions and events (per user, day and event name, with
    ``event_count``) of the messaging product."""
    rng = np.random.default_rng(config.seed)
    n = config.accounts
    end = pd.Timestamp(config.end_date)
    start = end - pd.DateOffset(months=config.months) + pd.Timedelta(days=1)
    days = pd.date_range(start, end, freq="D")
    ids = np.array([f"team-{i:05d}" for i in range(n)])

    # signups: most teams are older than the export, the rest join during it
    joined_before = rng.random(n) < 0.65
    signup_offset = np.where(joined_before, -rng.integers(30, 700, n),
                             rng.integers(0, len(days) - 60, n))
    signup = start + pd.to_timedelta(signup_offset, unit="D")
    seats = np.clip(np.round(rng.lognormal(2.0, 0.7, n)), 2, 150).astype(int)
    plan = rng.choice(list(PLANS), n, p=(0.5, 0.35, 0.15))
    term = rng.choice(list(TERMS), n, p=TERM_SHARES)
    channel = rng.choice(CHANNELS, n, p=CHANNEL_SHARES)
    # teams differ in how much they use each feature (a level alone says little)
    style = rng.lognormal(0.0, 0.9, (n, len(EVENT_RATES)))
    usage = rng.lognormal(0.0, 0.5, n)  # overall activity
    active_share = rng.beta(5, 3, n)  # users active on a given workday
    drift_start = np.where(rng.random(n) < DRIFT_SHARE,
                           rng.integers(-30, len(days), n), 10**6)

    churn_day = _churn_days(rng, signup, term, drift_start, start, len(days))
    subscriptions = _subscriptions(ids, signup, plan, term, seats, churn_day, start, end)
    events = _events(rng, ids, seats, style, usage, active_share, drift_start, signup,
                     churn_day, start, days)
    accounts = pd.DataFrame({
        "account_id": ids, "segment": channel,
        "signup_date": signup.strftime("%Y-%m-%d"),
        "csm_owner": rng.choice(["ana", "bo", "chen", "dev"], n)})
    return {"accounts": accounts, "subscriptions": subscriptions, "events": events}


def _churn_days(rng, signup, term, drift_start, start, n_days) -> np.ndarray:
    """Day (from ``start``) each team leaves at a term end, or a large number for never."""
    months = np.array([TERMS[t] for t in term])
    churn = np.full(len(signup), 10**6)
    for k in range(1, 60):
        renewal = (pd.DatetimeIndex(signup).to_numpy().astype("datetime64[M]")
                   + (k * months).astype("timedelta64[M]"))
        day_of_month = pd.DatetimeIndex(signup).day.to_numpy() - 1
        renewal_day = ((renewal.astype("datetime64[D]") + day_of_month.astype("timedelta64[D]")
                        - np.datetime64(start.date())).astype(int))
        due = (renewal_day >= 0) & (renewal_day < n_days) & (churn == 10**6)
        drifting_for = renewal_day - drift_start
        log_odds = (BASE_LOG_ODDS + np.where(drifting_for >= DRIFT_RAMP_DAYS, DRIFT_LOG_ODDS,
                                             np.where(drifting_for > 0,
                                                      PARTIAL_DRIFT_LOG_ODDS, 0.0)))
        leaves = due & (rng.random(len(signup)) < 1 / (1 + np.exp(-log_odds)))
        churn = np.where(leaves, renewal_day, churn)
    return churn


def _subscriptions(ids, signup, plan, term, seats, churn_day, start, end) -> pd.DataFrame:
    """One subscription per team: from signup to its churn day (open while a customer)."""
    churned = churn_day < 10**6
    end_date = pd.Series(start + pd.to_timedelta(np.where(churned, churn_day, 0), unit="D"))
    return pd.DataFrame({
        "subscription_id": [f"sub-{i}" for i in ids], "account_id": ids, "plan": plan,
        "mrr": [round(PLANS[p] * s, 2) for p, s in zip(plan, seats, strict=True)],
        "currency": "USD", "start_date": pd.DatetimeIndex(signup).strftime("%Y-%m-%d"),
        "end_date": end_date.dt.strftime("%Y-%m-%d").where(churned, None),
        "billing_period": term, "seats": seats,
        "status": np.where(churned, "cancelled", "active"), "cancel_reason": None})


def _events(rng, ids, seats, style, usage, active_share, drift_start, signup, churn_day,
            start, days) -> pd.DataFrame:
    """Per user, day and event name: how many events, for the days a team is a customer."""
    names = list(EVENT_RATES)
    base = np.array(list(EVENT_RATES.values()))
    effect = np.array([DRIFT_EFFECTS.get(name, 1.0) for name in names])
    signup_day = (pd.DatetimeIndex(signup) - start).days.to_numpy()
    frames = []
    weekday = days.dayofweek.to_numpy() < 5
    for a in range(len(ids)):
        first, last = max(signup_day[a], 0), min(churn_day[a], len(days))
        if first >= last:
            continue
        span = np.arange(first, last)
        users = seats[a]
        ramp = np.clip((span - drift_start[a]) / DRIFT_RAMP_DAYS, 0, 1)[:, None]
        rate = base * style[a] * usage[a] * (1 + ramp * (effect - 1))  # (days, names)
        share = active_share[a] * np.where(weekday[span], 1.0, 0.25)
        # a drifting team keeps most of its users: active users fall only a little
        share = share * (1 - 0.15 * ramp[:, 0])
        active = rng.random((len(span), users)) < share[:, None]
        day_index, user = np.nonzero(active)
        counts = rng.poisson(rate[day_index] * rng.gamma(2.0, 0.5, (len(day_index), 1)))
        row, name = np.nonzero(counts)
        frames.append(pd.DataFrame({
            "account_id": ids[a], "user_id": [f"{ids[a]}-u{u}" for u in user[row]],
            "day": span[day_index[row]], "event_name": np.array(names)[name],
            "event_count": counts[row, name]}))
    events = pd.concat(frames, ignore_index=True)
    seconds = rng.integers(8 * 3600, 20 * 3600, len(events))
    events["event_time"] = (start + pd.to_timedelta(events.pop("day"), unit="D")
                            + pd.to_timedelta(seconds, unit="s")).dt.tz_localize("UTC")
    events.insert(0, "event_id", [f"ev-{i}" for i in range(len(events))])
    return events[["event_id", "account_id", "user_id", "event_time", "event_name",
                   "event_count"]]


def generate_to_dir(data_dir: Path, config: MessagingDemoConfig) -> dict[str, int]:
    """Write the export (events as Parquet, the rest as CSV) and what was planted."""
    tables = generate(config)
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if name == "events":
            frame.to_parquet(data_dir / "events.parquet", index=False)
        else:
            frame.to_csv(data_dir / f"{name}.csv", index=False)
    (data_dir / "planted_drivers.json").write_text(json.dumps({
        "product": "team messaging", "seed": config.seed,
        "base_log_odds_per_renewal": BASE_LOG_ODDS, "drift_log_odds": DRIFT_LOG_ODDS,
        "partial_drift_log_odds": PARTIAL_DRIFT_LOG_ODDS, "drift_share": DRIFT_SHARE,
        "drift_effects_on_event_rates": DRIFT_EFFECTS}, indent=2))
    return {name: len(frame) for name, frame in tables.items()}
