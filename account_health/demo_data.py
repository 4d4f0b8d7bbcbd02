"""Seeded generator of realistic SaaS exports that follow docs/data-contract.md.

Churn is drawn from a hidden hazard evaluated at each renewal date. The hazard depends on
planted drivers (usage decline, shallow core-feature adoption, unresolved high-priority
tickets, detractor NPS, failed payments) plus noise, so a good model can learn it but not
perfectly. The drivers and their coefficients are written to ``planted_drivers.json`` so
tests can check that models recover them.

Expansion (more seats at a renewal) is drawn from planted drivers too — deep core-feature
adoption, an engaged team, no usage decline — recorded beside the churn drivers.

Customer-success interventions are planted too: a usage decline is flagged a few weeks after
it starts, a random ``holdout_share`` of flagged accounts is left alone (the control group),
and the others get outreach whose true effect lowers the churn log-odds at their renewals.
Their draws come from a separate random stream, so the rest of the data changes only where an
intervention changed an account's fate. The expected uplift (the drop in the chance of churn
within the outcome window, averaged over flagged accounts) is recorded beside the drivers.

Routine CSM touches (check-ins, calls, QBRs, executive meetings) follow each covered
account's segment cadence, on a stream of their own; customers take fewer of them while
their usage declines and in the two months before they leave.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

CORE_FEATURES = ("dashboards", "reports", "automations", "integrations", "alerts", "exports")
SECONDARY_FEATURES = ("settings_viewed", "help_opened", "profile_updated", "search")
EVENT_NAMES = ("login", *CORE_FEATURES, *SECONDARY_FEATURES, "error")
SEGMENTS = ("SMB", "mid-market", "enterprise")
SEGMENT_SHARES = (0.6, 0.3, 0.1)
INDUSTRIES = ("software", "retail", "finance", "healthcare", "education", "manufacturing")
PLAN_PRICE_PER_SEAT = {"starter": 15.0, "growth": 30.0, "business": 55.0, "enterprise": 90.0}

# Log-odds contributions of the planted drivers to churn at a renewal date.
PLANTED_DRIVERS = {
    "usage_decline": {
        "coefficient": 1.6,
        "features": ["usage_velocity_30d", "active_users_mom_change", "active_users_30d",
                     "days_since_last_login", "active_users_per_seat"],
    },
    "shallow_core_adoption": {
        "coefficient": 1.2,
        "features": ["core_feature_breadth_30d", "core_events_per_active_user_30d"],
    },
    "unresolved_high_priority_tickets": {
        "coefficient": 0.9,
        "features": ["open_high_priority_tickets", "open_tickets"],
    },
    "detractor_nps": {"coefficient": 1.0, "features": ["nps_latest", "nps_trend"]},
    "failed_payments": {"coefficient": 1.1, "features": ["failed_payments_90d",
                                                         "late_payments_90d"]},
    "approaching_renewal": {
        "coefficient": None,
        "features": ["days_to_renewal"],
        "note": "churn can only happen at a renewal date",
    },
}
BASE_LOG_ODDS = {"monthly": -4.6, "annual": -2.3}
# Log-odds contributions to buying more seats at a renewal the account stays through: teams
# that use the core features deeply and that are engaged grow; a declining one does not.
PLANTED_EXPANSION_DRIVERS = {
    "deep_core_adoption": {
        "coefficient": 1.5,
        "features": ["core_feature_breadth_30d", "core_events_per_active_user_30d"],
        "note": "hidden core-feature adoption above 0.65",
    },
    "engaged_team": {
        "coefficient": 1.0,
        "features": ["active_users_per_seat", "dau_mau_ratio", "active_users_30d",
                     "events_per_active_user_30d", "events_30d", "active_users_7d",
                     "events_7d"],
        "note": "hidden engagement above 0.5",
    },
    "usage_decline": {
        "coefficient": -2.0,
        "features": ["usage_velocity_30d", "active_users_mom_change", "days_since_last_login"],
    },
}
EXPANSION_BASE_LOG_ODDS = -4.2
# The planted interventions: flag lag after a decline starts, days from flag to first action,
# the true effect on churn log-odds at renewals after the first action, and the window over
# which the expected uplift (churn within the window after the flag) is recorded.
PLANTED_INTERVENTIONS = {
    "flag_lag_days": [10, 35],
    "first_action_within_days": 7,
    "log_odds_effect": -1.2,
    "effect_days": 180,
    "outcome_window_days": 90,
}
# Action types of the planted outreach: the playbook's rule names.
OUTREACH_ACTIONS = ("health_check", "re_onboarding", "renewal_rescue", "executive_sponsor_call",
                    "support_escalation")
# Routine customer-success cadence per segment (SMB, mid-market, enterprise): the share of
# accounts with a CSM and the days between touches. A touch happens only when the customer
# takes it, less often while usage declines and in the weeks before a churn (the champion
# stops answering); every third touch of a larger account is a QBR, every sixth of an
# enterprise one meets its executives.
ROUTINE_TOUCHES = {"covered_share": (0.3, 0.8, 1.0), "cadence_days": (60, 30, 14),
                   "fading_days_before_churn": 60}
#: Bumped whenever the same configuration would generate different data, so a demo
#: directory written by an older generator is regenerated rather than reused.
GENERATOR_VERSION = 4
NEVER = 50_000  # day index standing for "never happens" (stays within datetime64[ns])


@dataclass(frozen=True)
class DemoConfig:
    """What to generate. ``end_date`` is the last day with data (inclusive)."""

    accounts: int = 2000
    months: int = 18
    seed: int = 7
    end_date: date = date(2026, 10, 31)
    dirty_fraction: float = 0.0005
    #: Number of the first account; a chunk of a larger population (account_health.demo_stream)
    #: starts after the previous chunk's accounts and draws from its own random stream.
    account_offset: int = 0
    #: Share of flagged accounts left without outreach (the playbook's control group).
    holdout_share: float = 0.1

    def rng(self) -> np.random.Generator:
        """The random stream of this configuration (of this chunk, when offset)."""
        return np.random.default_rng(
            [self.seed, self.account_offset] if self.account_offset else self.seed)

    def intervention_rng(self) -> np.random.Generator:
        """The separate random stream of the planted interventions."""
        return np.random.default_rng([self.seed, self.account_offset, 1])

    def routine_touch_rng(self) -> np.random.Generator:
        """The separate random stream of the routine CSM touches."""
        return np.random.default_rng([self.seed, self.account_offset, 2])

    def id_tag(self) -> str:
        """Prefix that keeps record ids of different chunks apart (empty for the first)."""
        return f"{self.account_offset}_" if self.account_offset else ""


def _month_starts(start: date, end: date) -> list[date]:
    return [d.date() for d in pd.date_range(start, end, freq="MS")]


def generate(config: DemoConfig) -> dict[str, pd.DataFrame]:
    """Generate the six contract tables as DataFrames keyed by table name."""
    rng = config.rng()
    tag = config.id_tag()
    end = pd.Timestamp(config.end_date)
    window_start = (end - pd.DateOffset(months=config.months) + pd.Timedelta(days=1)).normalize()
    n = config.accounts
    n_days = (end - window_start).days + 1

    account_ids = np.array([f"acc_{config.account_offset + i:06d}" for i in range(n)])
    segment_idx = rng.choice(3, size=n, p=SEGMENT_SHARES)
    segment = np.array(SEGMENTS)[segment_idx]
    # Accounts sign up from a year before the window until a month before its end.
    signup_offset = rng.integers(-365, n_days - 30, size=n)
    signup = window_start + pd.to_timedelta(signup_offset, unit="D")
    typical_seats = np.log([3, 12, 45])[segment_idx]
    seats = np.maximum(1, np.round(rng.lognormal(typical_seats, 0.5))).astype(int)
    plan = np.where(
        segment_idx == 2, "enterprise",
        np.where(segment_idx == 1, rng.choice(["growth", "business"], size=n, p=[0.6, 0.4]),
                 rng.choice(["starter", "growth"], size=n, p=[0.7, 0.3])),
    )
    annual = rng.random(n) < np.array([0.2, 0.5, 0.85])[segment_idx]
    billing_period = np.where(annual, "annual", "monthly")

    # Hidden account traits.
    engagement = rng.normal(0, 1, n)
    adoption = np.clip(rng.beta(2.5, 2.0, n) + 0.1 * engagement, 0.05, 1.0)
    ticket_rate = rng.gamma(1.5, 0.4, n) * np.array([0.6, 1.0, 1.8])[segment_idx]  # per month
    payment_risk = np.clip(rng.beta(1, 25, n) * (1 + (segment_idx == 0)), 0, 0.5)
    # A third of accounts suffer a usage decline starting at a random day.
    decline_start = np.where(rng.random(n) < 0.35,
                             rng.integers(-60, n_days, size=n), NEVER)
    interventions = InterventionPlan.draw(config, decline_start, signup_offset, n_days)

    # --- month-by-month simulation of subscriptions, tickets, NPS, invoices and churn ---
    day_of = lambda ts: (ts - window_start).days  # noqa: E731
    churn_day = np.full(n, NEVER)
    sub_rows: list[dict] = []
    current_start = pd.Series(signup).to_numpy().copy()
    current_seats = seats.copy()
    current_plan = plan.copy()
    open_sub_id = np.array([f"sub_{tag}{i:07d}" for i in range(n)], dtype=object)
    sub_counter = n

    tickets: list[pd.DataFrame] = []
    nps: list[pd.DataFrame] = []
    invoices: list[pd.DataFrame] = []
    failed_recent: list[np.ndarray] = []
    latest_nps = np.full(n, np.nan)

    first_month = (signup.min() + pd.offsets.MonthBegin(0)).normalize()
    months = _month_starts(first_month.date(), end.date())
    for m_start in months:
        m_start = pd.Timestamp(m_start)
        m_day = day_of(m_start)
        alive = (signup <= m_start) & (churn_day > m_day)
        if not alive.any():
            continue
        idx = np.flatnonzero(alive)
        declining = decline_start[idx] <= m_day
        health = engagement[idx] - 1.2 * declining + 1.5 * (adoption[idx] - 0.5)

        # Support tickets: more when unhealthy; high-priority ones can stay open for weeks.
        n_t = rng.poisson(ticket_rate[idx] * (1 + 0.6 * (health < -0.5)))
        t_acc = np.repeat(idx, n_t)
        if t_acc.size:
            opened = m_start + pd.to_timedelta(rng.integers(0, 28 * 86400, t_acc.size), unit="s")
            high = rng.random(t_acc.size) < 0.12 + 0.15 * (engagement[t_acc] < -0.5)
            resolve_days = np.where(high, rng.exponential(18, t_acc.size),
                                    rng.exponential(3, t_acc.size))
            closed = opened + pd.to_timedelta(resolve_days * 86400, unit="s")
            priority = np.where(high, rng.choice(["high", "urgent"], t_acc.size, p=[0.7, 0.3]),
                                rng.choice(["low", "normal"], t_acc.size, p=[0.4, 0.6]))
            csat = np.clip(np.round(3.8 + 0.5 * engagement[t_acc] - 1.0 * high
                                    + rng.normal(0, 0.8, t_acc.size)), 1, 5)
            tickets.append(pd.DataFrame({
                "account_id": account_ids[t_acc], "opened_at": opened, "closed_at": closed,
                "priority": priority, "csat": csat, "_open_days": resolve_days,
            }))

        # Quarterly NPS survey, answered by some users.
        if m_start.month % 3 == 1:
            responders = idx[rng.random(idx.size) < 0.35]
            if responders.size:
                h = (engagement[responders] - 1.5 * (decline_start[responders] <= m_day)
                     + 1.2 * (adoption[responders] - 0.5))
                score = np.clip(np.round(7.5 + 1.6 * h + rng.normal(0, 1.5, responders.size)),
                                0, 10).astype(int)
                latest_nps[responders] = score
                nps.append(pd.DataFrame({
                    "account_id": account_ids[responders],
                    "user_id": [f"{a}_u{rng.integers(0, 3)}" for a in account_ids[responders]],
                    "responded_at": m_start + pd.to_timedelta(
                        rng.integers(86400, 20 * 86400, responders.size), unit="s"),
                    "score": score,
                }))

        # Monthly invoices (annual accounts are invoiced in their anniversary month).
        anniversary = (m_start.month == signup[idx].month)
        billed = idx[(billing_period[idx] == "monthly") | anniversary]
        if billed.size:
            issued = m_start + pd.to_timedelta(rng.integers(0, 3 * 86400, billed.size), unit="s")
            due = issued + pd.Timedelta(days=14)
            fail_p = payment_risk[billed] * (1 + 2 * (decline_start[billed] <= m_day))
            failed = rng.random(billed.size) < fail_p
            late = ~failed & (rng.random(billed.size) < 2 * payment_risk[billed])
            pay_delay = np.where(late, rng.uniform(15, 45, billed.size),
                                 rng.uniform(0, 12, billed.size))
            paid_at = (issued + pd.to_timedelta(pay_delay * 86400, unit="s")).to_series()
            paid_at = paid_at.where(~failed).to_numpy()
            periods = np.where(billing_period[billed] == "annual", 12, 1)
            price = np.vectorize(PLAN_PRICE_PER_SEAT.get)(current_plan[billed])
            invoices.append(pd.DataFrame({
                "account_id": account_ids[billed], "issued_at": issued, "due_at": due,
                "paid_at": paid_at,
                "amount": np.round(current_seats[billed] * periods * price, 2),
                "status": np.where(failed, "failed", "paid"),
            }))
            failed_recent.append(np.column_stack([billed, np.full(billed.size, m_day), failed]))

        # Renewal decisions on each term's anniversary (monthly: every month, annual: yearly).
        cs = pd.DatetimeIndex(current_start[idx])
        months_since = (m_start.year - cs.year) * 12 + m_start.month - cs.month
        renewing = (months_since > 0) & (
            (billing_period[idx] == "monthly") | (months_since % 12 == 0))
        renewal_date = _add_months(cs[renewing], months_since[renewing])
        happened = renewal_date <= end
        r_idx, renewal_date = idx[renewing][happened], renewal_date[happened]
        if r_idx.size:
            r_day = (renewal_date - window_start).days.to_numpy()
            logit = _renewal_log_odds(r_idx, r_day, billing_period, decline_start, adoption,
                                      latest_nps, engagement, tickets, failed_recent,
                                      account_ids, window_start)
            draw = rng.random(r_idx.size)
            logit = logit + rng.normal(0, 0.5, r_idx.size)
            churns = draw < _sigmoid(logit + interventions.effect(r_idx, r_day, treated=True))
            interventions.record_renewals(r_idx, r_day, logit, churns,
                                          billing_period[r_idx] == "monthly")
            churn_day[r_idx[churns]] = r_day[churns]
            reasons = rng.choice(["price", "missing features", "low usage",
                                  "switched competitor"], size=int(churns.sum()))
            for a, when, reason in zip(r_idx[churns], renewal_date[churns], reasons,
                                       strict=True):
                sub_rows.append(_sub_row(open_sub_id[a], account_ids[a], current_plan[a],
                                         current_seats[a], billing_period[a], current_start[a],
                                         when, "canceled", reason))
            # Survivors may move seats: growth when healthy, contraction when not.
            keep, keep_date = r_idx[~churns], renewal_date[~churns]
            move = rng.random(keep.size)
            declining = decline_start[keep] <= r_day[~churns]
            h_keep = engagement[keep] - 1.2 * declining
            grows = move < _sigmoid(_expansion_log_odds(adoption[keep], engagement[keep],
                                                        declining))
            for i in np.flatnonzero(grows | ((move > 0.96) & (h_keep < 0))):
                a, upgrade = keep[i], bool(grows[i])
                new_seats = max(1, int(round(current_seats[a] * (1.25 if upgrade else 0.8))))
                if upgrade and new_seats == current_seats[a]:
                    new_seats += 1
                if new_seats == current_seats[a]:
                    continue
                sub_rows.append(_sub_row(open_sub_id[a], account_ids[a], current_plan[a],
                                         current_seats[a], billing_period[a], current_start[a],
                                         keep_date[i], "upgraded" if upgrade else "downgraded",
                                         ""))
                open_sub_id[a] = f"sub_{tag}{sub_counter:07d}"
                sub_counter += 1
                current_seats[a] = new_seats
                current_start[a] = keep_date[i]

    for a in np.flatnonzero(churn_day == NEVER):
        sub_rows.append(_sub_row(open_sub_id[a], account_ids[a], current_plan[a],
                                 current_seats[a], billing_period[a], current_start[a],
                                 None, "active", ""))
    subscriptions = pd.DataFrame(sub_rows).sort_values(["account_id", "start_date"])
    subscriptions = subscriptions.reset_index(drop=True)

    events = _generate_events(rng, account_ids, signup, seats, engagement, adoption,
                              decline_start, churn_day, window_start, n_days, tag)

    accounts = pd.DataFrame({
        "account_id": account_ids, "segment": segment,
        "industry": rng.choice(INDUSTRIES, size=n),
        "signup_date": signup.strftime("%Y-%m-%d"),
        "csm_owner": rng.choice(["ana", "bo", "chen", "dara", "eli"], size=n),
    })
    flagged = interventions.activities(accounts, churn_day, window_start, end, tag)
    routine = _routine_touches(config.routine_touch_rng(), accounts, segment_idx, signup_offset,
                               engagement, decline_start, churn_day, window_start, n_days, tag)
    cs_activities = pd.concat([flagged, routine], ignore_index=True).sort_values(
        "performed_at", kind="stable", ignore_index=True)
    cs_activities.attrs = flagged.attrs
    ticket_df = pd.concat(tickets, ignore_index=True)
    ticket_df = ticket_df[ticket_df["opened_at"] <= end].copy()
    still_open = ticket_df["closed_at"] > end
    ticket_df["closed_at"] = ticket_df["closed_at"].astype(object).where(~still_open, None)
    ticket_df.insert(0, "ticket_id", [f"tkt_{tag}{i:07d}" for i in range(len(ticket_df))])
    ticket_df = ticket_df.drop(columns="_open_days")
    ticket_df = _keep_before_churn(ticket_df, "opened_at", account_ids, churn_day, window_start)

    nps_df = pd.concat(nps, ignore_index=True)
    nps_df = nps_df[nps_df["responded_at"] <= end]
    nps_df = _keep_before_churn(nps_df, "responded_at", account_ids, churn_day, window_start)

    inv = pd.concat(invoices, ignore_index=True)
    inv = inv[inv["issued_at"] <= end].copy()
    inv["paid_at"] = pd.to_datetime(inv["paid_at"])
    inv.loc[inv["paid_at"] > end, ["paid_at"]] = pd.NaT
    inv.loc[inv["paid_at"].isna() & (inv["status"] == "paid"), "status"] = "open"
    inv.insert(0, "invoice_id", [f"inv_{tag}{i:07d}" for i in range(len(inv))])

    tables = {
        "accounts": accounts,
        "subscriptions": subscriptions,
        "events": events,
        "invoices": inv.reset_index(drop=True),
        "support_tickets": ticket_df.reset_index(drop=True),
        "nps_responses": nps_df.reset_index(drop=True),
        "cs_activities": cs_activities,
    }
    for name, table in tables.items():
        for col in table.columns:
            if name == "events":
                continue  # typed UTC timestamps in Parquet, as analytics exports deliver
            if pd.api.types.is_datetime64_any_dtype(table[col]):
                table[col] = table[col].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if config.dirty_fraction > 0:
        _add_dirty_rows(tables, rng, config.dirty_fraction)
    return tables


def _sigmoid(logit: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-logit))


def _expansion_log_odds(adoption: np.ndarray, engagement: np.ndarray,
                        declining: np.ndarray) -> np.ndarray:
    """The hidden log-odds of buying more seats at a renewal: the planted expansion drivers."""
    drivers = PLANTED_EXPANSION_DRIVERS
    return (EXPANSION_BASE_LOG_ODDS
            + drivers["deep_core_adoption"]["coefficient"] * (adoption > 0.65)
            + drivers["engaged_team"]["coefficient"] * (engagement > 0.5)
            + drivers["usage_decline"]["coefficient"] * declining)


class InterventionPlan:
    """Who is flagged when, who is held out, when outreach starts, and what it would do.

    Besides planting the effect, it follows both potential outcomes of every flagged account:
    the chance of churning within the outcome window after the flag with and without
    outreach, from the same renewal draws, so the true uplift can be recorded.
    """

    def __init__(self, flag_day, holdout, first_action_day, follow_up_days, action_pick,
                 flag_second, holdout_share: float, n_days: int) -> None:
        self.flag_day = flag_day
        self.holdout = holdout
        self.first_action_day = first_action_day
        self.follow_up_days = follow_up_days
        self.action_pick = action_pick
        self.flag_second = flag_second
        self.holdout_share = holdout_share
        self.n_days = n_days
        self.log_survival = {"control": np.zeros(flag_day.size),
                             "treated": np.zeros(flag_day.size)}

    @classmethod
    def draw(cls, config: DemoConfig, decline_start: np.ndarray, signup_day: np.ndarray,
             n_days: int) -> InterventionPlan:
        rng = config.intervention_rng()
        n = decline_start.size
        lag_low, lag_high = PLANTED_INTERVENTIONS["flag_lag_days"]
        flag_day = decline_start + rng.integers(lag_low, lag_high + 1, n)
        # flagged inside the window, on an account with a month of history behind it
        flagged = ((decline_start < NEVER) & (flag_day >= 0) & (flag_day >= signup_day + 30)
                   & (flag_day < n_days))
        flag_day = np.where(flagged, flag_day, NEVER)
        delay = rng.integers(0, PLANTED_INTERVENTIONS["first_action_within_days"] + 1, n)
        follow_ups = np.cumsum(rng.integers(7, 31, (n, 2)), axis=1)
        follow_ups = np.where(rng.random((n, 2)) < [0.6, 0.3], follow_ups, NEVER)
        return cls(flag_day=flag_day, holdout=rng.random(n) < config.holdout_share,
                   first_action_day=flag_day + delay,
                   follow_up_days=follow_ups + (flag_day + delay)[:, None],
                   action_pick=rng.integers(0, len(OUTREACH_ACTIONS), (n, 3)),
                   flag_second=rng.integers(8 * 3600, 18 * 3600, n),
                   holdout_share=config.holdout_share, n_days=n_days)

    def effect(self, accounts: np.ndarray, day: np.ndarray, *, treated: bool) -> np.ndarray:
        """Change of churn log-odds at a renewal on ``day``: the planted effect while the
        outreach works (for accounts outside the holdout, or for all with ``treated``
        False standing for "had they been treated")."""
        start = self.first_action_day[accounts]
        working = (day >= start) & (day < start + PLANTED_INTERVENTIONS["effect_days"])
        if treated:
            working &= ~self.holdout[accounts]
        return PLANTED_INTERVENTIONS["log_odds_effect"] * working

    def record_renewals(self, accounts: np.ndarray, day: np.ndarray, logit: np.ndarray,
                        churned: np.ndarray, monthly: np.ndarray) -> None:
        """Add each flagged account's renewal to both potential outcomes. After a churn,
        the monthly renewals left in the window are counted at the same log-odds (the
        account's state then is the best guess of its state a month or two later)."""
        window = PLANTED_INTERVENTIONS["outcome_window_days"]
        flag = self.flag_day[accounts]
        for months_later in range(4):
            renewal = day + int(round(30.4375 * months_later))
            counts = (renewal > flag) & (renewal <= flag + window)
            if months_later:
                counts &= churned & monthly
            if not counts.any():
                continue
            who, at, odds = accounts[counts], renewal[counts], logit[counts]
            np.add.at(self.log_survival["control"], who, np.log1p(-_sigmoid(odds)))
            np.add.at(self.log_survival["treated"], who, np.log1p(-_sigmoid(
                odds + self.effect(who, at, treated=False))))

    def expected_uplift(self, churn_day: np.ndarray) -> dict:
        """The planted truth over flagged accounts whose outcome window closed by the end:
        the chance of churn within the window without outreach minus with it."""
        window = PLANTED_INTERVENTIONS["outcome_window_days"]
        episodes = self._episodes(churn_day) & (self.flag_day + window < self.n_days)
        if not episodes.any():
            return {"episodes": 0}
        churn = {arm: 1 - np.exp(self.log_survival[arm][episodes]) for arm in self.log_survival}
        return {"episodes": int(episodes.sum()),
                "churn_rate_without_outreach": float(churn["control"].mean()),
                "churn_rate_with_outreach": float(churn["treated"].mean()),
                "uplift": float((churn["control"] - churn["treated"]).mean())}

    def _episodes(self, churn_day: np.ndarray) -> np.ndarray:
        # an account still active at the end of its flag day
        return (self.flag_day < NEVER) & (churn_day > self.flag_day)

    def activities(self, accounts: pd.DataFrame, churn_day: np.ndarray,
                   window_start: pd.Timestamp, end: pd.Timestamp, tag: str) -> pd.DataFrame:
        """The ``cs_activities`` export: a holdout row per held-out episode, the outreach of
        the others (the first attempt even when the account has just left, later follow-ups
        only while it is a customer), each tied to its flag by ``flagged_at``."""
        who = np.flatnonzero(self._episodes(churn_day))
        flagged_at = (window_start + pd.to_timedelta(self.flag_day[who], unit="D")
                      + pd.to_timedelta(self.flag_second[who], unit="s"))
        owner = accounts["csm_owner"].to_numpy()
        account_id = accounts["account_id"].to_numpy()
        rows = [pd.DataFrame({"account": who, "day": self.flag_day[who],
                              "action_type": "holdout", "flagged_at": flagged_at,
                              "keep": self.holdout[who], "follow_up": False})]
        steps = [self.first_action_day[who], *self.follow_up_days[who].T]
        for step, action_day in enumerate(steps):
            rows.append(pd.DataFrame({
                "account": who, "day": action_day,
                "action_type": np.array(OUTREACH_ACTIONS)[self.action_pick[who, step]],
                "flagged_at": flagged_at, "follow_up": step > 0,
                "keep": ~self.holdout[who] & ((step == 0) | (action_day < churn_day[who])),
            }))
        table = pd.concat(rows, ignore_index=True)
        table = table[table["keep"] & (table["day"] < NEVER)]
        # outreach at 10:00 on its day, or an hour after a flag raised later that day
        outreach = np.maximum(
            window_start + pd.to_timedelta(table["day"], unit="D") + pd.Timedelta(hours=10),
            table["flagged_at"] + pd.Timedelta(hours=1))
        performed = np.where(table["action_type"] == "holdout", table["flagged_at"], outreach)
        table = table.assign(performed_at=pd.to_datetime(performed))
        table = table[table["performed_at"] <= end].sort_values(
            ["performed_at", "account"], kind="stable")
        reached = table["day"].to_numpy() < churn_day[table["account"].to_numpy()]
        out = pd.DataFrame({
            "activity_id": [f"act_{tag}{i:07d}" for i in range(len(table))],
            "account_id": account_id[table["account"]],
            "performed_at": table["performed_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
            "action_type": table["action_type"].to_numpy(),
            "owner": owner[table["account"]],
            "outcome": np.where(table["action_type"] == "holdout", None,
                                np.where(reached, "completed", "no_response")),
            "flagged_at": table["flagged_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
        })
        out.attrs["planted_interventions"] = {
            **PLANTED_INTERVENTIONS, "holdout_share": self.holdout_share,
            **self.expected_uplift(churn_day)}
        return out


def _routine_touches(rng: np.random.Generator, accounts: pd.DataFrame, segment_idx: np.ndarray,
                     signup_offset: np.ndarray, engagement: np.ndarray,
                     decline_start: np.ndarray, churn_day: np.ndarray,
                     window_start: pd.Timestamp, n_days: int, tag: str) -> pd.DataFrame:
    """The routine ``cs_activities`` rows (no ``flagged_at``): each covered account's
    touches on its segment's cadence while it is a customer, those the customer takes."""
    covered = rng.random(len(accounts)) < np.array(ROUTINE_TOUCHES["covered_share"])[segment_idx]
    cadence = np.array(ROUTINE_TOUCHES["cadence_days"])[segment_idx]
    first = np.maximum(signup_offset, 0)
    last = np.minimum(churn_day - 1, n_days - 1)
    slots = np.where(covered, np.maximum(last - first, 0) // cadence, 0)
    account = np.repeat(np.arange(len(accounts)), slots)
    step = np.arange(len(account)) - np.repeat(np.cumsum(slots) - slots, slots)
    day = first[account] + step * cadence[account] + rng.integers(0, cadence[account])
    fading = churn_day[account] - day < ROUTINE_TOUCHES["fading_days_before_churn"]
    taken = rng.random(len(account)) < _sigmoid(
        1.5 + 0.8 * engagement[account] - 1.2 * (decline_start[account] <= day) - 1.2 * fading)
    keep = taken & (day <= last[account])
    account, day, step = account[keep], day[keep], step[keep]
    segment = segment_idx[account]
    action = np.where((segment == 2) & (step % 6 == 5), "executive_meeting",
                      np.where((segment > 0) & (step % 3 == 2), "qbr",
                               np.where(rng.random(len(account)) < 0.4, "call", "check_in")))
    performed = (window_start + pd.to_timedelta(day, unit="D") + pd.Timedelta(hours=9)
                 + pd.to_timedelta(rng.integers(0, 8 * 3600, len(account)), unit="s"))
    return pd.DataFrame({
        "activity_id": [f"act_{tag}r{i:07d}" for i in range(len(account))],
        "account_id": accounts["account_id"].to_numpy()[account],
        "performed_at": performed.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "action_type": action, "owner": accounts["csm_owner"].to_numpy()[account],
        "outcome": "completed", "flagged_at": None,
    })


def _add_months(dates: pd.DatetimeIndex, months: np.ndarray) -> pd.DatetimeIndex:
    """The same day of month ``months`` later, clipped to the end of shorter months."""
    month = dates.values.astype("datetime64[M]") + np.asarray(months).astype("timedelta64[M]")
    days_in_month = ((month + 1).astype("datetime64[D]")
                     - month.astype("datetime64[D]")).astype(int)
    day = np.minimum(dates.day.to_numpy(), days_in_month) - 1
    return pd.DatetimeIndex(month.astype("datetime64[D]") + day.astype("timedelta64[D]"))


def _renewal_log_odds(r_idx, r_day, billing_period, decline_start, adoption, latest_nps,
                      engagement, tickets, failed_recent, account_ids, window_start) -> np.ndarray:
    """The hidden churn hazard at each renewal: the planted drivers, as known on that day."""
    decline = (decline_start[r_idx] <= r_day - 20).astype(float)
    shallow = (adoption[r_idx] < 0.35).astype(float)
    unresolved = np.zeros(r_idx.size)
    if tickets:
        tk = pd.concat(tickets)
        tk_days = (tk["opened_at"] - window_start).dt.days.to_numpy()
        renewal_day = pd.Series(r_day, index=account_ids[r_idx])
        at = renewal_day.reindex(tk["account_id"]).to_numpy()
        open_high = (tk["priority"].isin(["high", "urgent"]).to_numpy() & (tk_days <= at)
                     & (tk_days + tk["_open_days"].to_numpy() > at))
        counts = pd.Series(open_high).groupby(tk["account_id"].to_numpy()).sum()
        unresolved = (counts.reindex(account_ids[r_idx]).fillna(0).to_numpy() > 0).astype(float)
    detractor = (latest_nps[r_idx] <= 6).astype(float)
    fails = np.zeros(r_idx.size)
    if failed_recent:
        fr = np.vstack(failed_recent)
        fr = fr[fr[:, 2] == 1]
        last_fail = pd.Series(fr[:, 1]).groupby(fr[:, 0]).max()
        recent = last_fail.reindex(r_idx).to_numpy()
        fails = (recent > r_day - 95).astype(float)
    drivers = PLANTED_DRIVERS
    return (np.array([BASE_LOG_ODDS[p] for p in billing_period[r_idx]])
            + drivers["usage_decline"]["coefficient"] * decline
            + drivers["shallow_core_adoption"]["coefficient"] * shallow
            + drivers["unresolved_high_priority_tickets"]["coefficient"] * unresolved
            + drivers["detractor_nps"]["coefficient"] * detractor
            + drivers["failed_payments"]["coefficient"] * fails
            - 0.3 * engagement[r_idx])


def _sub_row(sub_id, account_id, plan, seats, period, start, end, status, reason) -> dict:
    return {
        "subscription_id": sub_id, "account_id": account_id, "plan": plan,
        "mrr": round(seats * PLAN_PRICE_PER_SEAT[plan], 2), "currency": "USD",
        "start_date": pd.Timestamp(start).strftime("%Y-%m-%d"),
        "end_date": pd.Timestamp(end).strftime("%Y-%m-%d") if end is not None else None,
        "billing_period": period, "seats": int(seats), "status": status,
        "cancel_reason": reason or None,
    }


def _keep_before_churn(df, time_col, account_ids, churn_day, window_start) -> pd.DataFrame:
    churn = pd.Series(churn_day, index=account_ids)
    cutoff = window_start + pd.to_timedelta(
        churn.reindex(df["account_id"]).to_numpy(), unit="D")
    return df[df[time_col].to_numpy() < cutoff.to_numpy()]


def _generate_events(rng, account_ids, signup, seats, engagement, adoption, decline_start,
                     churn_day, window_start, n_days, tag: str = "") -> pd.DataFrame:
    """Daily events of individual users, vectorised over the user x day grid."""
    n = account_ids.size
    users_per_account = np.maximum(1, np.round(seats * rng.uniform(0.5, 1.0, n))).astype(int)
    user_account = np.repeat(np.arange(n), users_per_account)
    user_rank = np.concatenate([np.arange(k) for k in users_per_account])
    user_ids = np.char.add(np.char.add(account_ids[user_account], "_u"), user_rank.astype(str))
    user_propensity = np.clip(rng.beta(2, 3, user_account.size)
                              * np.exp(0.35 * engagement[user_account]), 0.02, 0.95)
    # Users join over the first weeks after signup (onboarding ramp).
    user_join = ((signup[user_account] - window_start).days.to_numpy()
                 + rng.exponential(10, user_account.size).astype(int))

    days = np.arange(n_days)
    weekday = (window_start.dayofweek + days) % 7
    weekday_factor = np.where(weekday >= 5, 0.25, 1.0)
    season = 1 - 0.15 * np.cos(2 * np.pi * (window_start.dayofyear + days - 15) / 365.25)
    daily_factor = weekday_factor * season

    chunks = []
    user_chunk = 20000  # bounded memory: users x days grid per chunk
    for lo in range(0, user_account.size, user_chunk):
        sl = slice(lo, lo + user_chunk)
        ua = user_account[sl]
        since_join = days[None, :] - user_join[sl][:, None]
        ramp = np.clip((since_join + 1) / 21, 0, 1)
        since_decline = days[None, :] - decline_start[ua][:, None]
        decline = np.exp(-np.clip(since_decline, 0, None) / 45.0)
        alive = days[None, :] < churn_day[ua][:, None]
        p = user_propensity[sl][:, None] * daily_factor[None, :] * ramp * decline
        active = alive & (since_join >= 0) & (rng.random(p.shape) < p)
        u_local, d = np.nonzero(active)
        chunks.append((u_local + lo, d))
    u = np.concatenate([c[0] for c in chunks])
    d = np.concatenate([c[1] for c in chunks])

    acc = user_account[u]
    n_core = rng.poisson(0.5 + 2.0 * adoption[acc])
    n_secondary = rng.poisson(0.3, u.size)
    n_errors = rng.binomial(1, 0.04 + 0.04 * (engagement[acc] < -1))
    n_core_features = np.maximum(1, np.round(adoption * len(CORE_FEATURES))).astype(int)

    kind_counts = np.column_stack([np.ones(u.size, int), n_core, n_secondary, n_errors])
    per_row = kind_counts.sum(axis=1)
    row_u = np.repeat(u, per_row)
    row_d = np.repeat(d, per_row)
    row_acc = user_account[row_u]
    kinds = np.repeat(np.tile(np.arange(4, dtype=np.int8), u.size), kind_counts.ravel())
    core_pick = (rng.random(row_u.size) * n_core_features[row_acc]).astype(np.int8)
    secondary_pick = rng.integers(0, len(SECONDARY_FEATURES), row_u.size).astype(np.int8)
    # Event names as codes into EVENT_NAMES (strings for 10^7 rows cost seconds).
    names = np.where(kinds == 0, 0, np.where(
        kinds == 1, 1 + core_pick, np.where(kinds == 2, 1 + len(CORE_FEATURES) + secondary_pick,
                                            len(EVENT_NAMES) - 1))).astype(np.int8)
    seconds = np.clip(rng.normal(14 * 3600, 3 * 3600, row_u.size), 0, 86399).astype(np.int64)
    # Logins come first in the user's day.
    seconds = np.where(kinds == 0, np.maximum(seconds - 3600, 0), seconds)
    # chronological, like an analytics export (a stable sort keeps ties in generation order)
    order = np.argsort(row_d.astype(np.int64) * 86400 + seconds, kind="stable")
    row_u, row_d, row_acc, seconds = row_u[order], row_d[order], row_acc[order], seconds[order]
    names = names[order]
    event_time = window_start.tz_localize("UTC") + pd.to_timedelta(
        row_d.astype(np.int64) * 86400 + seconds, unit="s")
    event_ids = pc.binary_join_element_wise(
        "evt_" + tag, pa.array(np.arange(row_u.size)).cast(pa.string()), "")
    present = np.flatnonzero(np.bincount(names, minlength=len(EVENT_NAMES)))
    alphabetical = present[np.argsort(np.array(EVENT_NAMES)[present])]
    recode = np.zeros(len(EVENT_NAMES), dtype=np.int8)
    recode[alphabetical] = np.arange(alphabetical.size)
    # Categoricals keep 10^7 string ids cheap in memory and dictionary-encoded in Parquet.
    events = pd.DataFrame({
        "event_id": pd.Series(event_ids, dtype=pd.ArrowDtype(pa.string())),
        "account_id": pd.Categorical.from_codes(row_acc, account_ids),
        "user_id": pd.Categorical.from_codes(row_u, user_ids),
        "event_time": event_time,
        "event_name": pd.Categorical.from_codes(
            recode[names], np.array(EVENT_NAMES)[alphabetical]),
    })
    return events


def _add_dirty_rows(tables: dict[str, pd.DataFrame], rng, fraction: float) -> None:
    """Append malformed rows of the kinds real exports contain, so quarantine has work."""
    ev = tables["events"]
    if isinstance(ev["account_id"].dtype, pd.CategoricalDtype):
        ev["account_id"] = ev["account_id"].cat.add_categories(["acc_unknown"])
    k = max(4, int(len(ev) * fraction))
    sample = ev.iloc[rng.integers(0, len(ev), k)].copy()
    quarter = k // 4
    duplicates = sample.iloc[:quarter]  # the same event exported twice
    missing_time = sample.iloc[quarter: 2 * quarter].copy()
    missing_time["event_time"] = pd.Series(pd.NaT, index=missing_time.index,
                                           dtype=ev["event_time"].dtype)
    future = sample.iloc[2 * quarter: 3 * quarter].copy()
    future["event_time"] = future["event_time"] + pd.Timedelta(days=400)
    unknown = sample.iloc[3 * quarter:].copy()
    unknown["account_id"] = "acc_unknown"
    for i, part in enumerate([missing_time, future, unknown]):
        part["event_id"] = part["event_id"] + f"_dirty{i}"
    dirty = pd.concat([ev, duplicates, missing_time, future, unknown], ignore_index=True)
    tables["events"] = dirty.astype(ev.dtypes.to_dict())

    subs = tables["subscriptions"]
    bad = subs.iloc[rng.integers(0, len(subs), 3)].copy()
    bad["subscription_id"] = bad["subscription_id"] + "_bad"
    bad.iloc[0, bad.columns.get_loc("mrr")] = -10.0
    bad.iloc[1, bad.columns.get_loc("end_date")] = "2000-01-01"
    bad.iloc[2, bad.columns.get_loc("billing_period")] = "fortnightly"
    tables["subscriptions"] = pd.concat([subs, bad], ignore_index=True)

    activities = tables.get("cs_activities")
    if activities is not None and len(activities):
        early = activities.iloc[[0]].copy()  # an activity logged before its alert was raised
        early["activity_id"] = early["activity_id"] + "_bad"
        early["flagged_at"] = (pd.Timestamp(early["performed_at"].iloc[0])
                               + pd.Timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        tables["cs_activities"] = pd.concat([activities, early], ignore_index=True)


def write(tables: dict[str, pd.DataFrame], data_dir: Path, *,
          event_days_until: date | None = None) -> dict[str, Path]:
    """Write tables as Parquet (events) and CSV (the rest), as exports usually arrive.

    With ``event_days_until`` (the last day of data), events are written as
    ``events/<YYYY-MM-DD>.parquet``, one file per UTC day, as a daily export job would; rows
    without a usable day (missing or future times) go into the last day's file, where
    validation quarantines them.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, df in tables.items():
        if name == "events" and event_days_until is not None:
            paths[name] = _write_event_days(df, data_dir / name,
                                            pd.Timestamp(event_days_until, tz="UTC"))
        elif name == "events":
            path = data_dir / f"{name}.parquet"
            df.to_parquet(path, index=False)
            paths[name] = path
        else:
            path = data_dir / f"{name}.csv"
            df.to_csv(path, index=False)
            paths[name] = path
    return paths


def _write_event_days(events: pd.DataFrame, directory: Path, last: pd.Timestamp) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    day = events["event_time"].dt.floor("D")
    day = day.where(day.notna() & (day <= last), last)
    for when, rows in events.groupby(day, sort=True):
        rows.to_parquet(directory / f"{when:%Y-%m-%d}.parquet", index=False)
    return directory


def write_planted_drivers(data_dir: Path, config: DemoConfig,
                          interventions: dict | None = None) -> Path:
    """Record the hidden churn drivers and interventions so tests and people can check what
    models and analyses recover. ``interventions``: the generated data's recorded truth (the
    expected uplift); without it, only how interventions were planted."""
    path = data_dir / "planted_drivers.json"
    payload = {"seed": config.seed, "base_log_odds_per_renewal": BASE_LOG_ODDS,
               "drivers": PLANTED_DRIVERS,
               "expansion_base_log_odds_per_renewal": EXPANSION_BASE_LOG_ODDS,
               "expansion_drivers": PLANTED_EXPANSION_DRIVERS,
               "interventions": interventions or {**PLANTED_INTERVENTIONS,
                                                  "holdout_share": config.holdout_share},
               "routine_touches": ROUTINE_TOUCHES}
    path.write_text(json.dumps(payload, indent=2))
    return path


def generate_to_dir(data_dir: Path, config: DemoConfig, *,
                    events_by_day: bool = False) -> dict[str, int]:
    """Generate, write and return row counts per table (events as day files when
    ``events_by_day``)."""
    tables = generate(config)
    planted = tables["cs_activities"].attrs.get("planted_interventions")
    write(tables, data_dir, event_days_until=config.end_date if events_by_day else None)
    write_planted_drivers(data_dir, config, planted)
    return {name: len(df) for name, df in tables.items()}


def default_end_date() -> date:
    """Yesterday (UTC), so the demo looks like a live export."""
    return pd.Timestamp.now(tz="UTC").date() - timedelta(days=1)
