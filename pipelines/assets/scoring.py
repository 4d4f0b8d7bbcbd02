"""Scoring layer: every active account scored by the champion models, one partition a day:
churn risk, and expansion opportunities."""

import json

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from feature_repo.definitions import CHURN_FEATURE_SERVICE
from feature_repo.store import day_features
from models.opportunities import OPPORTUNITY_COLUMNS, score_opportunities, validate_opportunities
from models.scoring import crm_records, score_accounts
from models.tracking import EXPANSION_MODEL
from pipelines.assets.features import account_snapshot, feast_feature_store
from pipelines.assets.models import churn_model_promotion, expansion_model
from pipelines.partitions import daily_partitions, run_days
from pipelines.resources import AccountHealthSettings, FeastFeatureStore, MlflowTracking


@asset(
    group_name="scoring",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    # the feature service's definition comes from the registry feast_feature_store applies
    deps=[account_snapshot, feast_feature_store, churn_model_promotion],
    metadata={"partition_column": "as_of"},
)
def account_scores(context: AssetExecutionContext, settings: AccountHealthSettings,
                   feast: FeastFeatureStore, mlflow_tracking: MlflowTracking) -> pd.DataFrame:
    """Risk, health band, time to churn, reasons and action for every active account.

    Features are the training feature service's, read from the day's snapshot file (what
    Feast's point-in-time retrieval returns for that day, without scanning every day);
    each day is also exported as CSV and as CRM JSON records under ``output/scores/``.
    """
    bundle, version, model_status = mlflow_tracking.load_scoring_model()
    if model_status != "champion":
        context.log.warning(f"scored by model v{version}, {model_status}")
    store = feast.open()
    days = run_days(context)
    config = settings.scoring_config()
    playbook = config.playbook()
    exports = settings.output_path / "scores"
    exports.mkdir(parents=True, exist_ok=True)
    tables = []
    for day in days:
        snapshot_file = settings.snapshot_dir() / f"{day:%Y-%m-%d}.parquet"
        if not snapshot_file.exists():
            raise Failure(f"no account_snapshot for {day:%Y-%m-%d}; materialise it first")
        features = day_features(store, snapshot_file, CHURN_FEATURE_SERVICE,
                                (day + pd.Timedelta(days=1)).tz_localize("UTC"))
        features["as_of_date"] = day
        scores = score_accounts(features, bundle, model_version=version, health=config.health,
                                playbook=playbook, n_reasons=config.n_reasons,
                                model_status=model_status)
        scores.to_csv(exports / f"{day:%Y-%m-%d}.csv", index=False)
        (exports / f"{day:%Y-%m-%d}.json").write_text(json.dumps(crm_records(scores)))
        tables.append(scores)
    result = pd.concat(tables, ignore_index=True)
    latest = tables[-1]
    context.add_output_metadata({
        "model_version": version, "model_status": model_status,
        "accounts_scored": len(result),
        "bands_on_last_day": MetadataValue.md(
            latest["band"].value_counts().to_frame().to_markdown()),
        "arr_at_risk_on_last_day": round(float(latest["arr_at_risk"].sum()), 2),
    })
    return result


@asset(
    group_name="scoring",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=[expansion_model],
    ins={"account_scores": AssetIn()},
    metadata={"partition_column": "created_date"},
    check_specs=[AssetCheckSpec(
        "opportunities_follow_schema", asset="scored_opportunities",
        description="The table follows the documented scored-opportunities schema")],
)
def scored_opportunities(context: AssetExecutionContext, settings: AccountHealthSettings,
                         mlflow_tracking: MlflowTracking, account_scores: pd.DataFrame):
    """Expansion opportunities of the day in the documented schema (``models.opportunities``),
    best first, from the expansion model's champion; accounts in the at-risk and critical
    churn bands are listed as "expansion after recovery", not handed over. Also exported as
    ``output/opportunities/<day>.csv``. Empty, with the reason, while the registry has no
    expansion champion (a model that does not beat the rubric is never one)."""
    champion = mlflow_tracking.load_champion(EXPANSION_MODEL, required=False)
    exports = settings.output_path / "opportunities"
    exports.mkdir(parents=True, exist_ok=True)
    tables = []
    for day in run_days(context):
        name = f"{day:%Y-%m-%d}"
        if champion is None:
            table = pd.DataFrame({c: [] for c in OPPORTUNITY_COLUMNS})
        else:
            features = pd.read_parquet(settings.snapshot_dir() / f"{name}.parquet")
            scores = account_scores[pd.to_datetime(account_scores["as_of"]) == day]
            table = score_opportunities(features, scores, champion[0], day=day)
        table.to_csv(exports / f"{name}.csv", index=False)
        tables.append(table)
    result = pd.concat(tables, ignore_index=True)
    latest = tables[-1]
    handed_over = latest[latest["status"] == "open"]
    yield Output(result, metadata={
        "expansion_model_version": "none" if champion is None else champion[1],
        "accounts": len(latest),
        "tiers_handed_over": MetadataValue.md(
            handed_over["tier"].value_counts().to_frame().to_markdown()),
        "after_recovery": int((latest["status"] != "open").sum()),
        "projected_arr_high_tier": float(handed_over.loc[handed_over["tier"] == "High",
                                                         "projected_arr"].sum()),
        **({"reason": "no account-health-expansion@champion in the registry"}
           if champion is None else {})})
    problems = [p for table in tables for p in validate_opportunities(table)]
    yield AssetCheckResult(check_name="opportunities_follow_schema",
                           asset_key="scored_opportunities", passed=not problems,
                           metadata={"problems": "; ".join(problems) or "none"})
