"""Model layer: walk-forward validation, final training and registry promotion (MLflow)."""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from features.expansion_events import expansion_events
from features.training_set import too_little_history
from models.analysis.interventions import (
    TREATED,
    intervention_episodes,
    intervention_summary,
    qini_coefficient,
    qini_curve,
    success_by_lead_time,
    uplift_at,
    walk_forward_uplift,
    wilson_interval,
    with_features,
)
from models.analysis.leading_indicators import (
    churn_outcomes,
    collinear_groups,
    expansion_outcomes,
    indicator_table,
)
from models.analysis.model_quality import reference_predictions
from models.churn.baselines import HEALTH_WEIGHTS, correlation_weights
from models.churn.bundle import train_bundle
from models.churn.classifier import ClassifierConfig
from models.churn.evaluation import (
    BASELINES,
    TEXTBOOK,
    chosen_candidate,
    chosen_line,
    evaluate_walk_forward,
    pooled_summary,
)
from models.churn.logistic import LogisticConfig
from models.churn.survival import SurvivalConfig
from models.expansion.model import (
    EXPANSION_CLASSIFIER,
    decide_expansion_promotion,
    evaluate_expansion,
    train_expansion_model,
)
from models.inputs import LABEL, feature_columns, informative_columns
from models.promotion import decide_promotion
from models.reports.interventions import render_absent_page, render_interventions_page
from models.reports.signals import render_signals_page
from models.tracking import (
    EXPANSION_EXPERIMENT,
    EXPANSION_MODEL,
    apply_decision,
    champion_metrics,
    data_hash,
    log_bundle,
    log_expansion_validation,
    log_walk_forward,
    tag_candidate,
)
from models.walk_forward import spaced_dates
from pipelines.resources import AccountHealthSettings, MlflowTracking

GROUP = "models"
#: Days between the training dates leading indicators are computed on.
INDICATOR_SPACING_DAYS = 28
#: Expansions (complete labels) the history must hold before an expansion model is trained.
MIN_EXPANSIONS = 20


@asset(group_name=GROUP, ins={"training_set": AssetIn()})
def churn_model_validation(context: AssetExecutionContext, settings: AccountHealthSettings,
                           mlflow_tracking: MlflowTracking,
                           training_set: pd.DataFrame) -> pd.DataFrame:
    """Walk-forward metrics of the candidates (XGBoost, logistic regression, Cox) and the
    baselines on the same folds; one MLflow parent run. Constant or empty feature columns
    are left out of the fit and listed in the metadata."""
    mlflow_tracking.activate()
    if training_set.empty:
        days = settings.snapshot_days()
        raise Failure(description=too_little_history(
            pd.Timestamp(days[0]), pd.Timestamp(days[-1]), horizon_days=settings.horizon_days))
    folds = settings.walk_forward_folds(training_set["as_of_date"])
    classifier, survival = ClassifierConfig(), SurvivalConfig()
    result = evaluate_walk_forward(training_set, folds, classifier_config=classifier,
                                   survival_config=survival,
                                   max_training_rows=settings.max_training_rows,
                                   horizon_days=settings.horizon_days,
                                   promotion_margin=settings.promotion_margin)
    params = {
        "horizon_days": settings.horizon_days, "n_folds": len(folds),
        "fold_origins": ",".join(f.origin.date().isoformat() for f in folds),
        "features": ",".join(feature_columns(training_set)),
        "training_rows": len(training_set), "data_hash": data_hash(training_set),
        "max_training_rows": settings.max_training_rows,
        "fitted_on": ("every row" if len(training_set) <= settings.max_training_rows
                      else "a stratified sample of accounts (models/training_sample.py)"),
        "features_left_out": ",".join(informative_columns(
            training_set, feature_columns(training_set))[1]) or "none",
        **{f"xgboost.{k}": v for k, v in classifier.params().items()},
        **{f"logistic.{k}": v for k, v in LogisticConfig().params().items()},
        **{f"cox.{k}": v for k, v in vars(survival).items()},
    }
    run_id = log_walk_forward(result, folds, params,
                              run_name=f"walk-forward to {folds[-1].origin.date()}")
    summary = pooled_summary(result.pooled_metrics)
    context.add_output_metadata({
        "mlflow_run_id": run_id,
        "pooled_metrics": MetadataValue.md(summary.to_markdown(floatfmt=".4f")),
        "top_shap_features": ", ".join(result.shap_importance.index[:10]),
        "ph_assumption_violations": int(result.proportional_hazards["violates"].sum()),
        "folds": len(folds), "chosen_candidate": chosen_line(result.pooled_metrics),
        "features_left_out": ", ".join(informative_columns(
            training_set, feature_columns(training_set))[1]) or "none",
    })
    return result.pooled_metrics.assign(mlflow_run_id=run_id)


