"""The weekly operations report: alerts per CSM, SLA adherence, playbook engagement and the
accounts that moved between bands over the week."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from models.alerts.routing import RoutingConfig
from models.reports import html as report_html

#: Severities in the order the tables show them.
SEVERITY_ORDER = ["critical", "high", "medium", "low"]


def _activity_times(activities: pd.DataFrame | None) -> pd.DataFrame:
    if activities is None or activities.empty:
        return pd.DataFrame({"account_id": pd.Series(dtype=object),
                             "performed_at": pd.Series(dtype="datetime64[ns]")})
    performed = pd.to_datetime(activities["performed_at"], utc=True).dt.tz_localize(None)
    return pd.DataFrame({"account_id": activities["account_id"].to_numpy(),
                         "performed_at": performed.to_numpy()})


def sla_adherence(alerts: pd.DataFrame, activities: pd.DataFrame | None, *,
                  routing: RoutingConfig, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per alert fired (escalations left out): its deadline (the start of the day it fired
    plus its severity's SLA) and ``outcome``: ``within SLA`` (a CS activity on the account
    between the start of that day and the deadline), ``late`` (one after the deadline, by
    the end of ``as_of``), ``unanswered``, or ``open`` (no activity yet, deadline not
    passed)."""
    fired = alerts[~alerts["escalation"].astype(bool)].copy()
    fired["opened"] = pd.to_datetime(fired["as_of"]).dt.normalize()
    fired["deadline"] = fired["opened"] + pd.to_timedelta(
        fired["severity"].map(routing.sla_hours).fillna(168), unit="h")
    end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    done = _activity_times(activities)
    done = done[done["performed_at"] < end]
    pairs = fired[["alert_id", "account_id", "opened"]].merge(done, on="account_id")
    pairs = pairs[pairs["performed_at"] >= pairs["opened"]]
    first = pairs.groupby("alert_id")["performed_at"].min()
    answered = fired["alert_id"].map(first)
    fired["outcome"] = np.select(
        [answered.notna() & (answered <= fired["deadline"]), answered.notna(),
         fired["deadline"] < end], ["within SLA", "late", "unanswered"], "open")
    return fired


def alerts_per_owner(alerts: pd.DataFrame, adherence: pd.DataFrame) -> pd.DataFrame:
    """Per owner: alerts by severity, escalations, and SLA adherence (within SLA over the
    alerts whose deadline has passed)."""
    counts = pd.crosstab(alerts["owner"], alerts["severity"]).reindex(
        columns=SEVERITY_ORDER, fill_value=0)
    counts["escalations"] = alerts.groupby("owner")["escalation"].sum().astype(int)
    outcome = pd.crosstab(adherence["owner"], adherence["outcome"]).reindex(
        columns=["within SLA", "late", "unanswered", "open"], fill_value=0)
    table = counts.join(outcome, how="outer").fillna(0).astype(int)
    due = table["within SLA"] + table["late"] + table["unanswered"]
    table["sla_adherence"] = (table["within SLA"] / due.where(due > 0)).round(3)
    return table.reset_index().rename(columns={"index": "owner"})


def playbook_engagement(scores: pd.DataFrame, activities: pd.DataFrame | None, *,
                        since: pd.Timestamp, as_of: pd.Timestamp,
                        flagged_bands: list[str]) -> pd.DataFrame:
    """Per CSM: accounts flagged today (band in ``flagged_bands``, not held out), how many
    had a CS activity between ``since`` and the end of ``as_of``, and the rate."""
    flagged = scores[scores["band"].isin(flagged_bands)
                     & ~scores.get("holdout", pd.Series(False, index=scores.index))
                     .astype(bool)].copy()
    flagged["owner"] = flagged.get("csm_owner", pd.Series(index=flagged.index, dtype=object)
                                   ).fillna("unassigned")
    done = _activity_times(activities)
    end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    touched = set(done.loc[(done["performed_at"] >= since) & (done["performed_at"] < end),
                           "account_id"])
    flagged["engaged"] = flagged["account_id"].isin(touched)
    table = flagged.groupby("owner").agg(flagged_accounts=("account_id", "size"),
                                         engaged=("engaged", "sum")).reset_index()
    table["engagement_rate"] = (table["engaged"] / table["flagged_accounts"]).round(3)
    return table


