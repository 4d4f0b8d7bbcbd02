"""Figures a data scientist looks at for a walk-forward evaluation (saved as PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import shap  # noqa: E402
from lifelines import KaplanMeierFitter  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from models.analysis.model_quality import calibration_table, lift_by_decile  # noqa: E402
from models.churn.evaluation import CLASSIFIERS, WalkForwardResult  # noqa: E402
from models.inputs import LABEL  # noqa: E402

RISK_BANDS = ("low", "medium", "high")


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def roc_pr_curves(result: WalkForwardResult, path: Path) -> Path:
    figure, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(11, 4.5))
    y = result.predictions[LABEL]
    scores = {m: result.predictions[f"p_{m}"] for m in CLASSIFIERS}
    scores["cox (90 d)"] = result.predictions["cox_p_90d"]
    for name, score in scores.items():
        fpr, tpr, _ = roc_curve(y, score)
        precision, recall, _ = precision_recall_curve(y, score)
        roc_ax.plot(fpr, tpr, label=name)
        pr_ax.plot(recall, precision, label=name)
    roc_ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    roc_ax.set(title="ROC (pooled walk-forward)", xlabel="false positive rate",
               ylabel="true positive rate")
    pr_ax.set(title="Precision-recall", xlabel="recall", ylabel="precision")
    roc_ax.legend(), pr_ax.legend()
    return _save(figure, path)


def calibration_plot(result: WalkForwardResult, path: Path) -> Path:
    figure, ax = plt.subplots(figsize=(5.5, 5))
    y = result.predictions[LABEL]
    for model in ("xgboost", "health_score"):
        table = calibration_table(y, result.predictions[f"p_{model}"])
        ax.plot(table["mean_predicted"], table["observed_rate"], "o-", label=model)
    ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    ax.set(title="Calibration (pooled walk-forward)", xlabel="mean predicted churn",
           ylabel="observed churn rate")
    ax.legend()
    return _save(figure, path)


def lift_by_decile_plot(result: WalkForwardResult, path: Path) -> Path:
    figure, ax = plt.subplots(figsize=(7, 4.5))
    y = result.predictions[LABEL]
    width = 0.4
    for offset, model in ((-width / 2, "xgboost"), (width / 2, "health_score")):
        table = lift_by_decile(y, result.predictions[f"p_{model}"])
        ax.bar(table["decile"] + offset, table["lift"], width=width, label=model)
    ax.axhline(1, color="k", linestyle=":", linewidth=0.8)
    ax.set(title="Lift by risk decile (1 = riskiest)", xlabel="decile", ylabel="lift",
           xticks=range(1, 11))
    ax.legend()
    return _save(figure, path)


def shap_summary(result: WalkForwardResult, beeswarm_path: Path,
                 importance_path: Path) -> tuple[Path, Path]:
    data = result.shap_data.apply(
        lambda c: c.cat.codes.astype(float) if isinstance(c.dtype, pd.CategoricalDtype) else c)
    explanation = shap.Explanation(values=result.shap_values.to_numpy(),
                                   data=data.to_numpy(dtype=float),
                                   feature_names=list(result.shap_values.columns))
    plt.figure(figsize=(8, 7))
    shap.plots.beeswarm(explanation, max_display=15, show=False)
    _save(plt.gcf(), beeswarm_path)
    figure, ax = plt.subplots(figsize=(7, 6))
    top = result.shap_importance.head(20)[::-1]
    ax.barh(top.index, top.to_numpy())
    ax.set(title="Mean |SHAP| (XGBoost, out-of-fold)", xlabel="mean |SHAP| (log-odds)")
    return beeswarm_path, _save(figure, importance_path)


def kaplan_meier_by_risk_band(result: WalkForwardResult, path: Path) -> Path:
    """Observed survival of test rows grouped by predicted-risk tercile."""
    figure, ax = plt.subplots(figsize=(6.5, 4.5))
    predictions = result.predictions
    bands = pd.qcut(predictions["p_xgboost"].rank(method="first"), 3, labels=RISK_BANDS)
    for band in RISK_BANDS:
        rows = predictions[bands == band]
        KaplanMeierFitter(label=f"{band} predicted risk").fit(
            rows["duration_days"], rows["churn_observed"]).plot_survival_function(ax=ax)
    ax.set(title="Kaplan-Meier by predicted risk band", xlabel="days after as-of date",
           ylabel="share still a customer")
    return _save(figure, path)


def save_all(result: WalkForwardResult, directory: Path) -> list[Path]:
    """Every figure of the report, written into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    return [
        roc_pr_curves(result, directory / "roc_pr_curves.png"),
        calibration_plot(result, directory / "calibration.png"),
        lift_by_decile_plot(result, directory / "lift_by_decile.png"),
        *shap_summary(result, directory / "shap_beeswarm.png",
                      directory / "feature_importance.png"),
        kaplan_meier_by_risk_band(result, directory / "kaplan_meier_by_risk_band.png"),
    ]
