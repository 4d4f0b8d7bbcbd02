"""The monthly executive report: net and gross revenue retention over the trailing 12 months
and by quarter, the renewal rate, churn split voluntary and involuntary, and the largest
risks by ARR (definitions in docs/metrics.md)."""

from __future__ import annotations

import html

import pandas as pd

from models.reports import html as report_html


def _percent(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.1%}"


def render_executive(month: str, windows: pd.DataFrame, renewals: pd.DataFrame,
                     churn: pd.DataFrame, scores: pd.DataFrame, *, top: int = 10) -> str:
    """The monthly executive page from the ``retention_kpis`` tables and the latest scores."""
    trailing = windows[windows["window"] == "trailing 12 months"].tail(1)
    quarters = windows[windows["window"] == "quarter"].tail(4)
    cards = {}
    if len(trailing):
        row = trailing.iloc[0]
        cards = {"NRR, trailing 12 months": _percent(row["nrr"]),
                 "GRR, trailing 12 months": _percent(row["grr"]),
                 "customers expanding": _percent(row["expansion_rate_customers"])}
    every_term = renewals[renewals["term_months"] == 0].tail(4)
    if len(every_term):
        cards["renewal rate, last quarter"] = _percent(every_term["renewal_rate"].iloc[-1])
    recent = churn.tail(12)
    if len(recent) and recent["churned_accounts"].sum():
        cards["involuntary share of churn, 12 months"] = _percent(
            recent["involuntary"].sum() / recent["churned_accounts"].sum())
    card_html = "".join(f'<div class="card"><div class="value">{html.escape(v)}</div>'
                        f'<div class="label">{html.escape(k)}</div></div>'
                        for k, v in cards.items())

    def shown(frame: pd.DataFrame, columns: list[str], rates: list[str]) -> str:
        if frame.empty:
            return "<p>Not enough history yet.</p>"
        frame = frame[columns].copy()
        for column in rates:
            frame[column] = frame[column].map(_percent)
        return report_html.table(frame)

    risks = scores.nlargest(top, "arr_at_risk")[[c for c in (
        "account_id", "band", "health_score", "arr", "arr_at_risk", "csm_owner", "reason_1",
        "recommended_action") if c in scores]]
    return report_html.page(f"account-health executive summary {month}", f"""
<h1>Executive summary, {html.escape(month)}</h1>
<div class="cards">{card_html}</div>
<h2>Revenue retention by quarter</h2>
{shown(quarters, ["period_end", "starting_customers", "starting_mrr", "ending_mrr", "nrr",
                  "grr", "expansion_rate_customers", "expansion_rate_revenue"],
       ["nrr", "grr", "expansion_rate_customers", "expansion_rate_revenue"])}
<h2>Renewals by quarter</h2>
{shown(every_term, ["period_end", "up_for_renewal", "renewed", "renewal_rate",
                    "arr_up_for_renewal", "arr_renewed", "arr_renewal_rate"],
       ["renewal_rate", "arr_renewal_rate"])}
<h2>Churn, voluntary and involuntary, by month</h2>
{shown(recent, ["month", "churned_accounts", "voluntary", "involuntary", "churned_arr",
                "voluntary_arr", "involuntary_arr"], [])}
<h2>Top {top} risks by ARR at risk</h2>
{report_html.table(risks) if len(risks) else "<p>No scores.</p>"}""")
