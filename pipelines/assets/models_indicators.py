"""Models layer, leading indicators: which signals lead churn and expansion, and by how
much."""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    MetadataValue,
    Output,
    asset,
)

from features.expansion_events import expansion_events
from models.alerts.signal_quality import signal_quality
from models.analysis.leading_indicators import (
    churn_outcomes,
    collinear_groups,
    expansion_outcomes,
    indicator_table,
)
from models.churn.baselines import HEALTH_WEIGHTS, correlation_weights
from models.inputs import LABEL, feature_columns
from models.reports.signals import render_signals_page
from models.scoring.component_weights import fit_component_weights
from models.walk_forward import spaced_dates
from pipelines.resources import AccountHealthSettings

GROUP = "models"
#: Days between the training dates leading indicators are computed on.
INDICATOR_SPACING_DAYS = 28


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
    folds = settings.training.walk_forward_folds(training_set["as_of_date"])
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
    latest_window_end = train["as_of_date"].max() + pd.Timedelta(
        days=settings.training.horizon_days)
    yield AssetCheckResult(
        check_name="indicators_from_training_dates_only", asset_key="leading_indicators",
        passed=len(overall) == expected and latest_window_end <= origin,
        metadata={"rows_overall": len(overall), "expected": expected,
                  "latest_window_end": str(latest_window_end.date()),
                  "last_origin": str(origin.date())})


@asset(group_name=GROUP, ins={"training_set": AssetIn()})
def alert_signal_quality(settings: AccountHealthSettings,
                         training_set: pd.DataFrame) -> Output[pd.DataFrame]:
    """Each early-warning signal measured on the walk-forward folds' test dates: precision
    among the accounts it flags against the base churn rate, and lead time to churn. A
    signal with no lift is off in the daily alerts unless its rule sets ``enabled``."""
    rules = settings.scoring_config().alerts.signals
    table = signal_quality(training_set, rules,
                           settings.training.walk_forward_folds(training_set["as_of_date"]))
    off = table.loc[~table["on"], "signal"].tolist()
    return Output(table, metadata={
        "off": ", ".join(off) or "none",
        "quality": MetadataValue.md(table.drop(columns="folds").to_markdown(
            index=False, floatfmt=".3f"))})


@asset(group_name=GROUP, ins={"training_set": AssetIn()})
def component_weights(settings: AccountHealthSettings,
                      training_set: pd.DataFrame) -> Output[pd.DataFrame]:
    """Weights for the configurable component scores learned from the training set, judged
    walk-forward against the configured ones, with the accounts that would change band;
    ``account-health weights --apply`` writes them into the scoring YAML."""
    config = settings.scoring_config()
    fit = fit_component_weights(training_set, config.components,
                                settings.training.walk_forward_folds(training_set["as_of_date"]),
                                config.health)
    return Output(fit.table(), metadata={
        "walk_forward_auc_current": round(fit.auc_current, 4),
        "walk_forward_auc_learned": round(fit.auc_learned, 4),
        "accounts_changing_band": fit.accounts_changing_band,
        "weights": MetadataValue.json({"current": fit.current, "learned": fit.learned})})
