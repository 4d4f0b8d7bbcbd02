"""The monthly executive report: net and gross revenue retention and logo retention over
time, renewals by quarter, churn by month split voluntary and involuntary, and the largest
risks with the behaviour behind them (definitions in docs/metrics.md). Written to be
forwarded: money and rates as people write them, headers in words, a chart for each trend.
"""

from __future__ import annotations

import html
import json

import pandas as pd

from models.reports import charts
from models.reports import html as report_html
from models.scoring.reasons import CONTEXT_FEATURES

#: Reasons about the contract rather than behaviour: true, but not what a VP can act on.
NOT_BEHAVIOUR = {*CONTEXT_FEATURES, "days_to_renewal", "arr_tier"}


def money(value: float) -> str:
    """$1.2M, $705.5K, $950; a dash when missing."""
    if pd.isna(value):
        return "–"
    size = abs(float(value))
    sign = "-" if value < 0 else ""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if size >= limit:
            return f"{sign}${size / limit:,.1f}{suffix}"
    return f"{sign}${size:,.0f}"


def percent(value: float) -> str:
    """93.7 %; a dash when missing."""
    return "–" if pd.isna(value) else f"{value:.1%}"


def behavioural_reason(reasons_json: str | None, signals: list[str], fallback: str) -> str:
    """The account's strongest reason that is behaviour (usage, engagement, support,
    payments) raising its risk, not its contract: among the model's reasons, else the
    first of its open warning ``signals`` (their messages), else ``fallback``."""
    try:
        reasons = json.loads(reasons_json) if reasons_json else []
    except (TypeError, ValueError):
        reasons = []
    for reason in reasons:
        if (reason.get("feature") not in NOT_BEHAVIOUR
                and reason.get("direction") == "raises risk" and reason.get("value") is not None):
            return str(reason["sentence"])
    return signals[0] if signals else fallback


def signal_reasons(items: pd.DataFrame | None, signal_names: list[str]) -> dict[str, list[str]]:
    """Per account, the messages of its open early-warning signals (``signal_names``) in
    the day's work items, most severe first."""
    if items is None or items.empty:
        return {}
    readable = {name.replace("_", " ") for name in signal_names}
    result = {}
    for account, conditions, reasons in zip(items["account_id"], items["conditions"],
                                            items["reasons"], strict=True):
        pairs = zip(str(conditions).split(", "), str(reasons).split("; "), strict=False)
        result[account] = [message for name, message in pairs if name in readable]
    return result


def _table(frame: pd.DataFrame, columns: dict[str, tuple[str, str]]) -> str:
    """``frame``'s ``columns`` (column -> (header, style: money, percent, count, day or
    text)) as an HTML table."""
    if frame.empty:
        return "<p>Not enough history yet.</p>"
    styles = {"money": money, "percent": percent, "count": lambda v: f"{v:,.0f}",
              "day": lambda v: f"{pd.Timestamp(v):%b %Y}", "text": str}
    shown = pd.DataFrame({header: frame[column].map(styles[style])
                          for column, (header, style) in columns.items() if column in frame})
    return report_html.table(shown)


