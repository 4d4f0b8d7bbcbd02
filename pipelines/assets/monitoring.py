"""Monitoring layer: retention metrics and the daily report for leaders, drift and realised
performance for data scientists."""

import functools
from pathlib import Path

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    Output,
    asset,
    multi_asset,
)

from features import retention
from features.event_vocabulary import readable_event_columns
from features.labels import active_periods
from features.retention_kpis import (
    churn_by_kind,
    churn_events,
    renewal_events,
    renewal_rates,
    window_retention,
)
from models.analysis import model_quality
from models.analysis.drift import DriftThresholds, feature_drift
from models.analysis.outcomes import label_scores, realised_performance, surprise_churn
from models.inputs import feature_columns
from models.reports.daily import ReportInputs, render_report
from models.reports.portfolio import render_portfolio
from models.tracking import MONITORING_EXPERIMENT, log_monitoring, validation_of
from pipelines.assets.features import account_snapshot
from pipelines.assets.scoring import account_scores
from pipelines.partitions import daily_partitions, run_days
from pipelines.resources import AccountHealthSettings, MlflowTracking

GROUP = "monitoring"
#: Groupings of the retention table besides the whole business, when the column exists.
RETENTION_DIMENSIONS = ["segment", "plan", "csm_owner"]
#: Cohorts are split only by what an account keeps (a plan changes from month to month).
COHORT_DIMENSIONS = ["segment", "csm_owner"]
#: How far back model_outcomes reads daily scores: bounded, so its cost does not grow with
#: history; a horizon (90 days) plus the surprise window (90 days) fits with room to spare.
OUTCOME_LOOKBACK_DAYS = 365
SCORE_COLUMNS = ["account_id", "as_of", "churn_probability", "band", "color", "model_version"]


@asset(group_name=GROUP, ins={"subscriptions": AssetIn(), "accounts": AssetIn()})
def mrr_movements(settings: AccountHealthSettings, subscriptions: pd.DataFrame,
                  accounts: pd.DataFrame | None) -> pd.DataFrame:
    """Per account and complete month: starting and ending MRR and the movement between
    them (docs/metrics.md), with the account's segment and CSM owner when known."""
    last_day = settings.current_time().tz_localize(None).normalize() - pd.Timedelta(days=1)
    movements = retention.mrr_movements(subscriptions, last_day=last_day)
    if accounts is not None:
        present = [c for c in RETENTION_DIMENSIONS if c in accounts.columns and c != "plan"]
        movements = retention.with_account_attributes(movements, accounts, present)
    return movements


def _by_dimension(movements: pd.DataFrame, summarise, dimensions: list[str]) -> pd.DataFrame:
    """``summarise`` for the whole business (``dimension = overall``) and per dimension."""
    tables = [summarise(movements, None).assign(dimension="overall", group="all")]
    for dimension in [d for d in dimensions if d in movements.columns]:
        table = summarise(movements, [dimension]).rename(columns={dimension: "group"})
        tables.append(table.assign(dimension=dimension))
    result = pd.concat(tables, ignore_index=True)
    return result[["dimension", "group", *[c for c in result if c not in ("dimension", "group")]]]


@asset(group_name=GROUP)
def retention_metrics(context: AssetExecutionContext, settings: AccountHealthSettings,
                      mrr_movements: pd.DataFrame) -> pd.DataFrame:
    """Monthly NRR, GRR, logo retention and their MRR movements for the whole business and by
    segment, plan and CSM owner; also written to ``reports/retention_metrics.csv``."""
    result = _by_dimension(mrr_movements, retention.retention_by_month, RETENTION_DIMENSIONS)
    result.to_csv(settings.reports_dir() / "retention_metrics.csv", index=False)
    overall = result[result["dimension"] == "overall"].dropna(subset=["nrr"]).tail(3)
    if len(overall):
        latest = overall.iloc[-1]
        context.add_output_metadata({
            "last_complete_month": str(latest["month"].date()), "nrr": float(latest["nrr"]),
            "grr": float(latest["grr"]), "logo_retention": float(latest["logo_retention"]),
            "last_months": MetadataValue.md(overall[["month", "starting_mrr", "nrr", "grr",
                                                     "logo_retention"]].to_markdown(
                index=False, floatfmt=".3f"))})
    return result


@asset(group_name=GROUP)
def cohort_retention(settings: AccountHealthSettings,
                     mrr_movements: pd.DataFrame) -> pd.DataFrame:
    """Logo and revenue retention curves by monthly cohort (first paying month), for the
    whole business and by segment and CSM owner; also ``reports/cohort_retention.csv``."""
    last = mrr_movements["month"].max()
    result = _by_dimension(mrr_movements, lambda movements, by: retention.cohort_retention(
        movements, by, last_month=last), COHORT_DIMENSIONS)
    result.to_csv(settings.reports_dir() / "cohort_retention.csv", index=False)
    return result


