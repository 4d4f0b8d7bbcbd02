"""Feature layer: the daily account snapshot and the Feast feature store built on it."""


import pandas as pd
from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
)

from feature_repo.definitions import CHURN_FEATURE_SERVICE
from feature_repo.store import apply_definitions, sync_offline_snapshot
from features.snapshot import (
    EVENT_LOOKBACK_DAYS,
    FEATURE_GROUPS,
    compute_snapshots,
    feature_groups_for,
)
from features.training_set import build_training_set, label_rows, monthly_as_of_dates
from pipelines.partitions import daily_partitions, run_days
from pipelines.resources import AccountHealthSettings, FeastFeatureStore

GROUP = "features"


@asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_column": "as_of_date"},
    # Events are read straight from their day files by DuckDB (features.usage_rollup), not
    # loaded into pandas: the lookback holds ~90 days of them.
    deps=[AssetDep("events", partition_mapping=TimeWindowPartitionMapping(
        start_offset=-EVENT_LOOKBACK_DAYS, allow_nonexistent_upstream_partitions=True))],
    ins={
        "subscriptions": AssetIn(), "accounts": AssetIn(), "invoices": AssetIn(),
        "support_tickets": AssetIn(), "nps_responses": AssetIn(),
    },
)
def account_snapshot(context: AssetExecutionContext, settings: AccountHealthSettings,
                     subscriptions: pd.DataFrame,
                     accounts: pd.DataFrame | None, invoices: pd.DataFrame | None,
                     support_tickets: pd.DataFrame | None,
                     nps_responses: pd.DataFrame | None) -> pd.DataFrame:
    """One row per active account and day with point-in-time features (see features/)."""
    dates = run_days(context)
    lookback = pd.date_range(dates[0] - pd.Timedelta(days=EVENT_LOOKBACK_DAYS), dates[-1])
    event_files = [path for day in lookback
                   if (path := settings.output_path / "assets" / "events"
                       / f"{day:%Y-%m-%d}.parquet").exists()]
    snapshot = compute_snapshots(
        dates, events=event_files, subscriptions=subscriptions, accounts=accounts,
        invoices=invoices, support_tickets=support_tickets, nps_responses=nps_responses,
        taxonomy=settings.mapping().event_taxonomy)
    context.add_output_metadata({
        "accounts_per_day": MetadataValue.float(len(snapshot) / max(len(dates), 1)),
        "columns": MetadataValue.text(", ".join(snapshot.columns)),
    })
    return snapshot


@asset(group_name=GROUP, deps=[account_snapshot], ins={"source_files": AssetIn()})
def feast_feature_store(context: AssetExecutionContext, settings: AccountHealthSettings,
                        feast: FeastFeatureStore, source_files: pd.DataFrame) -> pd.DataFrame:
    """Applies the Feast repo: entity, snapshot source, one view per present feature group."""
    groups = feature_groups_for(set(source_files.loc[source_files["present"], "table"]))
    store = feast.open()
    views = apply_definitions(store, str(settings.snapshot_dir() / "*.parquet"), groups)
    copied_days = sync_offline_snapshot(store, settings.snapshot_dir())
    context.add_output_metadata({"feature_views": MetadataValue.text(", ".join(views)),
                                 "feature_service": CHURN_FEATURE_SERVICE,
                                 "days_copied_to_offline_store": copied_days})
    features = [(view, feature) for view in views for feature in FEATURE_GROUPS[view]]
    return pd.DataFrame(features, columns=["feature_view", "feature"])


@asset(group_name=GROUP, deps=[feast_feature_store])
def online_features(context: AssetExecutionContext, settings: AccountHealthSettings,
                    feast: FeastFeatureStore) -> pd.DataFrame:
    """Materialises the latest snapshot day into the online store (SQLite by default).

    Returns the latest day's online feature rows read back from the store.
    """
    days = sorted(p.stem for p in settings.snapshot_dir().glob("*.parquet"))
    latest = next((d for d in reversed(days)
                   if pd.read_parquet(settings.snapshot_dir() / f"{d}.parquet").shape[0]), None)
    if latest is None:
        raise ValueError("account_snapshot has no rows yet; materialise it first")
    store = feast.open()
    feature_time = pd.Timestamp(latest, tz="UTC") + pd.Timedelta(days=1)
    store.materialize(start_date=(feature_time - pd.Timedelta(days=1)).to_pydatetime(),
                      end_date=(feature_time + pd.Timedelta(seconds=1)).to_pydatetime())
    latest_rows = pd.read_parquet(settings.snapshot_dir() / f"{latest}.parquet",
                                  columns=["account_id"])
    online = store.get_online_features(
        features=store.get_feature_service(CHURN_FEATURE_SERVICE),
        entity_rows=[{"account_id": a} for a in latest_rows["account_id"]]).to_df()
    context.add_output_metadata({"as_of_date": latest, "accounts": len(online)})
    return online


@asset(group_name="training", deps=[feast_feature_store], ins={"subscriptions": AssetIn()})
def training_set(context: AssetExecutionContext, settings: AccountHealthSettings,
                 feast: FeastFeatureStore, subscriptions: pd.DataFrame) -> pd.DataFrame:
    """Labelled monthly snapshots (churn within the horizon) with point-in-time features."""
    days = sorted(p.stem for p in settings.snapshot_dir().glob("*.parquet"))
    if not days:
        raise ValueError("account_snapshot has no partitions yet; materialise it first")
    first, last = pd.Timestamp(days[0]), pd.Timestamp(days[-1])
    as_of = monthly_as_of_dates(first, last, horizon_days=settings.horizon_days)
    labels = label_rows(subscriptions, as_of, horizon_days=settings.horizon_days,
                        observed_until=last)
    training = build_training_set(feast.open(), labels, feature_service=CHURN_FEATURE_SERVICE)
    context.add_output_metadata({
        "rows": len(training), "as_of_dates": len(as_of),
        "churn_rate": MetadataValue.float(float(training["churned_within_horizon"].mean())
                                          if len(training) else 0.0),
    })
    return training
