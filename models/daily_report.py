"""The daily report: one self-contained HTML file (inline SVG charts, no server, nothing
fetched) with an executive page and a model-health page."""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from features.retention import arr_by_band, health_distribution  # noqa: E402

BAND_COLOURS = {"thriving": "#1a9850", "healthy": "#91cf60", "neutral": "#fee08b",
                "at-risk": "#fc8d59", "critical": "#d73027"}


@dataclass
class ReportInputs:
    """What the report shows; tables as the pipeline's assets hold them."""

    day: str
    #: the day's account_scores
    scores: pd.DataFrame
    #: retention_metrics rows with dimension == "overall"
    retention: pd.DataFrame
    bands: list[str]
    #: the day's feature_drift rows, and model_outcomes (may be empty)
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)
    outcomes: pd.DataFrame = field(default_factory=pd.DataFrame)
    targets: dict[str, float] = field(default_factory=lambda: {
        "nrr": 1.0, "grr": 0.90, "logo_retention": 0.90})
    top_accounts: int = 10


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prologue: the SVG sits inside HTML


def _retention_trend(retention: pd.DataFrame, targets: dict[str, float]) -> str:
    figure, axis = plt.subplots(figsize=(7, 3.2))
    months = pd.to_datetime(retention["month"])
    for metric, colour in [("nrr", "#2166ac"), ("grr", "#b2182b"), ("logo_retention", "#4d4d4d")]:
        axis.plot(months, retention[metric], marker="o", color=colour, label=metric.upper()
                  if metric != "logo_retention" else "logo retention")
        if metric in targets:
            axis.axhline(targets[metric], color=colour, linestyle=":", linewidth=1)
    axis.set_title("Monthly retention (dotted: targets)")
    axis.legend(loc="lower left", fontsize=8)
    figure.autofmt_xdate()
    return _svg(figure)


def _mrr_waterfall(month: pd.Series) -> str:
    steps = [("starting", month["starting_mrr"]), ("new", month["new"]),
             ("expansion", month["expansion"]), ("reactivation", month["reactivation"]),
             ("contraction", -month["contraction"]), ("churned", -month["churned"])]
    figure, axis = plt.subplots(figsize=(7, 3.2))
    level, lowest = 0.0, float(month["ending_mrr"])
    for index, (name, amount) in enumerate(steps):
        bottom = 0.0 if name == "starting" else (level if amount >= 0 else level + amount)
        colour = "#878787" if name == "starting" else ("#1a9850" if amount >= 0 else "#d73027")
        axis.bar(index, abs(amount), bottom=bottom, color=colour)
        level = amount if name == "starting" else level + amount
        lowest = min(lowest, level)
    axis.bar(len(steps), month["ending_mrr"], color="#4d4d4d")
    # movements are a few percent of MRR: start the axis near the lowest level to show them
    axis.set_ylim(bottom=0.9 * lowest)
    axis.set_xticks(range(len(steps) + 1), [n for n, _ in steps] + ["ending"], fontsize=8)
    axis.set_title(f"MRR waterfall, {pd.Timestamp(month['month']):%B %Y}")
    return _svg(figure)


def _health_histogram(scores: pd.DataFrame) -> str:
    table = health_distribution(scores)
    figure, axis = plt.subplots(figsize=(7, 3.2))
    axis.bar(table["from"] + 5, table["accounts"], width=9, color="#4393c3")
    axis.set_xlabel("health score")
    axis.set_ylabel("accounts")
    axis.set_title("Health-score distribution")
    return _svg(figure)


def _arr_at_risk(by_band: pd.DataFrame) -> str:
    figure, axis = plt.subplots(figsize=(7, 3.2))
    axis.bar(by_band["band"], by_band["arr_at_risk"],
             color=[BAND_COLOURS.get(b, "#878787") for b in by_band["band"]])
    axis.set_title("ARR at risk by band")
    return _svg(figure)


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, border=0, classes="data",
                         float_format=lambda v: f"{v:,.3f}", na_rep="–")


def _money(value: float) -> str:
    return f"${value:,.0f}"


def _percent(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.1%}"