@multi_asset(
    group_name=GROUP,
    ins={"subscriptions": AssetIn(), "invoices": AssetIn()},
    outs={
        "retention_kpis": AssetOut(description=(
            "Trailing-12-month and quarterly NRR, GRR and expansion rates by customers and "
            "by revenue; also reports/retention_windows.csv")),
        "renewal_rates": AssetOut(description=(
            "Gross renewal rate per complete quarter by count and by ARR; also "
            "reports/renewals.csv")),
        "churn_by_kind": AssetOut(description=(
            "Churn per month split into voluntary and involuntary; also "
            "reports/churn_by_kind.csv")),
    },
)
def retention_kpis(context: AssetExecutionContext, settings: AccountHealthSettings,
                   mrr_movements: pd.DataFrame, subscriptions: pd.DataFrame,
                   invoices: pd.DataFrame | None):
    """What a CS leader reports (docs/metrics.md): retention windows, renewal rates and
    churn by kind, each an asset of its own and a CSV for people."""
    last_day = settings.current_time().tz_localize(None).normalize() - pd.Timedelta(days=1)
    windows = pd.concat([
        window_retention(mrr_movements, months=12).assign(window="trailing 12 months"),
        window_retention(mrr_movements, months=3, quarters_only=True).assign(window="quarter"),
    ], ignore_index=True)
    renewals = renewal_rates(renewal_events(subscriptions, last_day))
    renewals = renewals[renewals["period_end"] <= last_day]  # complete quarters only
    churn = churn_by_kind(churn_events(subscriptions, invoices, last_day))
    reports = settings.reports_dir()
    windows.to_csv(reports / "retention_windows.csv", index=False)
    renewals.to_csv(reports / "renewals.csv", index=False)
    churn.to_csv(reports / "churn_by_kind.csv", index=False)
    latest = {name: windows[windows["window"] == name].tail(1)
              for name in ("trailing 12 months", "quarter")}
    quarters = renewals[renewals["term_months"] == 0].tail(1)
    yield Output(windows, "retention_kpis", metadata={
        f"{name} {kpi}": round(float(row[kpi].iloc[0]), 4)
        for name, row in latest.items() if len(row) for kpi in ("nrr", "grr")})
    yield Output(renewals, "renewal_rates", metadata=(
        {"renewal_rate_last_quarter": round(float(quarters["renewal_rate"].iloc[0]), 4)}
        if len(quarters) else {}))
    yield Output(churn, "churn_by_kind", metadata={
        "involuntary_churn_share": round(float(churn["involuntary"].sum()
                                               / max(churn["churned_accounts"].sum(), 1)), 4)})


@asset(
    name="feature_drift",
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={"training_set": AssetIn(), "event_vocabulary": AssetIn()},
    deps=[account_snapshot],
    metadata={"partition_column": "as_of_date"},
    check_specs=[AssetCheckSpec(
        "features_have_not_drifted", asset="feature_drift",
        description="Warns when a feature's distribution today has moved away from the "
                    "training data (PSI or KS above the thresholds): the model is scoring "
                    "a population it was not trained on; retrain (job train_churn_models).")],
)
def feature_drift_asset(context: AssetExecutionContext, settings: AccountHealthSettings,
                        training_set: pd.DataFrame, event_vocabulary: pd.DataFrame | None):
    """Per day and feature: PSI and KS of the day's snapshot against the training set."""
    features = feature_columns(training_set)
    thresholds = DriftThresholds(psi=settings.drift_psi_threshold,
                                 ks=settings.drift_ks_threshold)
    exempt = tuple(f.strip() for f in settings.drift_exempt_features.split(",") if f.strip())
    days = run_days(context)
    event_names = settings.event_taxonomy(event_vocabulary).tracked_events
    tables = []
    for day in days:
        snapshot_file = settings.snapshot_dir() / f"{day:%Y-%m-%d}.parquet"
        if not snapshot_file.exists():
            raise Failure(f"no account_snapshot for {day:%Y-%m-%d}; materialise it first")
        today = readable_event_columns(pd.read_parquet(snapshot_file), event_names)
        tables.append(feature_drift(training_set, today, features, thresholds=thresholds,
                                    exempt=exempt).assign(as_of_date=day))
    result = pd.concat(tables, ignore_index=True)
    last = result[result["as_of_date"] == days[-1]]
    drifted = last.loc[last["drifted"], "feature"].tolist()
    yield Output(result, metadata={"max_psi": float(last["psi"].max()),
                                   "drifted_features": ", ".join(drifted) or "none"})
    yield AssetCheckResult(
        check_name="features_have_not_drifted", asset_key="feature_drift",
        passed=not drifted, severity=AssetCheckSeverity.WARN,
        description=(f"{len(drifted)} feature(s) drifted on {days[-1]:%Y-%m-%d}: "
                     f"{', '.join(drifted)}; retraining is recommended (job "
                     "train_churn_models)" if drifted else None),
        metadata={"day": f"{days[-1]:%Y-%m-%d}", "drifted_features": ", ".join(drifted) or "none",
                  "top_psi": MetadataValue.md(last.head(5)[["feature", "psi", "ks_statistic"]]
                                              .to_markdown(index=False, floatfmt=".3f"))})


