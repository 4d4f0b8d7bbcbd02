"""The daily report: one self-contained HTML file (inline SVG charts, no server, nothing
fetched) with an executive page and a model-health page."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from features.retention import arr_by_band
from models.analysis import model_quality
from models.analysis.drift import DriftThresholds
from models.churn.evaluation import chosen_candidate, pooled_summary
from models.reports import charts as report_charts
from models.reports import html as report_html
from models.scoring.components import DEFAULT_COMPONENTS, Component, weight_sensitivity
from models.scoring.health_bands import HealthConfig

#: Walk-forward metrics the model-health page shows, with their labels.
VALIDATION_COLUMNS = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "brier": "Brier",
                      "ece": "calibration error", "lift_at_10pct": "lift@10%",
                      "concordance": "concordance"}


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
    #: the scoring model's walk-forward validation: out-of-fold predictions and pooled
    #: metrics per model (empty when the model has none saved)
    validation: pd.DataFrame = field(default_factory=pd.DataFrame)
    validation_metrics: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the model's predictions on its latest training dates, and the day's prediction_drift
    #: row against them as a dict (empty when not measured)
    reference: pd.DataFrame | None = None
    prediction_drift: dict = field(default_factory=dict)
    health: HealthConfig = field(default_factory=HealthConfig)
    drift_thresholds: DriftThresholds = field(default_factory=DriftThresholds)
    targets: dict[str, float] = field(default_factory=lambda: {
        "nrr": 1.0, "grr": 0.90, "logo_retention": 0.90})
    top_accounts: int = 10
    #: the day's other outputs, label -> link relative to the page (only those that exist)
    links: dict[str, str] = field(default_factory=dict)
    #: the component health scores' configuration (weights for the sensitivity table)
    components: dict[str, Component] = field(default_factory=lambda: dict(DEFAULT_COMPONENTS))


def _component_columns(scores: pd.DataFrame) -> list[str]:
    return [c for c in scores.columns if c.startswith("health_") and c != "health_score"]


def _points(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.0f}"


def _sensitivity_section(inputs: ReportInputs) -> str:
    """How many accounts change band when one component weight moves by ±10 %."""
    names = _component_columns(inputs.scores)
    if not names:
        return "<p>No component scores on this day.</p>"
    table = weight_sensitivity(inputs.scores[names], inputs.components, inputs.health,
                               segments=inputs.scores.get("segment"))
    table["share_changing_band"] = table["share_changing_band"].map(_percent)
    return ("<p>The composite of the component scores (weighted by the components' "
            "weights, banded like the health score): accounts whose band changes when one "
            "weight moves by 10 %, the others kept.</p>" + report_html.table(table))


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


def _validation_section(inputs: ReportInputs) -> str:
    """Walk-forward metrics of the scoring model beside the baselines; calibration, lift and
    Kaplan-Meier curves of its out-of-fold predictions."""
    validation = inputs.validation
    if validation.empty:
        return ("<p>The scoring model has no saved walk-forward predictions (it was trained "
                "before they were logged); retrain to see its validation here.</p>")
    version = inputs.scores["model_version"].iloc[0] if "model_version" in inputs.scores else ""
    summary = pooled_summary(inputs.validation_metrics)
    summary = summary[[c for c in VALIDATION_COLUMNS if c in summary]].rename(
        columns=VALIDATION_COLUMNS).reset_index()
    # the candidate this version scores with, not always the gradient-boosted one
    chosen = (chosen_candidate(inputs.validation_metrics)
              if "chosen" in inputs.validation_metrics else "xgboost")
    bands = model_quality.bands_of(validation[f"p_{chosen}"], validation.get("segment"),
                                  inputs.health)["band"]
    durations, observed = validation["duration_days"], validation["churn_observed"]
    order = {band: index for index, band in enumerate(inputs.bands)}
    by_band = model_quality.kaplan_meier(durations, observed, bands)
    by_band = by_band.sort_values("group", key=lambda g: g.map(order), kind="stable")
    charts = [report_charts.calibration(validation, chosen),
              report_charts.lift(validation, chosen),
              report_charts.survival_curves(by_band, "Kaplan-Meier by health band",
                                            report_charts.BAND_COLOURS)]
    if "segment" in validation:
        charts.append(report_charts.survival_curves(
            model_quality.kaplan_meier(durations, observed, validation["segment"]),
            "Kaplan-Meier by segment"))
    origins = pd.to_datetime(validation["as_of_date"])
    return (f"<h3>Walk-forward validation of model version {html.escape(str(version))} "
            f"({html.escape(chosen)})</h3>"
            f"<p>{validation['fold'].nunique()} folds, origins {origins.min():%Y-%m-%d} to "
            f"{origins.max():%Y-%m-%d}, {len(validation):,} out-of-fold predictions; every "
            "model scored only dates after the ones it was trained on.</p>"
            + report_html.table(summary) + report_html.charts(charts))


def _prediction_drift_section(inputs: ReportInputs) -> str:
    drift = inputs.prediction_drift
    if "psi" not in drift or inputs.reference is None:
        return "<p>No prediction drift measured for this day.</p>"
    verdict = "have drifted" if drift["drifted"] else "have not drifted"
    text = (f"<p>Today's churn probabilities {verdict} from the same model's predictions on "
            f"its latest training dates: PSI {drift['psi']:.3f}, KS "
            f"{drift['ks_statistic']:.3f}; mean {drift['mean_current']:.1%} today against "
            f"{drift['mean_reference']:.1%}")
    if "flagged_share_current" in drift:
        text += (f"; flagged red {drift['flagged_share_current']:.1%} against "
                 f"{drift['flagged_share_reference']:.1%}")
    return text + ".</p>" + report_html.charts([report_charts.prediction_histogram(
        inputs.reference["churn_probability"], inputs.scores["churn_probability"])])


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
        for metric, label in (("nrr", "NRR"), ("grr", "GRR"),
                              ("logo_retention", "logo retention")):
            target = inputs.targets.get(metric)
            against = f" (target {target:.0%})" if target is not None else ""
            headline[f"{label} {month}{against}"] = _percent(latest[metric])
    top = scores.nsmallest(inputs.top_accounts, "risk_rank")
    top_table = pd.DataFrame({
        "account": top["account_id"], "band": top["band"],
        "risk": top["churn_probability"].map(_percent),
        "ARR at risk": top["arr_at_risk"].map(_money), "reason": top["reason_1"],
        "action": top["recommended_action"], "owner": top["action_owner"],
        **{name.removeprefix("health_").replace("_", " "): top[name].map(_points)
           for name in _component_columns(scores)}})
    charts = [report_charts.health_histogram(scores), report_charts.arr_at_risk(by_band)]
    if latest is not None:
        charts = [report_charts.retention_trend(retention, inputs.targets),
                  report_charts.mrr_waterfall(latest), *charts]
    drift = inputs.drift
    drift_section = ("<p>No drift measured for this day.</p>" if drift.empty else
                     f"<p>{int(drift['drifted'].sum())} feature(s) drifted from the training "
                     f"data (PSI &gt; {inputs.drift_thresholds.psi} or KS &gt; "
                     f"{inputs.drift_thresholds.ks}).</p>"
                     + report_html.table(drift.head(10)[["feature", "psi", "ks_statistic",
                                                         "exempt", "drifted"]]))
    outcomes = inputs.outcomes
    outcome_section = (
        "<p>No scored day has a known outcome yet: a day is judged once its horizon has "
        "closed.</p>" if outcomes.empty else
        report_html.table(outcomes.tail(10)[["as_of", "roc_auc", "ece", "lift_at_10pct",
                                             "at_risk_false_positive_rate", "rows"]]))
    cards = "".join(f'<div class="card"><div class="value">{html.escape(v)}</div>'
                    f'<div class="label">{html.escape(k)}</div></div>'
                    for k, v in headline.items())
    day = html.escape(inputs.day)
    status = scores["model_status"].iloc[0] if "model_status" in scores and len(scores) else (
        "champion")
    warning = ("" if status == "champion" else
               f'<p class="warning"><strong>These scores come from a model below the '
               f"promotion bar</strong> ({html.escape(str(status))}). They rank accounts "
               "better than nothing, not as well as a promoted model would.</p>")
    links = " · ".join(f'<a href="{html.escape(href)}">{html.escape(label)}</a>'
                       for label, href in inputs.links.items())
    return report_html.page(f"account-health {inputs.day}", f"""
<h1>account-health</h1><p>Scores of {day}</p>
{f"<nav>Also: {links}</nav>" if links else ""}
<section id="executive"><h2>Executive summary</h2>
{warning}<div class="cards">{cards}</div>
{report_html.charts(charts)}
<h3>Top {inputs.top_accounts} accounts at risk</h3>{report_html.table(top_table)}
<h3>ARR by band</h3>{report_html.table(_band_table(by_band))}
</section>
<section id="model-health"><h2>Model health</h2>
{_validation_section(inputs)}
<h3>Today's predictions against validation</h3>{_prediction_drift_section(inputs)}
<h3>Feature drift against the training data</h3>{drift_section}
<h3>Realised performance of past scores</h3>{outcome_section}
<h3>Component weights: sensitivity</h3>{_sensitivity_section(inputs)}
</section>""")
