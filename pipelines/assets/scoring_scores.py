"""Scoring layer: the day's risk, health, reasons and actions for every active account, and
its expansion opportunities."""

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
from features.event_vocabulary import readable_event_columns
from models.expansion.opportunities import (
    OPPORTUNITY_COLUMNS,
    score_opportunities,
    validate_opportunities,
)
from models.scoring.scores import account_owners, crm_json, score_accounts
from models.scoring.spark_scoring import score_accounts_on_spark
from models.tracking import EXPANSION_MODEL
from pipelines.assets.features_snapshot import account_snapshot
from pipelines.assets.features_store import feast_feature_store
from pipelines.assets.models_churn import churn_model_promotion
from pipelines.assets.models_expansion import expansion_model
from pipelines.engine import ComputeEngine
from pipelines.exports import export_day
from pipelines.partitions import daily_partitions, run_days
from pipelines.resources import (
    AccountHealthSettings,
    FeastFeatureStore,
    MlflowTracking,
)
from pipelines.storage import AssetStorage


@asset(
    group_name="scoring",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    # the feature service's definition comes from the registry feast_feature_store applies
    deps=[account_snapshot, feast_feature_store, churn_model_promotion],
    ins={"accounts": AssetIn()},
    metadata={"partition_column": "as_of"},
)
def account_scores(context: AssetExecutionContext, settings: AccountHealthSettings,
                   storage: AssetStorage, engine: ComputeEngine, feast: FeastFeatureStore,
                   mlflow_tracking: MlflowTracking, accounts: pd.DataFrame | None) -> pd.DataFrame:
    """Risk, health band, time to churn, reasons and action for every active account.

    Features are the training feature service's, read from the day's snapshot file (what
    Feast's point-in-time retrieval returns for that day, without scanning every day);
    each day is also exported as CSV and as CRM JSON records under ``output/scores/``.
    With the spark engine, account groups are scored in Spark tasks.
    """
    bundle, version, model_status = mlflow_tracking.load_scoring_model()
    if model_status != "champion":
        context.log.warning(f"scored by model v{version}, {model_status}")
    store = feast.open()
    days = run_days(context)
    config = settings.scoring_config()
    playbook = config.playbook()
    tables = []
    for day in days:
        snapshot_file = storage.asset_file("account_snapshot", day)
        if not snapshot_file.exists():
            raise Failure(f"no account_snapshot for {day:%Y-%m-%d}; materialise it first")
        features = day_features(store, snapshot_file, CHURN_FEATURE_SERVICE,
                                (day + pd.Timedelta(days=1)).tz_localize("UTC"))
        features["as_of_date"] = day
        options = {"model_version": version, "health": config.health, "playbook": playbook,
                   "n_reasons": config.n_reasons, "model_status": model_status,
                   "components": config.components}
        scores = (score_accounts_on_spark(engine.spark_session(), features, bundle, **options)
                  if engine.on_spark else score_accounts(features, bundle, **options))
        scores.insert(scores.columns.get_loc("plan") + 1, "csm_owner",
                      account_owners(scores["account_id"], accounts))
        export_day(settings, "scores", day, scores, records_json=crm_json(scores))
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
    ins={"account_scores": AssetIn(), "event_vocabulary": AssetIn()},
    metadata={"partition_column": "created_date"},
    check_specs=[AssetCheckSpec(
        "opportunities_follow_schema", asset="scored_opportunities",
        description="The table follows the documented scored-opportunities schema")],
)
def scored_opportunities(context: AssetExecutionContext, settings: AccountHealthSettings,
                         storage: AssetStorage, mlflow_tracking: MlflowTracking,
                         account_scores: pd.DataFrame,
                         event_vocabulary: pd.DataFrame | None):
    """Expansion opportunities of the day in the documented schema
    (``models.expansion.opportunities``), best first, from the expansion model's champion;
    accounts in the at-risk and critical churn bands are listed as "expansion after
    recovery", not handed over. Also exported as
    ``output/opportunities/<day>.csv``. Empty, with the reason, while the registry has no
    expansion champion (a model that does not beat the rubric is never one)."""
    champion = mlflow_tracking.load_champion(EXPANSION_MODEL, required=False)
    event_names = settings.event_taxonomy(event_vocabulary).tracked_events
    tables = []
    for day in run_days(context):
        if champion is None:
            table = pd.DataFrame({c: [] for c in OPPORTUNITY_COLUMNS})
        else:
            # stored by slot, the expansion model learned them by event name
            features = readable_event_columns(
                pd.read_parquet(storage.asset_file("account_snapshot", day)), event_names)
            scores = account_scores[pd.to_datetime(account_scores["as_of"]) == day]
            table = score_opportunities(features, scores, champion[0], day=day)
        export_day(settings, "opportunities", day, table)
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
