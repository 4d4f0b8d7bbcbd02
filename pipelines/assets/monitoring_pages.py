"""Monitoring layer, pages: the daily report for leaders and the portfolio and CSM pages."""

from pathlib import Path

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from models.analysis.drift import DriftThresholds
from models.reports.account_page import page_file
from models.reports.daily import ReportInputs, render_report
from models.reports.portfolio import render_portfolio
from models.tracking import MONITORING_EXPERIMENT, log_monitoring
from pipelines.assets.monitoring_drift import prediction_drift, scoring_model_validation
from pipelines.assets.scoring_scores import account_scores
from pipelines.partitions import daily_partitions, run_days
from pipelines.resources import AccountHealthSettings, MlflowTracking
from pipelines.storage import AssetStorage

GROUP = "monitoring"


def _links(settings: AccountHealthSettings, day: str) -> dict[str, str]:
    """The day's other pages and tables that exist, relative to reports/daily/<day>.html."""
    targets = {"portfolio: accounts by risk and by CSM": settings.reports_dir() / "portfolio" / day
               / "portfolio.html",
               "leading indicators": settings.reports_dir() / "leading_indicators.html",
               "interventions": settings.reports_dir() / "interventions.html",
               "expansion opportunities (CSV)": settings.export_file("opportunities", day),
               "CSM work queue (CSV)": settings.export_file("work_queue", day),
               "alerts (CSV)": settings.export_file("alerts", day)}
    return {label: f"../../{path.relative_to(settings.output_path).as_posix()}"
            for label, path in targets.items() if path.exists()}


@asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=[account_scores, "feature_drift", prediction_drift, "csm_work_queue", "account_alerts",
          "work_items", "account_pages"],
    ins={"retention_metrics": AssetIn(), "model_outcomes": AssetIn()},
)
def daily_report(context: AssetExecutionContext, settings: AccountHealthSettings,
                 storage: AssetStorage,
                 mlflow_tracking: MlflowTracking, retention_metrics: pd.DataFrame,
                 model_outcomes: pd.DataFrame) -> MaterializeResult:
    """A self-contained HTML report per day, ``reports/daily/<day>.html``: the executive page
    (retention against targets, MRR waterfall, health distribution, ARR at risk, the top
    accounts with reasons, actions and component scores) and the model-health page (the
    scoring model's walk-forward metrics, calibration, lift and Kaplan-Meier curves;
    prediction and feature drift; realised performance; the component weights'
    sensitivity). Opens in any browser without a server. The day's headline
    and monitoring figures, and the report, are also logged as the day's run in the MLflow
    experiment account-health-monitoring, tagged with the scoring model's version."""
    config = settings.scoring_config()
    health = config.health
    every_band = [*health.bands, *(b for bands in health.segment_bands.values() for b in bands)]
    bands = list(dict.fromkeys(b.name for b in sorted(every_band, key=lambda b: -b.min_score)))
    overall = retention_metrics[retention_metrics["dimension"] == "overall"]
    latest = overall.dropna(subset=["nrr"]).tail(1)
    retention_figures = ({"nrr": float(latest["nrr"].iloc[0]),
                          "grr": float(latest["grr"].iloc[0]),
                          "logo_retention": float(latest["logo_retention"].iloc[0])}
                         if len(latest) else {})
    judged = model_outcomes.dropna(subset=["roc_auc"]).tail(1)
    outcome_figures = ({"realised_roc_auc": float(judged["roc_auc"].iloc[0]),
                        "realised_ece": float(judged["ece"].iloc[0])} if len(judged) else {})
    validation = scoring_model_validation(mlflow_tracking)
    monitoring_experiment, monitoring_run = mlflow_tracking.activate(MONITORING_EXPERIMENT), None
    directory = settings.reports_dir() / "daily"
    directory.mkdir(parents=True, exist_ok=True)
    for day in run_days(context):
        name = f"{day:%Y-%m-%d}"
        scores = pd.read_parquet(storage.asset_file("account_scores", name))
        drift, predictions = (_partition(storage.asset_file(a, name))
                              for a in ("feature_drift", "prediction_drift"))
        prediction_figures = predictions.iloc[0].to_dict() if len(predictions) else {}
        reference = validation(str(scores["model_version"].iloc[0]))
        write_portfolio(settings, storage, day, scores, bands)
        page = render_report(ReportInputs(
            day=name, scores=scores, retention=overall, bands=bands, drift=drift,
            outcomes=model_outcomes, health=health, prediction_drift=prediction_figures,
            drift_thresholds=DriftThresholds(psi=settings.monitoring.drift_psi_threshold,
                                             ks=settings.monitoring.drift_ks_threshold),
            targets={"nrr": settings.monitoring.nrr_target, "grr": settings.monitoring.grr_target,
                     "logo_retention": settings.monitoring.logo_retention_target},
            **({"validation": reference.predictions,
                "validation_metrics": reference.pooled_metrics,
                "reference": reference.reference} if reference else {}),
            links=_links(settings, name), components=config.components))
        path = directory / f"{name}.html"
        path.write_text(page)
        headline = {"accounts_scored": len(scores),
                    "arr_at_risk": float(scores["arr_at_risk"].sum()),
                    "red_accounts": int((scores["color"] == "red").sum()),
                    **retention_figures}
        if reference is not None:
            monitoring_run = log_monitoring(monitoring_experiment, day, {
                **headline, **outcome_figures,
                "max_feature_psi": float(drift["psi"].max()) if len(drift) else None,
                "drifted_features": int(drift["drifted"].sum()) if len(drift) else None,
                "prediction_psi": prediction_figures.get("psi"),
                "mean_churn_probability": float(scores["churn_probability"].mean())},
                model_version=reference.version, training_run_id=reference.run_id, report=path)
    return MaterializeResult(metadata={
        # a backfill records one materialisation per day; the figures are of its last day
        "day": name, "report": MetadataValue.path(str(path)),
        "open": MetadataValue.url(path.as_uri()), **headline,
        **({"mlflow_monitoring_run_id": monitoring_run} if monitoring_run else {})})


def write_portfolio(settings: AccountHealthSettings, storage: AssetStorage, day: pd.Timestamp,
                    scores: pd.DataFrame, bands: list[str]) -> Path:
    """The day's portfolio pages (``reports/portfolio/<day>/``): every account, filterable,
    and a page per CSM; health compared with the scores of 7 and 30 days before."""
    name = f"{day:%Y-%m-%d}"

    stored = storage.stored_partition

    pages = render_portfolio(
        name, scores, week_before=stored("account_scores", day - pd.Timedelta(days=7)),
        month_before=stored("account_scores", day - pd.Timedelta(days=30)),
        alerts=stored("account_alerts", day), work_queue=stored("csm_work_queue", day),
        work_items=stored("work_items", day), bands=bands,
        pages=_account_pages(settings, scores["account_id"]))
    directory = settings.reports_dir() / "portfolio" / name
    directory.mkdir(parents=True, exist_ok=True)
    for file, page in pages.items():
        (directory / file).write_text(page)
    return directory / "portfolio.html"


def _account_pages(settings: AccountHealthSettings, accounts: pd.Series) -> dict[str, str]:
    """Each account's page (``account_pages``), relative to a portfolio page, where one was
    written."""
    written = {p.name for p in (settings.reports_dir() / "accounts").glob("*.html")}
    return {account: f"../../accounts/{name}" for account in accounts
            if (name := page_file(account)) in written}


def _partition(path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()
