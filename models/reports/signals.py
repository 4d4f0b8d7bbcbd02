"""The leading-indicators page: which signals precede churn and expansion, how far ahead,
which of them are one signal counted several times, and what data-driven health weights
would look like."""

from __future__ import annotations

import html

import pandas as pd

from models.reports import charts as report_charts
from models.reports import html as report_html

TABLE_COLUMNS = {"feature": "signal", "auc": "AUC", "auc_low": "low", "auc_high": "high",
                 "spearman": "Spearman", "point_biserial": "point-biserial",
                 "direction": "direction", "collinear_group": "collinear group", "vif": "VIF",
                 "rows": "rows", "events": "events"}


def strongest(indicators: pd.DataFrame, outcome: str, lead_days: int,
              top: int = 12) -> pd.DataFrame:
    """The ``top`` signals of one outcome and lead time over all accounts, by strength."""
    rows = indicators[(indicators["outcome"] == outcome) & (indicators["lead_days"] == lead_days)
                      & (indicators["segment"] == "all")]
    return rows.nsmallest(top, "rank")


def render_signals_page(indicators: pd.DataFrame, *, training_dates: str,
                        health_weights: pd.DataFrame) -> str:
    """The page as one HTML document. ``health_weights``: ``component, hand, data``."""
    sections = []
    for outcome in indicators["outcome"].unique():
        leads = sorted(indicators.loc[indicators["outcome"] == outcome, "lead_days"].unique())
        tables = "".join(
            f"<h4>{lead} days ahead</h4>" + report_html.table(
                strongest(indicators, outcome, lead)[list(TABLE_COLUMNS)].rename(
                    columns=TABLE_COLUMNS))
            for lead in leads)
        sections.append(f"<section><h2>{html.escape(outcome.capitalize())}</h2>"
                        + '<figure class="wide">'
                        + report_charts.lead_profile(indicators, outcome) + "</figure>"
                        + tables + "</section>")
    weights = report_html.table(health_weights.rename(columns={
        "hand": "hand-set weight", "data": "correlation weight"}))
    return report_html.page("account-health leading indicators", f"""
<h1>Leading indicators</h1>
<p>Univariate association of every numeric signal with the outcome in the 30 days ending
30, 60 and 90 days after each monthly as-of date, on the training dates of the last
walk-forward fold only ({html.escape(training_dates)}): ROC AUC with a 95% bootstrap interval
that resamples accounts, Spearman and point-biserial correlation. Signals in the same
collinear group (Spearman |rho| &ge; 0.8) carry one signal; a high VIF says the same.
Segment-level figures are in the <code>leading_indicators</code> asset.</p>
{"".join(sections)}
<section><h2>Health-score weights from data</h2>
<p>The correlation-weighted health score weights each component by how well it alone
separates churners on the training rows; it is compared with the hand-set weights on the
walk-forward folds as the <code>correlation_health</code> baseline.</p>
{weights}</section>""")
