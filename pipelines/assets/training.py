"""Training layer: labelled, point-in-time-correct rows for the models."""

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    MetadataValue,
    asset,
)

from feature_repo.definitions import CHURN_FEATURE_SERVICE
from features.expansion_events import expansion_events, expansion_labels
from features.training_set import (
    build_training_set,
    label_rows,
    too_little_history,
    training_as_of_dates,
)
from pipelines.assets.features_store import feast_feature_store
from pipelines.resources import AccountHealthSettings, FeastFeatureStore
from pipelines.storage import AssetStorage


@asset(group_name="training", deps=[feast_feature_store],
       ins={"subscriptions": AssetIn(), "event_vocabulary": AssetIn()})
def training_set(context: AssetExecutionContext, settings: AccountHealthSettings,
                 storage: AssetStorage,
                 feast: FeastFeatureStore, subscriptions: pd.DataFrame,
                 event_vocabulary: pd.DataFrame | None) -> pd.DataFrame:
    """Labelled snapshots every ``training_cadence_days`` (churn, and expansion, within the
    horizon) with point-in-time features, each per-event feature named after its event."""
    days = storage.stored_days("account_snapshot")
    if not days:
        raise ValueError("account_snapshot has no partitions yet; materialise it first")
    first, last = pd.Timestamp(days[0]), pd.Timestamp(days[-1])
    as_of = training_as_of_dates(first, last, horizon_days=settings.training.horizon_days,
                                 cadence_days=settings.training.training_cadence_days)
    if as_of.empty:  # the models say what is missing; features can still be looked at
        context.log.warning(too_little_history(first, last,
                                               horizon_days=settings.training.horizon_days))
    labels = label_rows(subscriptions, as_of, horizon_days=settings.training.horizon_days,
                        observed_until=last)
    training = build_training_set(feast.open(), labels, feature_service=CHURN_FEATURE_SERVICE,
                                  event_names=settings.event_taxonomy(event_vocabulary).tracked_events)
    # the expansion label of the same rows (features.expansion_events): a second target
    training = pd.concat([training, expansion_labels(
        training, expansion_events(subscriptions), horizon_days=settings.training.horizon_days,
        observed_until=last)], axis=1)
    context.add_output_metadata({
        "rows": len(training), "as_of_dates": len(as_of),
        "churn_rate": MetadataValue.float(float(training["churned_within_horizon"].mean())
                                          if len(training) else 0.0),
        "expansion_rate": MetadataValue.float(float(training["expanded_within_horizon"].mean())
                                              if len(training) else 0.0),
    })
    return training
