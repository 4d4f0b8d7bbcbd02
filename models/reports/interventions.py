"""The interventions page: whether customer-success outreach saves accounts, against the
playbook's holdout group, and how early it comes."""

from __future__ import annotations

import html
import math

import pandas as pd

from models.reports import charts as report_charts
from models.reports import html as report_html

#: What the page needs the ``cs_activities`` table for, said when it is absent.
NEEDS_ACTIVITIES = ("intervention success rate by lead time", "time to detection",
                    "the false-positive rate of at-risk alerts",
                    "uplift against the holdout group with its confidence interval",
                    "the Qini curve and uplift@10% of a two-model uplift estimate")


def _percent(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else (
        f"{value:.1%}")


def _card(value: str, label: str) -> str:
    return (f'<div class="card"><div class="value">{html.escape(value)}</div>'
            f'<div class="label">{html.escape(label)}</div></div>')


def render_absent_page(reason: str) -> str:
    """The page when there is nothing to analyse, saying which figures need what."""
    items = "".join(f"<li>{html.escape(item)}</li>" for item in NEEDS_ACTIVITIES)
    return report_html.page("account-health interventions", f"""
<h1>Interventions</h1>
<p>{html.escape(reason)}</p>
<p>These figures need the optional <code>cs_activities</code> table (see
docs/data-contract.md), with <code>flagged_at</code> on activities prompted by an at-risk
alert and <code>holdout</code> rows for the accounts the playbook held out:</p>
<ul>{items}</ul>""")


def render_interventions_page(summary: dict, by_lead_time: pd.DataFrame, *,
                              horizon_days: int, qini_curve: pd.DataFrame | None,
                              uplift_model: dict, uplift_model_note: str) -> str:
    """The page as one HTML document."""
    cards = "".join([
        _card(f"{summary['treated']:,} / {summary['control']:,}",
              "flagged episodes: outreach / holdout"),
        _card(f"{summary['uplift']:+.1%}" if not math.isnan(summary["uplift"]) else "–",
              f"uplift: churn within {horizon_days} days prevented per treated account"),
        _card(_percent(summary["success_rate"]), "success rate (saved / intervened)"),
        _card(f"{summary['days_to_first_action_median']:.1f} d"
              if not math.isnan(summary["days_to_first_action_median"]) else "–",
              "median time to detection (flag → first action)"),
        _card(_percent(summary["false_positive_rate"]),
              f"alerts' false-positive rate (holdout, no churn in {horizon_days} d)"),
    ])
    uplift_rows = pd.DataFrame([
        {"group": "held out (control)", "episodes": summary["uplift_control"],
         "churn rate": summary["control_churn_rate"]},
        {"group": "outreach (treated)", "episodes": summary["uplift_treated"],
         "churn rate": summary["treated_churn_rate"]},
    ])
    interval = (f"{summary['uplift']:+.1%} (95% interval {summary['uplift_low']:+.1%} to "
                f"{summary['uplift_high']:+.1%})" if not math.isnan(summary["uplift"])
                else "not measurable: an arm has no episode whose window has closed")
    broken = (f"<p><strong>{summary['holdout_broken']} held-out accounts were contacted "
              "anyway</strong> and are left out of both groups.</p>"
              if summary["holdout_broken"] else "")
    if qini_curve is not None:
        model = (f"<p>Uplift in the top 10% by predicted uplift: "
                 f"{_percent(uplift_model['uplift_at_10'])} more kept among treated "
                 f"({uplift_model['top_treated']} treated, {uplift_model['top_control']} held "
                 f"out); Qini coefficient {uplift_model['qini_coefficient']:.2f} accounts over "
                 f"random, on {uplift_model['episodes']} out-of-time episodes.</p>"
                 + '<figure class="wide">' + report_charts.qini(qini_curve) + "</figure>")
    else:
        model = "<p>Not estimated: the data do not allow it yet.</p>"
    note = (f"<p>{html.escape(uplift_model_note)}</p>" if uplift_model_note else "")
    return report_html.page("account-health interventions", f"""
<h1>Interventions</h1>
<p>Each at-risk flag in <code>cs_activities</code> is an episode: outreach, or held out by
the playbook (configured share {summary['holdout_share_configured']:.0%}, kept
{_percent(summary['holdout_share_observed'])}). Churn is read from subscriptions, never from
logged outcomes.</p>
<div class="cards">{cards}</div>{broken}
<section><h2>Uplift against the holdout</h2>
<p>Churn within {horizon_days} days of the flag, episodes whose window has closed:
{html.escape(interval)}.</p>
{report_html.table(uplift_rows)}</section>
<section><h2>Success rate by lead time</h2>
<p>Saved = still a customer after the predicted churn date (the end of the term running at
the first action; at the flag for held-out accounts), by days from action to that date. The
held-out rate is what the same flags came to without outreach.</p>
{report_html.table(by_lead_time)}</section>
<section><h2>Time to detection</h2>
<p>Days from the at-risk flag to the first outreach: median
{summary['days_to_first_action_median']:.1f}, mean {summary['days_to_first_action_mean']:.1f},
90th percentile {summary['days_to_first_action_p90']:.1f}.</p></section>
<section><h2>Who benefits: a two-model uplift estimate</h2>
<p>One churn model per group on the account's features before the flag; predicted uplift =
churn without outreach − with it. Fitted walk-forward (each origin uses only episodes whose
window closed before it) and judged on later episodes.</p>
{model}{note}</section>""")