@asset(group_name=GROUP, ins={"training_set": AssetIn(), "churn_model_validation": AssetIn(),
                               "event_vocabulary": AssetIn()})
def churn_model(context: AssetExecutionContext, settings: AccountHealthSettings,
                mlflow_tracking: MlflowTracking, training_set: pd.DataFrame,
                churn_model_validation: pd.DataFrame,
                event_vocabulary: pd.DataFrame | None) -> pd.DataFrame:
    """The candidate classifier the walk-forward evidence chose (the simplest within one
    standard error of the best), with its horizon curve, fitted on all rows, logged and
    registered in MLflow (tagged with the candidate)."""
    mlflow_tracking.activate()
    run_id = churn_model_validation["mlflow_run_id"].iloc[0]
    candidate = chosen_candidate(churn_model_validation)
    bundle = train_bundle(training_set, horizon_days=settings.horizon_days,
                          candidate=candidate,
                          event_names=settings.event_taxonomy(event_vocabulary).tracked_events,
                          max_training_rows=settings.max_training_rows)
    model_uri, version = log_bundle(run_id, bundle, training_set,
                                    reference=reference_predictions(bundle, training_set))
    tag_candidate(version, candidate)
    context.add_output_metadata({"model_uri": model_uri, "registered_version": version,
                                 "candidate": candidate})
    return pd.DataFrame([{"mlflow_run_id": run_id, "model_uri": model_uri, "version": version,
                          "candidate": candidate}])


@asset(group_name=GROUP, ins={"churn_model": AssetIn(), "churn_model_validation": AssetIn()})
def churn_model_promotion(context: AssetExecutionContext, settings: AccountHealthSettings,
                          mlflow_tracking: MlflowTracking, churn_model: pd.DataFrame,
                          churn_model_validation: pd.DataFrame) -> pd.DataFrame:
    """Champion if it beats the textbook model, the champion and the baselines by the
    margin, else challenger (a
    day is then scored by the champion, or without one, by this version, marked as below
    the bar)."""
    mlflow_tracking.activate()
    pooled = churn_model_validation.set_index("model")
    version = str(churn_model["version"].iloc[0])
    candidate = str(churn_model["candidate"].iloc[0])
    champion = champion_metrics()
    decision = decide_promotion(
        pooled.loc[candidate].to_dict(),
        {b: pooled.loc[b].to_dict() for b in BASELINES if b in pooled.index},
        champion, margin=settings.promotion_margin, auc_floor=settings.auc_floor,
        textbook=None if candidate == TEXTBOOK else pooled.loc[TEXTBOOK].to_dict())
    alias = apply_decision(version, decision)
    context.add_output_metadata({"version": version, "alias": alias, "reason": decision.reason})
    return pd.DataFrame([{"version": version, "alias": alias, "promoted": decision.promote,
                          "candidate": candidate, "reason": decision.reason,
                          "previous_champion": None if champion is None
                          else champion["version"]}])


