"""Scoring layer: every active account scored by the champion model, one partition a day."""

import json

import pandas as pd
from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    Failure,
    MetadataValue,
    asset,
)

from feature_repo.definitions import CHURN_FEATURE_SERVICE
from feature_repo.store import day_features
from models.scoring import crm_records, score_accounts
from pipelines.assets.features import account_snapshot, feast_feature_store
from pipelines.assets.models import churn_model_promotion
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
    bundle, version = mlflow_tracking.load_champion()
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
                                playbook=playbook, n_reasons=config.n_reasons)
        scores.to_csv(exports / f"{day:%Y-%m-%d}.csv", index=False)
        (exports / f"{day:%Y-%m-%d}.json").write_text(json.dumps(crm_records(scores)))
        tables.append(scores)
    result = pd.concat(tables, ignore_index=True)
    latest = tables[-1]
    context.add_output_metadata({
        "model_version": version, "accounts_scored": len(result),
        "bands_on_last_day": MetadataValue.md(
            latest["band"].value_counts().to_frame().to_markdown()),
        "arr_at_risk_on_last_day": float(latest["arr_at_risk"].sum()),
    })
    return result
