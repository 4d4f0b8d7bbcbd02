"""Charts of the daily report as inline SVG (no files, nothing fetched)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from features.retention import health_distribution  # noqa: E402
from models.analysis import model_quality  # noqa: E402

BAND_COLOURS = {"thriving": "#1a9850", "healthy": "#91cf60", "neutral": "#fee08b",
                "at-risk": "#fc8d59", "critical": "#d73027"}
WIDE = (7, 3.2)


def svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prologue: the SVG sits inside HTML


def retention_trend(retention: pd.DataFrame, targets: dict[str, float]) -> str:
    figure, axis = plt.subplots(figsize=WIDE)
    months = pd.to_datetime(retention["month"])
    for metric, colour in [("nrr", "#2166ac"), ("grr", "#b2182b"), ("logo_retention", "#4d4d4d")]:
        axis.plot(months, retention[metric], marker="o", color=colour, label=metric.upper()
                  if metric != "logo_retention" else "logo retention")
        if metric in targets:
            axis.axhline(targets[metric], color=colour, linestyle=":", linewidth=1)
    axis.set_title("Monthly retention (dotted: targets)")
    axis.legend(loc="lower left", fontsize=8)
    figure.autofmt_xdate()
    return svg(figure)


def churn_by_month(churn: pd.DataFrame, measure: str, title: str) -> str:
    """Monthly churn split voluntary and involuntary, stacked (``measure``:
    ``churned_accounts`` or ``churned_arr``)."""
    voluntary, involuntary = (("voluntary", "involuntary") if measure == "churned_accounts"
                              else ("voluntary_arr", "involuntary_arr"))
    months = pd.to_datetime(churn["month"]).dt.strftime("%b %y")
    figure, axis = plt.subplots(figsize=WIDE)
    axis.bar(months, churn[voluntary], color="#4393c3", label="voluntary")
    axis.bar(months, churn[involuntary], bottom=churn[voluntary], color="#d6604d",
             label="involuntary (failed payments)")
    axis.set_title(f"{title[0].upper()}{title[1:]} by month")
    axis.legend(loc="upper left", fontsize=8)
    axis.tick_params(axis="x", labelsize=8, rotation=45)
    return svg(figure)


def renewal_rates(renewals: pd.DataFrame) -> str:
    """Renewal rate by quarter, of subscriptions and of ARR."""
    quarters = pd.to_datetime(renewals["period_end"]).dt.to_period("Q").astype(str)
    positions = np.arange(len(renewals))
    figure, axis = plt.subplots(figsize=WIDE)
    axis.bar(positions - 0.2, renewals["renewal_rate"], width=0.4, color="#4393c3",
             label="subscriptions")
    axis.bar(positions + 0.2, renewals["arr_renewal_rate"], width=0.4, color="#1a9850",
             label="ARR")
    axis.set_xticks(positions, quarters)
    axis.set_ylim(0, 1.05)
    axis.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    axis.set_title("Renewal rate by quarter")
    axis.legend(loc="lower left", fontsize=8)
    return svg(figure)


def mrr_waterfall(month: pd.Series) -> str:
    steps = [("starting", month["starting_mrr"]), ("new", month["new"]),
             ("expansion", month["expansion"]), ("reactivation", month["reactivation"]),
             ("contraction", -month["contraction"]), ("churned", -month["churned"])]
    figure, axis = plt.subplots(figsize=WIDE)
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
    return svg(figure)


def health_histogram(scores: pd.DataFrame) -> str:
    table = health_distribution(scores)
    figure, axis = plt.subplots(figsize=WIDE)
    axis.bar(table["from"] + 5, table["accounts"], width=9, color="#4393c3")
    axis.set_xlabel("health score")
    axis.set_ylabel("accounts")
    axis.set_title("Health-score distribution")
    return svg(figure)


def arr_at_risk(by_band: pd.DataFrame) -> str:
    figure, axis = plt.subplots(figsize=WIDE)
    axis.bar(by_band["band"], by_band["arr_at_risk"],
             color=[BAND_COLOURS.get(b, "#878787") for b in by_band["band"]])
    axis.set_title("ARR at risk by band")
    return svg(figure)


def calibration(validation: pd.DataFrame, model: str = "xgboost") -> str:
    """Observed against predicted churn of ``model`` (the scoring candidate) and the health
    score, on the walk-forward predictions."""
    figure, axis = plt.subplots(figsize=WIDE)
    for name, colour in ((model, "#2166ac"), ("health_score", "#878787")):
        table = model_quality.calibration_table(validation["churned_within_horizon"],
                                               validation[f"p_{name}"])
        axis.plot(table["mean_predicted"], table["observed_rate"], "o-", color=colour,
                  label=name.replace("_", " "))
    axis.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    axis.set(title="Calibration (walk-forward)", xlabel="mean predicted churn",
             ylabel="observed churn rate")
    axis.legend(fontsize=8)
    return svg(figure)


def lift(validation: pd.DataFrame, model: str = "xgboost") -> str:
    """Lift by risk decile of ``model`` (the scoring candidate) and the health score."""
    figure, axis = plt.subplots(figsize=WIDE)
    width = 0.4
    for offset, name, colour in ((-width / 2, model, "#2166ac"),
                                 (width / 2, "health_score", "#878787")):
        table = model_quality.lift_by_decile(validation["churned_within_horizon"],
                                            validation[f"p_{name}"])
        axis.bar(table["decile"] + offset, table["lift"], width=width, color=colour,
                 label=name.replace("_", " "))
    axis.axhline(1, color="k", linestyle=":", linewidth=0.8)
    axis.set(title="Lift by risk decile (walk-forward; 1 = riskiest)", xlabel="decile",
             ylabel="lift", xticks=range(1, 11))
    axis.legend(fontsize=8)
    return svg(figure)


def survival_curves(curves: pd.DataFrame, title: str, colours: dict[str, str] | None = None
                    ) -> str:
    """Kaplan-Meier step curves, one per group (``model_quality.kaplan_meier``)."""
    figure, axis = plt.subplots(figsize=WIDE)
    for group, curve in curves.groupby("group", sort=False):
        axis.step(curve["days"], curve["survival"], where="post", label=str(group),
                  color=(colours or {}).get(group))
    axis.set(title=title, xlabel="days after the as-of date", ylabel="share still a customer")
    axis.legend(fontsize=8)
    return svg(figure)


def prediction_histogram(reference: pd.Series, today: pd.Series) -> str:
    figure, axis = plt.subplots(figsize=WIDE)
    edges = np.linspace(0, 1, 21)
    axis.hist([reference, today], bins=edges, density=True, color=["#878787", "#2166ac"],
              label=["latest training dates", "today"])
    axis.set(title="Churn probability: today against training", xlabel="churn probability",
             ylabel="density")
    axis.legend(fontsize=8)
    return svg(figure)


def lead_profile(indicators: pd.DataFrame, outcome: str, top: int = 8) -> str:
    """|AUC - 0.5| of the strongest signals at each lead time (all accounts), with their
    bootstrap intervals: a line that stays up at 90 days leads the outcome by a quarter."""
    rows = indicators[(indicators["outcome"] == outcome) & (indicators["segment"] == "all")]
    longest = rows[rows["lead_days"] == rows["lead_days"].max()]
    features = longest.nsmallest(top, "rank")["feature"]
    figure, axis = plt.subplots(figsize=WIDE)
    for feature in features:
        line = rows[rows["feature"] == feature].sort_values("lead_days")
        sign = np.where(line["auc"] >= 0.5, 1.0, -1.0)
        strength = (line["auc"] - 0.5) * sign
        low = (np.where(sign > 0, line["auc_low"], 1 - line["auc_high"]) - 0.5)
        high = (np.where(sign > 0, line["auc_high"], 1 - line["auc_low"]) - 0.5)
        axis.errorbar(line["lead_days"], strength, yerr=[strength - low, high - strength],
                      marker="o", capsize=3, label=feature)
    axis.axhline(0, color="#999", linewidth=1)
    axis.set_xlabel("lead: days from the as-of date to the end of the 30-day window")
    axis.set_ylabel("|AUC − 0.5|")
    axis.set_title(f"Leading indicators of {outcome} (95% intervals)")
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    return svg(figure)


def qini(curve: pd.DataFrame) -> str:
    """Qini curve of the two-model uplift ranking against the random-targeting line."""
    figure, axis = plt.subplots(figsize=WIDE)
    axis.plot(curve["fraction"] * 100, curve["qini"], color="#2166ac", label="uplift model")
    axis.plot(curve["fraction"] * 100, curve["random"], color="#999", linestyle="--",
              label="random order")
    axis.axvline(10, color="#d73027", linestyle=":", linewidth=1)
    axis.set_xlabel("flagged accounts targeted, highest predicted uplift first (%)")
    axis.set_ylabel("accounts kept by outreach")
    axis.set_title("Qini curve (out of time; dotted: top 10%)")
    axis.legend(fontsize=8, loc="upper left")
    return svg(figure)
