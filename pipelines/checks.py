"""Asset checks that judge an asset's stored output, shown beside the assets in the UI.

Where checks live: a check that needs only what an asset stored (its output, the settings)
is an ``@asset_check`` here, so it can be re-run on its own from the UI; a check that judges
values only the computation has (rows it dropped, what it read back from a store) is a
``check_specs`` entry of that asset, yielded by its body.

Checks warn rather than fail the run: a run fails loudly only when a required table is
missing or unreadable (the assets raise then). A warning is still visible in the UI.
"""


import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from features.contract import REQUIRED_TABLES
from pipelines.resources import AccountHealthSettings
from pipelines.storage import AssetStorage


@asset_check(asset="source_files", blocking=True,
             description="Required tables (events, subscriptions) are present and not empty")
def required_tables_present(source_files: pd.DataFrame) -> AssetCheckResult:
    required = source_files[source_files["table"].isin(REQUIRED_TABLES)]
    empty = required.loc[required["rows"] == 0, "table"].tolist()
    rows = {f"rows_{r.table}": int(r.rows) for r in source_files.itertuples()}
    return AssetCheckResult(passed=not empty,
                            metadata={"empty_required_tables": str(empty), **rows})


@asset_check(asset="quarantine_report",
             description="Share of quarantined rows per table is within max_quarantine_rate")
def quarantine_rate_within_limit(settings: AccountHealthSettings,
                                 quarantine_report: pd.DataFrame) -> AssetCheckResult:
    limit = settings.data.max_quarantine_rate
    over = quarantine_report[quarantine_report["quarantine_rate"] > limit]
    return AssetCheckResult(
        passed=over.empty, severity=AssetCheckSeverity.WARN,
        metadata={"limit": settings.data.max_quarantine_rate,
                  "rates": MetadataValue.md(quarantine_report[
                      ["table", "input_rows", "quarantined_rows", "quarantine_rate"]
                  ].to_markdown(index=False, floatfmt=".4f"))})


@asset_check(asset="feast_feature_store",
             description="Data is fresh: the latest snapshot day ended within freshness_hours")
def snapshot_freshness(settings: AccountHealthSettings, storage: AssetStorage) -> AssetCheckResult:
    days = storage.stored_days("account_snapshot")
    if not days:
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN,
                                metadata={"latest_snapshot": "none"})
    data_complete_until = pd.Timestamp(days[-1], tz="UTC") + pd.Timedelta(days=1)
    age_hours = (settings.data.current_time() - data_complete_until).total_seconds() / 3600
    return AssetCheckResult(
        passed=age_hours <= settings.data.freshness_hours, severity=AssetCheckSeverity.WARN,
        metadata={"latest_snapshot": days[-1], "age_hours": round(age_hours, 1),
                  "limit_hours": settings.data.freshness_hours})


@asset_check(asset="churn_model_validation",
             description="XGBoost beats the base rate and the hand-weighted health score on "
                         "walk-forward ROC AUC and lift at the top 10 %")
def model_beats_baselines(churn_model_validation: pd.DataFrame) -> AssetCheckResult:
    from models.churn.evaluation import beats_baselines

    results = beats_baselines(churn_model_validation)
    return AssetCheckResult(passed=all(results.values()), severity=AssetCheckSeverity.ERROR,
                            metadata={k: str(v) for k, v in results.items()})


@asset_check(asset="churn_model_validation",
             description="Walk-forward ROC AUC of XGBoost is at least auc_floor")
def model_auc_above_floor(settings: AccountHealthSettings,
                          churn_model_validation: pd.DataFrame) -> AssetCheckResult:
    auc = float(churn_model_validation.set_index("model").loc["xgboost", "roc_auc"])
    floor = settings.training.auc_floor
    return AssetCheckResult(passed=auc >= floor, severity=AssetCheckSeverity.ERROR,
                            metadata={"roc_auc": auc, "floor": floor})