@asset(group_name=GROUP, ins={"training_set": AssetIn(), "subscriptions": AssetIn()},
       check_specs=[AssetCheckSpec(
           "indicators_from_training_dates_only", asset="leading_indicators",
           description="Every numeric signal has figures for every outcome and lead time, "
                       "computed only from as-of dates whose outcome windows closed before "
                       "the last walk-forward origin")])
def leading_indicators(context: AssetExecutionContext, settings: AccountHealthSettings,
                       training_set: pd.DataFrame, subscriptions: pd.DataFrame):
    """Which signals lead churn and expansion, and how far ahead: univariate AUC (with
    account-bootstrap intervals), Spearman and point-biserial correlation per signal, lead
    time (30/60/90 days) and segment, collinear groups and VIFs; the data-driven health
    weights beside the hand-set ones; and the page ``reports/leading_indicators.html``."""
    folds = settings.walk_forward_folds(training_set["as_of_date"])
    origin = folds[-1].origin
    train = training_set[folds[-1].train_mask(training_set["as_of_date"])]
    # one row per account about every four weeks: weekly rows are the same accounts a week
    # apart, and would quadruple the bootstrap's cost for intervals no narrower in truth
    monthly = spaced_dates(train["as_of_date"].unique(), INDICATOR_SPACING_DAYS)
    train = train[train["as_of_date"].isin(monthly)].reset_index(drop=True)
    signals = [c for c in feature_columns(train) if pd.api.types.is_numeric_dtype(train[c])]
    outcomes = {"churn": churn_outcomes(train),
                "expansion": expansion_outcomes(train, expansion_events(subscriptions),
                                                observed_until=origin)}
    table = indicator_table(train, signals, outcomes).merge(
        collinear_groups(train, signals), on="feature", how="left")
    data_weights = correlation_weights(train, train[LABEL])
    weights = pd.DataFrame({"component": list(data_weights),
                            "hand": [HEALTH_WEIGHTS[c] for c in data_weights],
                            "data": list(data_weights.values())})
    dates = f"{train['as_of_date'].min():%Y-%m-%d} to {train['as_of_date'].max():%Y-%m-%d}"
    page = settings.reports_dir() / "leading_indicators.html"
    page.write_text(render_signals_page(table, training_dates=dates, health_weights=weights))
    top = table[(table["segment"] == "all") & (table["rank"] == 1)]
    yield Output(table, metadata={
        "training_dates": dates, "signals": len(signals),
        "strongest": MetadataValue.md(top[["outcome", "lead_days", "feature", "auc", "auc_low",
                                           "auc_high"]].to_markdown(index=False,
                                                                    floatfmt=".3f")),
        "correlation_health_weights": MetadataValue.json(data_weights),
        "report": MetadataValue.path(str(page)), "open": MetadataValue.url(page.as_uri())})
    overall = table[table["segment"] == "all"]
    expected = len(outcomes) * len(next(iter(outcomes.values()))) * len(signals)
    latest_window_end = train["as_of_date"].max() + pd.Timedelta(days=settings.horizon_days)
    yield AssetCheckResult(
        check_name="indicators_from_training_dates_only", asset_key="leading_indicators",
        passed=len(overall) == expected and latest_window_end <= origin,
        metadata={"rows_overall": len(overall), "expected": expected,
                  "latest_window_end": str(latest_window_end.date()),
                  "last_origin": str(origin.date())})