def _band_table(by_band: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "band": by_band["band"], "accounts": by_band["accounts"],
        "ARR": by_band["arr"].map(_money), "ARR at risk": by_band["arr_at_risk"].map(_money),
        "share of accounts": by_band["share_of_accounts"].map(_percent),
        "share of ARR": by_band["share_of_arr"].map(_percent)})


def render_report(inputs: ReportInputs) -> str:
    """The report as one HTML document."""
    scores, retention = inputs.scores, inputs.retention.dropna(subset=["nrr"])
    by_band = arr_by_band(scores, inputs.bands)
    latest = retention.iloc[-1] if len(retention) else None
    headline = {
        "accounts scored": f"{len(scores):,}",
        "ARR": _money(scores["arr"].sum()),
        "ARR at risk": _money(scores["arr_at_risk"].sum()),
        "red accounts": f"{int((scores['color'] == 'red').sum()):,}",
    }
    if latest is not None:
        month = f"{pd.Timestamp(latest['month']):%b %Y}"
        headline |= {f"NRR {month}": _percent(latest["nrr"]),
                     f"GRR {month}": _percent(latest["grr"]),
                     f"logo retention {month}": _percent(latest["logo_retention"])}
    top = scores.nsmallest(inputs.top_accounts, "risk_rank")
    top_table = pd.DataFrame({
        "account": top["account_id"], "band": top["band"],
        "risk": top["churn_probability"].map(_percent),
        "ARR at risk": top["arr_at_risk"].map(_money), "reason": top["reason_1"],
        "action": top["recommended_action"], "owner": top["action_owner"]})
    charts = [_health_histogram(scores), _arr_at_risk(by_band)]
    if latest is not None:
        charts = [_retention_trend(retention, inputs.targets), _mrr_waterfall(latest), *charts]
    drift = inputs.drift
    drift_section = ("<p>No drift measured for this day.</p>" if drift.empty else
                     f"<p>{int(drift['drifted'].sum())} feature(s) drifted from the training "
                     "data (PSI &gt; 0.25 or KS &gt; 0.15).</p>"
                     + _table(drift.head(10)[["feature", "psi", "ks_statistic", "exempt",
                                               "drifted"]]))
    outcomes = inputs.outcomes
    outcome_section = (
        "<p>No scored day has a known outcome yet: a day is judged once its horizon has "
        "closed.</p>" if outcomes.empty else
        _table(outcomes.tail(10)[["as_of", "roc_auc", "ece", "lift_at_10pct",
                                  "at_risk_false_positive_rate", "rows"]]))
    cards = "".join(f'<div class="card"><div class="value">{html.escape(v)}</div>'
                    f'<div class="label">{html.escape(k)}</div></div>'
                    for k, v in headline.items())
    day = html.escape(inputs.day)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>account-health {day}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
h1 {{ margin-bottom: 0; }} h2 {{ border-bottom: 1px solid #ddd; padding-bottom: .3rem; }}
.cards {{ display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }}
.card {{ border: 1px solid #ddd; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }}
.value {{ font-size: 1.5rem; font-weight: 600; }} .label {{ color: #666; font-size: .85rem; }}
.charts {{ display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }}
.charts svg {{ width: 100%; height: auto; }}
table.data {{ border-collapse: collapse; font-size: .9rem; margin: .5rem 0 1rem; }}
table.data th, table.data td {{ padding: .3rem .6rem; border-bottom: 1px solid #eee;
  text-align: left; }}
</style></head><body>
<h1>account-health</h1><p>Scores of {day}</p>
<section id="executive"><h2>Executive summary</h2>
<div class="cards">{cards}</div>
<div class="charts">{"".join(f'<figure>{chart}</figure>' for chart in charts)}</div>
<h3>Top {inputs.top_accounts} accounts at risk</h3>{_table(top_table)}
<h3>ARR by band</h3>{_table(_band_table(by_band))}
</section>
<section id="model-health"><h2>Model health</h2>
<h3>Feature drift against the training data</h3>{drift_section}
<h3>Realised performance of past scores</h3>{outcome_section}
</section></body></html>
"""
