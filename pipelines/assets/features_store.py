"""Features layer, Feast: the registry applied from the snapshot, and the latest day
written online."""

import pandas as pd
import pyarrow.parquet as pq
from dagster import (
    AssetExecutionContext,
    AssetIn,
    Failure,
    MetadataValue,
    asset,
)

from feature_repo.definitions import CHURN_FEATURE_SERVICE, FEATURE_VIEW
from feature_repo.online_write import (
    materialize_day,
    uses_spark_materialisation,
    write_online,
)
from feature_repo.store import apply_definitions, sync_offline_snapshot
from features.snapshot import (
    FEATURE_GROUPS,
    feature_groups_for,
)
from pipelines.assets.features_snapshot import account_snapshot
from pipelines.resources import AccountHealthSettings, FeastFeatureStore
from pipelines.storage import AssetStorage

GROUP = "features"


@asset(group_name=GROUP, deps=[account_snapshot], ins={"source_files": AssetIn()})
def feast_feature_store(context: AssetExecutionContext, settings: AccountHealthSettings,
                        storage: AssetStorage,
                        feast: FeastFeatureStore, source_files: pd.DataFrame) -> pd.DataFrame:
    """Applies the Feast repo: entity, snapshot source, and one feature view holding the
    features of every present feature group."""
    groups = feature_groups_for(set(source_files.loc[source_files["present"], "table"]))
    store = feast.open()
    snapshot_dir = storage.partition_dir("account_snapshot")
    views = apply_definitions(store, str(snapshot_dir / "*.parquet"), groups)
    copied_days = sync_offline_snapshot(store, snapshot_dir)
    context.add_output_metadata({"feature_views": MetadataValue.text(", ".join(views)),
                                 "feature_service": CHURN_FEATURE_SERVICE,
                                 "days_copied_to_offline_store": copied_days})
    features = [(FEATURE_VIEW, group, feature) for group in groups
                for feature in FEATURE_GROUPS[group]]
    return pd.DataFrame(features, columns=["feature_view", "feature_group", "feature"])


#: Accounts read back from the online store after each write, as a spot check.
ONLINE_READ_BACK = 200


@asset(group_name=GROUP, deps=[feast_feature_store])
def online_features(context: AssetExecutionContext, settings: AccountHealthSettings,
                    storage: AssetStorage,
                    feast: FeastFeatureStore) -> pd.DataFrame:
    """Writes the latest snapshot day to the online store (SQLite by default, in bulk; with
    the spark engine, by Feast's Spark materialisation).

    Only that day's file is read, whatever the length of history. Returns the online rows of
    up to ``ONLINE_READ_BACK`` of its accounts, read back through Feast and compared with
    the snapshot (a mismatch fails the run).
    """
    days = sorted(storage.partition_dir("account_snapshot").glob("*.parquet"), reverse=True)
    latest = next((f for f in days if pq.ParquetFile(f).metadata.num_rows), None)
    if latest is None:
        raise ValueError("account_snapshot has no rows yet; materialise it first")
    store = feast.open()
    rows = pd.read_parquet(latest)
    if uses_spark_materialisation(store):
        written = materialize_day(store, rows)
    else:
        written = write_online(store, rows)
    sample = rows.sort_values("account_id").head(ONLINE_READ_BACK)
    online = store.get_online_features(
        features=store.get_feature_service(CHURN_FEATURE_SERVICE),
        entity_rows=[{"account_id": a} for a in sample["account_id"]]).to_df()
    # in the snapshot's column order: Feast hands the features back in no set order
    online = online[[c for c in rows.columns if c in online.columns]]
    served = online.set_index("account_id").loc[sample["account_id"], ["mrr", "seats"]]
    expected = sample.set_index("account_id")[["mrr", "seats"]]
    if not served.astype(float).equals(expected.astype(float)):
        raise Failure(f"the online store does not serve {latest.stem}'s features")
    context.add_output_metadata({"as_of_date": latest.stem, "accounts": len(rows),
                                 "values_written": written, "read_back": len(online)})
    return online