@asset(group_name=GROUP, ins={"training_set": AssetIn()})
def expansion_model_validation(context: AssetExecutionContext, settings: AccountHealthSettings,
                               mlflow_tracking: MlflowTracking,
                               training_set: pd.DataFrame) -> pd.DataFrame:
    """Walk-forward top-N targeting of the expansion model against the rule-based rubric and
    random targeting, on the churn model's folds; one run in the expansion experiment."""
    mlflow_tracking.activate(EXPANSION_EXPERIMENT)
    folds = settings.walk_forward_folds(training_set["as_of_date"])
    expansions = int(training_set.loc[training_set["expansion_label_complete"],
                                      "expanded_within_horizon"].sum())
    if expansions < MIN_EXPANSIONS:
        reason = (f"{expansions} expansions in the history, fewer than the {MIN_EXPANSIONS} "
                  "an expansion model needs; no expansion model is trained")
        context.add_output_metadata({"skipped": reason})
        return pd.DataFrame([{"model": "none", "skipped": reason}])
    config = EXPANSION_CLASSIFIER
    validation = evaluate_expansion(training_set, folds, n=settings.expansion_list_size,
                                    config=config)
    params = {"horizon_days": settings.horizon_days, "n_folds": len(folds),
              "list_size": settings.expansion_list_size,
              "training_rows": len(training_set), "data_hash": data_hash(training_set),
              **{f"xgboost.{k}": v for k, v in config.params().items()}}
    run_id = log_expansion_validation(validation, folds, params,
                                      run_name=f"walk-forward to {folds[-1].origin.date()}")
    context.add_output_metadata({
        "mlflow_run_id": run_id,
        "pooled_metrics": MetadataValue.md(validation.pooled_metrics.to_markdown(
            index=False, floatfmt=".4f")),
        "expansion_rate": float(training_set["expanded_within_horizon"].mean())})
    return validation.pooled_metrics.assign(mlflow_run_id=run_id)


@asset(group_name=GROUP,
       ins={"training_set": AssetIn(), "expansion_model_validation": AssetIn()})
def expansion_model(context: AssetExecutionContext, settings: AccountHealthSettings,
                    mlflow_tracking: MlflowTracking, training_set: pd.DataFrame,
                    expansion_model_validation: pd.DataFrame) -> pd.DataFrame:
    """The expansion model fitted on every closed label, registered as
    account-health-expansion; champion when it beats the rubric, random targeting and the
    current champion on walk-forward precision at N, else challenger."""
    mlflow_tracking.activate(EXPANSION_EXPERIMENT)
    if "skipped" in expansion_model_validation:
        reason = str(expansion_model_validation["skipped"].iloc[0])
        context.add_output_metadata({"skipped": reason})
        return pd.DataFrame([{"mlflow_run_id": None, "model_uri": None, "version": None,
                              "alias": "none", "promoted": False, "reason": reason}])
    run_id = expansion_model_validation["mlflow_run_id"].iloc[0]
    model = train_expansion_model(training_set, horizon_days=settings.horizon_days)
    model_uri, version = log_bundle(run_id, model, training_set, name="expansion_model",
                                    registered_model=EXPANSION_MODEL)
    champion = champion_metrics(EXPANSION_MODEL, metrics=("precision_at_n",))
    decision = decide_expansion_promotion(
        expansion_model_validation, None if champion is None else champion["precision_at_n"],
        margin=settings.promotion_margin)
    alias = apply_decision(version, decision, registered_model=EXPANSION_MODEL)
    context.add_output_metadata({"model_uri": model_uri, "version": version, "alias": alias,
                                 "reason": decision.reason})
    return pd.DataFrame([{"mlflow_run_id": run_id, "model_uri": model_uri, "version": version,
                          "alias": alias, "promoted": decision.promote,
                          "reason": decision.reason}])


CHECK = "holdout_kept_as_configured"