def render_executive(month: str, windows: pd.DataFrame, renewals: pd.DataFrame,
                     churn: pd.DataFrame, scores: pd.DataFrame, *,
                     monthly: pd.DataFrame | None = None,
                     targets: dict[str, float] | None = None,
                     signals: dict[str, list[str]] | None = None,
                     forecast: pd.DataFrame | None = None,
                     backtest: pd.DataFrame | None = None, top: int = 10) -> str:
    """The monthly executive page from the ``retention_kpis`` tables, the monthly retention
    metrics of the whole business (``monthly``: ``retention_metrics`` overall rows) and the
    latest scores; ``targets`` the NRR, GRR and logo retention targets; ``signals`` each
    account's open warning signs (``signal_reasons``); ``forecast`` and ``backtest`` the
    renewal forecast and its back-test (``models.analysis.renewal_forecast``)."""
    day = pd.Timestamp(scores["as_of"].max()) if len(scores) else pd.Timestamp(f"{month}-01")
    trailing = windows[windows["window"] == "trailing 12 months"].tail(1)
    quarters = windows[windows["window"] == "quarter"].tail(4)
    every_term = renewals[renewals["term_months"] == 0].tail(4)
    # a month still running is not a month of churn yet
    recent = churn[pd.to_datetime(churn["month"]) <= day].tail(12)
    cards = {}
    if len(trailing):
        row = trailing.iloc[0]
        cards = {"net revenue retention, 12 months": percent(row["nrr"]),
                 "gross revenue retention, 12 months": percent(row["grr"]),
                 "logo retention, 12 months": percent(row["logo_retention"]),
                 "customers expanding": percent(row["expansion_rate_customers"])}
    if len(every_term):
        cards["renewal rate, last quarter"] = percent(every_term["renewal_rate"].iloc[-1])
    if len(recent) and recent["churned_accounts"].sum():
        cards["ARR churned, 12 months"] = money(recent["churned_arr"].sum())
        cards["involuntary share of churn"] = percent(
            recent["involuntary"].sum() / recent["churned_accounts"].sum())
    cards["ARR at risk today"] = money(scores["arr_at_risk"].sum()) if len(scores) else "–"
    card_html = "".join(f'<div class="card"><div class="value">{html.escape(v)}</div>'
                        f'<div class="label">{html.escape(k)}</div></div>'
                        for k, v in cards.items())
    figures = []
    if monthly is not None and len(monthly.dropna(subset=["nrr"])):
        figures.append(charts.retention_trend(monthly.dropna(subset=["nrr"]).tail(18),
                                              targets or {}))
    if len(recent):
        figures += [charts.churn_by_month(recent, "churned_accounts", "accounts churned"),
                    charts.churn_by_month(recent, "churned_arr", "ARR churned ($)")]
    if len(every_term):
        figures.append(charts.renewal_rates(every_term))
    risks = scores.nlargest(top, "arr_at_risk").copy()
    if len(risks):
        risks["why"] = [behavioural_reason(r, (signals or {}).get(a, []), f) for a, r, f in zip(
            risks["account_id"], risks.get("reasons", pd.Series(None, index=risks.index)),
            risks["reason_1"], strict=True)]
    return report_html.page(f"account-health executive summary {month}", f"""
<h1>Executive summary, {pd.Timestamp(f"{month}-01"):%B %Y}</h1>
<p>Customer retention and the revenue at risk, as of {day:%d %B %Y}.</p>
<div class="cards">{card_html}</div>
{report_html.charts(figures) if figures else ""}
{_renewal_section(forecast, backtest)}
<h2>Revenue retention by quarter</h2>
{_table(quarters, {"period_end": ("quarter ending", "day"),
                   "starting_customers": ("customers at the start", "count"),
                   "starting_mrr": ("monthly revenue at the start", "money"),
                   "ending_mrr": ("the same customers' revenue at the end", "money"),
                   "nrr": ("net revenue retention", "percent"),
                   "grr": ("gross revenue retention", "percent"),
                   "logo_retention": ("customers retained", "percent"),
                   "expansion_rate_customers": ("customers expanding", "percent")})}
<h2>Renewals by quarter</h2>
{_table(every_term, {"period_end": ("quarter ending", "day"),
                     "up_for_renewal": ("subscriptions up for renewal", "count"),
                     "renewed": ("renewed", "count"),
                     "renewal_rate": ("renewal rate", "percent"),
                     "arr_up_for_renewal": ("ARR up for renewal", "money"),
                     "arr_renewed": ("ARR renewed", "money"),
                     "arr_renewal_rate": ("ARR renewal rate", "percent")})}
<h2>Churn by month</h2>
<p>Involuntary churn follows failed payments; voluntary churn is a decision not to renew.</p>
{_table(recent, {"month": ("month", "day"), "churned_accounts": ("accounts churned", "count"),
                 "voluntary": ("voluntary", "count"), "involuntary": ("involuntary", "count"),
                 "churned_arr": ("ARR churned", "money"),
                 "voluntary_arr": ("voluntary ARR", "money"),
                 "involuntary_arr": ("involuntary ARR", "money")})}
<h2>The {top} largest risks</h2>
<p>By ARR at risk (churn probability × ARR), with the strongest behavioural reason.</p>
{_table(risks, {"account_id": ("account", "text"), "band": ("health band", "text"),
                "arr": ("ARR", "money"), "churn_probability": ("churn risk", "percent"),
                "arr_at_risk": ("ARR at risk", "money"), "csm_owner": ("CSM", "text"),
                "why": ("why", "text"), "recommended_action": ("next step", "text")})}""")


def _renewal_section(forecast: pd.DataFrame | None, backtest: pd.DataFrame | None) -> str:
    """The renewal forecast of the next quarters, and how it did on the past ones."""
    if forecast is None or forecast.empty:
        return ""
    shown = forecast.assign(
        expected=[f"{money(e)} ({money(lo)} to {money(hi)})" for e, lo, hi in zip(
            forecast["expected_arr"], forecast["arr_low"], forecast["arr_high"], strict=True)],
        logos=[f"{e:,.0f} ({lo:,.0f} to {hi:,.0f})" for e, lo, hi in zip(
            forecast["expected_logos"], forecast["logos_low"], forecast["logos_high"],
            strict=True)])
    table = _table(shown, {"quarter": ("quarter", "text"),
                           "terms_up": ("terms up for renewal", "count"),
                           "arr_up": ("ARR up for renewal", "money"),
                           "expected": ("ARR expected to renew (95 % interval)", "text"),
                           "logos": ("renewals expected (95 % interval)", "text")})
    judged = ("<p>No past quarter with a year of renewals before it to test the forecast "
              "on yet.</p>")
    if backtest is not None and len(backtest):
        held = int(backtest["arr_within_interval"].sum())
        judged = (f"<p>Made at the start of each of the last {len(backtest)} quarters, the "
                  f"same forecast missed the ARR that renewed by "
                  f"{backtest['arr_error'].abs().mean():.1%} on average; the actual fell "
                  f"inside the interval in {held} of {len(backtest)}.</p>" + _table(
                      backtest, {"quarter": ("quarter", "text"),
                                 "expected_arr": ("forecast", "money"),
                                 "renewed_arr": ("renewed", "money"),
                                 "arr_error": ("error", "percent")}))
    return (f"<h2>Renewal forecast</h2><p>Subscription terms of three months or longer "
            f"coming up for renewal, at their segment's renewal rate of the last year.</p>"
            f"{table}{judged}")