def _validations(mlflow_tracking: MlflowTracking):
    """The walk-forward validation of a model version, fetched from MLflow once per run."""
    mlflow_tracking.activate()
    return functools.cache(validation_of)


@asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=[account_scores],
    metadata={"partition_column": "as_of_date"},
    check_specs=[AssetCheckSpec(
        "predictions_have_not_drifted", asset="prediction_drift",
        description="Warns when today's churn probabilities are distributed unlike the "
                    "same model's predictions on its latest training dates (PSI or KS above "
                    "the drift thresholds): the population it scores has moved from the one "
                    "it was trained and validated on; retrain (job train_churn_models).")],
)
def prediction_drift(context: AssetExecutionContext, settings: AccountHealthSettings,
                     mlflow_tracking: MlflowTracking):
    """Per day: PSI and KS of the scored churn probabilities against the scoring model's own
    predictions on its latest training dates, the mean of each and the share flagged red
    in each."""
    validation = _validations(mlflow_tracking)
    health = settings.scoring_config().health
    thresholds = DriftThresholds(psi=settings.drift_psi_threshold,
                                 ks=settings.drift_ks_threshold)
    days = run_days(context)
    rows = []
    for day in days:
        scores = pd.read_parquet(settings.asset_file("account_scores", day),
                                 columns=["churn_probability", "color", "model_version"])
        version = str(scores["model_version"].iloc[0])
        reference = validation(version)
        row = {"as_of_date": day, "model_version": version}
        if reference is not None and reference.reference is not None:
            predictions = reference.reference["churn_probability"]
            segments = reference.reference["segment"]
            flagged = model_quality.bands_of(predictions, segments, health)["color"] == "red"
            row |= model_quality.prediction_drift(
                predictions, scores["churn_probability"], thresholds=thresholds,
                flagged_reference=flagged, flagged_current=scores["color"] == "red")
        rows.append(row)
    result = pd.DataFrame(rows)
    last = rows[-1]
    yield Output(result, metadata={k: v for k, v in last.items() if k != "as_of_date"})
    if "psi" not in last:
        yield AssetCheckResult(
            check_name="predictions_have_not_drifted", asset_key="prediction_drift",
            passed=True, description=f"model version {last['model_version']} has no saved "
            "reference predictions to compare with (trained before they were logged)")
        return
    yield AssetCheckResult(
        check_name="predictions_have_not_drifted", asset_key="prediction_drift",
        passed=not last["drifted"], severity=AssetCheckSeverity.WARN,
        description=(f"churn probabilities on {days[-1]:%Y-%m-%d} drifted from training "
                     f"(PSI {last['psi']:.3f}, KS {last['ks_statistic']:.3f}; mean "
                     f"{last['mean_current']:.3f} against {last['mean_reference']:.3f}); "
                     "retraining is recommended (job train_churn_models)"
                     if last["drifted"] else None),
        metadata={"day": f"{days[-1]:%Y-%m-%d}", "psi": last["psi"],
                  "ks_statistic": last["ks_statistic"]})