@asset(
    group_name="models",
    ins={"cs_activities": AssetIn(), "subscriptions": AssetIn(), "training_set": AssetIn()},
    check_specs=[AssetCheckSpec(
        CHECK, asset="intervention_effects",
        description="The share of flagged accounts held out of outreach is the playbook's "
                    "holdout_share (within a 99% interval) and no held-out account was "
                    "contacted: without that, the control group is not a control group. "
                    "Passes, saying so, when there is no cs_activities table.")],
)
def intervention_effects(context: AssetExecutionContext, settings: AccountHealthSettings,
                         cs_activities: pd.DataFrame | None, subscriptions: pd.DataFrame,
                         training_set: pd.DataFrame):
    """Flagged episodes of ``cs_activities`` with their outcomes, and what they say: success
    rate by lead time, time to detection, the at-risk alerts' false-positive rate, uplift
    against the holdout with a Newcombe interval, and a walk-forward two-model uplift
    estimate with its Qini curve and uplift@10%."""
    page = settings.reports_dir() / "interventions.html"
    links = {"report": MetadataValue.path(str(page)), "open": MetadataValue.url(page.as_uri())}
    flagged = (cs_activities is not None) and cs_activities["flagged_at"].notna().any()
    if not flagged:
        reason = ("No cs_activities table was supplied." if cs_activities is None else
                  "cs_activities has no activity tied to an at-risk flag (flagged_at).")
        page.write_text(render_absent_page(reason))
        yield Output(pd.DataFrame({"account_id": pd.Series(dtype="object")}),
                     metadata={"status": reason, **links})
        yield AssetCheckResult(check_name=CHECK, passed=True, metadata={"status": reason})
        return

    horizon = settings.horizon_days
    holdout_share = settings.scoring_config().playbook().holdout_share
    observed_until = pd.Timestamp(settings.snapshot_days()[-1])
    episodes = intervention_episodes(cs_activities, subscriptions, horizon_days=horizon,
                                     observed_until=observed_until)
    summary = intervention_summary(episodes, holdout_share=holdout_share)
    by_lead_time = success_by_lead_time(episodes)
    features = [c for c in feature_columns(training_set)
                if pd.api.types.is_numeric_dtype(training_set[c])]
    scored, note = walk_forward_uplift(with_features(episodes, training_set, features),
                                       features, horizon_days=horizon)
    curve, model = None, {}
    if scored is not None:
        treated = (scored["arm"] == TREATED).to_numpy()
        retained = 1 - scored["churned_within_horizon"].to_numpy()
        curve = qini_curve(scored["uplift_score"], treated, retained)
        at_10, top_treated, top_control = uplift_at(scored["uplift_score"], treated, retained)
        model = {"episodes": len(scored), "qini_coefficient": qini_coefficient(curve),
                 "uplift_at_10": at_10, "top_treated": top_treated, "top_control": top_control}
        episodes = episodes.merge(scored[["account_id", "flagged_at", "uplift_score"]],
                                  on=["account_id", "flagged_at"], how="left")
    page.write_text(render_interventions_page(
        summary, by_lead_time, horizon_days=horizon, qini_curve=curve, uplift_model=model,
        uplift_model_note=note))
    figures = {key: MetadataValue.float(float(value)) for key, value in summary.items()
               if isinstance(value, float) and pd.notna(value)}
    yield Output(episodes, metadata={
        **figures, "episodes": len(episodes), "observed_until": str(observed_until.date()),
        "success_by_lead_time": MetadataValue.md(by_lead_time.to_markdown(
            index=False, floatfmt=".3f")),
        **{f"uplift_model.{k}": MetadataValue.float(float(v)) for k, v in model.items()
           if pd.notna(v)},
        "uplift_model_note": note or "estimated", **links})

    assigned = summary["treated"] + summary["control"]
    low, high = wilson_interval(summary["control"], assigned, confidence=0.99)
    within = assigned > 0 and low <= holdout_share <= high
    yield AssetCheckResult(
        check_name=CHECK, passed=bool(within and summary["holdout_broken"] == 0),
        severity=AssetCheckSeverity.WARN,
        metadata={"holdout_share_configured": holdout_share,
                  "holdout_share_observed": MetadataValue.float(
                      float(summary["holdout_share_observed"])),
                  "interval_99": f"{low:.3f} to {high:.3f}",
                  "held_out_but_contacted": summary["holdout_broken"]})