def band_moves(now: pd.DataFrame, before: pd.DataFrame | None,
               bands: list[str]) -> pd.DataFrame:
    """Accounts by band a week before (rows) and today (columns), for accounts scored on
    both days."""
    if before is None or before.empty:
        return pd.DataFrame()
    both = now[["account_id", "band"]].merge(before[["account_id", "band"]], on="account_id",
                                              suffixes=("", "_before"))
    table = pd.crosstab(both["band_before"], both["band"]).reindex(
        index=bands, columns=bands, fill_value=0)
    table.index.name, table.columns.name = "a week before", None
    return table.reset_index()


def signal_table(quality: pd.DataFrame) -> pd.DataFrame:
    """The signals' measurement (``models.alerts.signal_quality``) as the report shows it."""
    return pd.DataFrame({
        "signal": quality["signal"].str.replace("_", " "),
        "in the daily alerts": quality["on"].map({True: "on", False: "off"}),
        "verdict": quality["verdict"],
        "accounts flagged": quality["alerted"],
        "churned within the horizon": quality["precision"].map(_percent),
        "all accounts": quality["base_rate"].map(_percent),
        "lift": quality["lift"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}×"),
        "median days to churn": quality["median_lead_days"].map(
            lambda v: "" if pd.isna(v) else f"{v:.0f}")})


def _percent(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.1%}"


def playbook_table(effects: pd.DataFrame) -> pd.DataFrame:
    """Playbook effectiveness (``models.analysis.playbooks``) as the report shows it."""
    def money(value: float) -> str:
        return "" if pd.isna(value) else f"${value:,.0f}"

    return pd.DataFrame({
        "playbook": effects["playbook"].str.replace("_", " "),
        "episodes": effects["episodes"],
        "churned, with it": effects["churn_rate"].map(_percent),
        "churned, held out": effects["control_churn_rate"].map(_percent),
        "retention lift (95 % interval)": [
            "" if pd.isna(u) else f"{u:+.1%} ({lo:+.1%} to {hi:+.1%})"
            for u, lo, hi in zip(effects["uplift"], effects["uplift_low"],
                                 effects["uplift_high"], strict=True)],
        "ARR kept": effects["arr_saved"].map(money),
        "cost per $ of ARR kept": effects["cost_per_retained_arr"].map(
            lambda v: "" if pd.isna(v) else f"${v:,.2f}")})


def render_operations(day: str, per_owner: pd.DataFrame, engagement: pd.DataFrame,
                      moves: pd.DataFrame, signals: pd.DataFrame | None = None,
                      playbooks: pd.DataFrame | None = None) -> str:
    """The weekly operations page; ``signals``: the early-warning signals' measurement on
    the history (``models.alerts.signal_quality``); ``playbooks``: each playbook's effect
    (``models.analysis.playbooks``); each when there is one."""
    effects = ("<p>Not measured: it needs <code>cs_activities</code> with flagged outreach "
               "and holdout rows, and episodes whose horizon has closed.</p>"
               if playbooks is None or playbooks.empty else
               "<p>Churn within the horizon of the accounts each playbook reached against the "
               "held-out accounts (the control group all playbooks share), and the ARR the "
               "difference keeps. An interval that spans zero is not yet evidence either "
               "way.</p>" + report_html.table(playbook_table(playbooks)))
    measured = ("<p>Not measured yet: the signals are measured when the models are "
                "trained.</p>" if signals is None or signals.empty else
                "<p>Each signal on the walk-forward test dates: of the accounts it flagged, "
                "the share that churned within the horizon, against the share of all "
                "accounts. A signal that flags no likelier churners than average is off in "
                "the daily alerts; its rule's <code>enabled</code> in the scoring YAML turns "
                "it on or off whatever the history says.</p>"
                + report_html.table(signal_table(signals)))
    moved = ("<p>No scores a week before: nothing to compare.</p>" if moves.empty else
             "<p>Rows: the band a week before; columns: today's. Off the diagonal: accounts "
             "that moved.</p>" + report_html.table(moves))
    return report_html.page(f"account-health operations, week to {day}", f"""
<h1>Operations, the week to {html.escape(day)}</h1>
<h2>Alerts per CSM</h2>
<p>Alerts fired in the week by severity, escalations, and whether a CS activity on the
account answered each within its severity's SLA.</p>
{report_html.table(per_owner) if len(per_owner) else "<p>No alerts this week.</p>"}
<h2>Playbook engagement</h2>
<p>Accounts flagged today (not in the holdout) with a CS activity in the week.</p>
{report_html.table(engagement) if len(engagement) else "<p>No flagged accounts.</p>"}
<h2>Accounts that moved between bands</h2>{moved}
<h2>Early-warning signals: do they earn their place?</h2>{measured}
<h2>Which playbook works</h2>{effects}""")