@asset(
    group_name=GROUP,
    deps=[account_scores],
    ins={"subscriptions": AssetIn()},
    check_specs=[AssetCheckSpec(
        "model_still_performs", asset="model_outcomes",
        description="Warns when the realised ROC AUC of the latest scored day whose outcome is "
                    "known falls below the promotion floor: the model has degraded since it "
                    "was validated; retrain (job train_churn_models).")],
)
def model_outcomes(settings: AccountHealthSettings, subscriptions: pd.DataFrame):
    """Past daily scores judged once their horizon has closed: per scored day, realised ROC AUC,
    calibration error, lift at 10 % and the at-risk band's false-positive rate; the surprise
    churns (green 30-90 days before) in ``reports/surprise_churn.csv``."""
    observed_until = settings.current_time().tz_localize(None).normalize() - pd.Timedelta(days=1)
    first = observed_until - pd.Timedelta(days=OUTCOME_LOOKBACK_DAYS)
    files = [f for f in sorted(settings.partition_dir("account_scores")
                               .glob("*.parquet")) if pd.Timestamp(f.stem) >= first]
    scores = (pd.concat([pd.read_parquet(f, columns=SCORE_COLUMNS) for f in files],
                        ignore_index=True) if files else pd.DataFrame(columns=SCORE_COLUMNS))
    periods = active_periods(subscriptions)
    performance = pd.DataFrame(columns=["as_of", "roc_auc"])
    surprises = pd.DataFrame(columns=["account_id", "churn_date", "as_of", "band", "color",
                                      "surprise"])
    if len(scores):
        labelled = label_scores(scores, periods, horizon_days=settings.horizon_days,
                                observed_until=observed_until)
        if len(labelled):
            performance = realised_performance(labelled)
        surprises = surprise_churn(scores, periods, observed_until=observed_until)
    surprises.to_csv(settings.reports_dir() / "surprise_churn.csv", index=False)
    performance.to_csv(settings.reports_dir() / "model_outcomes.csv", index=False)
    surprise_rate = float(surprises["surprise"].mean()) if len(surprises) else float("nan")
    latest = performance.dropna(subset=["roc_auc"]).tail(1)
    yield Output(performance, metadata={
        "judged_days": len(performance), "surprise_churns": int(surprises["surprise"].sum()),
        "surprise_churn_rate": surprise_rate,
        "latest_judged_day": str(latest["as_of"].iloc[0]) if len(latest) else "none"})
    if latest.empty:
        yield AssetCheckResult(check_name="model_still_performs", asset_key="model_outcomes",
                               passed=True, description="no scored day has a known outcome yet "
                               f"(the horizon is {settings.horizon_days} days)")
        return
    auc = float(latest["roc_auc"].iloc[0])
    yield AssetCheckResult(
        check_name="model_still_performs", asset_key="model_outcomes",
        passed=auc >= settings.auc_floor, severity=AssetCheckSeverity.WARN,
        description=None if auc >= settings.auc_floor else
        f"realised ROC AUC {auc:.3f} is below the floor {settings.auc_floor}; retraining is "
        "recommended (job train_churn_models)",
        metadata={"as_of": str(latest["as_of"].iloc[0]), "realised_roc_auc": auc,
                  "auc_floor": settings.auc_floor, "surprise_churn_rate": surprise_rate})


def _links(settings: AccountHealthSettings, day: str) -> dict[str, str]:
    """The day's other pages and tables that exist, relative to reports/daily/<day>.html."""
    targets = {"portfolio: every account, by CSM": settings.reports_dir() / "portfolio" / day
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
    deps=[account_scores, "feature_drift", prediction_drift, "csm_work_queue", "account_alerts"],
    ins={"retention_metrics": AssetIn(), "model_outcomes": AssetIn()},
)
def daily_report(context: AssetExecutionContext, settings: AccountHealthSettings,
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
    validation = _validations(mlflow_tracking)
    monitoring_experiment, monitoring_run = mlflow_tracking.activate(MONITORING_EXPERIMENT), None
    directory = settings.reports_dir() / "daily"
    directory.mkdir(parents=True, exist_ok=True)
    for day in run_days(context):
        name = f"{day:%Y-%m-%d}"
        scores = pd.read_parquet(settings.asset_file("account_scores", name))
        drift, predictions = (_partition(settings.asset_file(a, name))
                              for a in ("feature_drift", "prediction_drift"))
        prediction_figures = predictions.iloc[0].to_dict() if len(predictions) else {}
        reference = validation(str(scores["model_version"].iloc[0]))
        write_portfolio(settings, day, scores, bands)
        page = render_report(ReportInputs(
            day=name, scores=scores, retention=overall, bands=bands, drift=drift,
            outcomes=model_outcomes, health=health, prediction_drift=prediction_figures,
            drift_thresholds=DriftThresholds(psi=settings.drift_psi_threshold,
                                             ks=settings.drift_ks_threshold),
            targets={"nrr": settings.nrr_target, "grr": settings.grr_target,
                     "logo_retention": settings.logo_retention_target},
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


def write_portfolio(settings: AccountHealthSettings, day: pd.Timestamp, scores: pd.DataFrame,
                    bands: list[str]) -> Path:
    """The day's portfolio pages (``reports/portfolio/<day>/``): every account, filterable,
    and a page per CSM; health compared with the scores of 7 and 30 days before."""
    name = f"{day:%Y-%m-%d}"

    stored = settings.stored_partition

    pages = render_portfolio(
        name, scores, week_before=stored("account_scores", day - pd.Timedelta(days=7)),
        month_before=stored("account_scores", day - pd.Timedelta(days=30)),
        alerts=stored("account_alerts", day), work_queue=stored("csm_work_queue", day),
        bands=bands)
    directory = settings.reports_dir() / "portfolio" / name
    directory.mkdir(parents=True, exist_ok=True)
    for file, page in pages.items():
        (directory / file).write_text(page)
    return directory / "portfolio.html"


def _partition(path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()
