"""Point-in-time-correct training sets: churn labels joined to features through Feast."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from feast import FeatureStore

from features.contract import EventTaxonomy
from features.event_vocabulary import (
    readable_event_columns,
    top_event_names,
    with_tracked_events,
)
from features.labels import active_periods, churn_labels
from features.snapshot import EVENT_LOOKBACK_DAYS, compute_snapshots, feature_tables


def training_as_of_dates(first_data_day: pd.Timestamp, last_data_day: pd.Timestamp, *,
                         horizon_days: int, cadence_days: int = 7) -> pd.DatetimeIndex:
    """As-of dates every ``cadence_days`` whose features have full history and whose label
    has closed.

    The first date leaves ``EVENT_LOOKBACK_DAYS`` of usage history; the last leaves a full
    horizon before ``last_data_day`` so every label is observed. Dates fall on a fixed
    calendar (days since 1970-01-04, a Sunday, divisible by the cadence), so they stay the
    same as history grows: weekly dates are Sundays.
    """
    first = pd.Timestamp(first_data_day).normalize() + pd.Timedelta(days=EVENT_LOOKBACK_DAYS)
    last = pd.Timestamp(last_data_day).normalize() - pd.Timedelta(days=horizon_days)
    offset = (first - _CADENCE_ANCHOR).days % cadence_days
    start = first + pd.Timedelta(days=(cadence_days - offset) % cadence_days)
    return pd.date_range(start, last, freq=f"{cadence_days}D") if start <= last else (
        pd.DatetimeIndex([]))


_CADENCE_ANCHOR = pd.Timestamp("1970-01-04")


def too_little_history(first_data_day: pd.Timestamp, last_data_day: pd.Timestamp, *,
                       horizon_days: int) -> str:
    """Why no training date fits between the first and last day of data, and how much more
    history it takes."""
    days = (pd.Timestamp(last_data_day) - pd.Timestamp(first_data_day)).days + 1
    needed = EVENT_LOOKBACK_DAYS + horizon_days + 1
    return (f"the data covers {pd.Timestamp(first_data_day):%Y-%m-%d} to "
            f"{pd.Timestamp(last_data_day):%Y-%m-%d} ({days} days): a training date needs "
            f"{EVENT_LOOKBACK_DAYS} days of usage before it and a closed {horizon_days}-day "
            f"label after it, so no model can be trained before {needed - days} more days of "
            "history arrive (walk-forward validation takes about a year), or with a shorter "
            "ACCOUNT_HEALTH_HORIZON_DAYS")


def label_rows(subscriptions: pd.DataFrame, as_of_dates: pd.DatetimeIndex, *,
               horizon_days: int, observed_until: pd.Timestamp) -> pd.DataFrame:
    """Entity rows for Feast: labels plus ``event_timestamp`` = end of the as-of date."""
    labels = churn_labels(active_periods(subscriptions), as_of_dates,
                          horizon_days=horizon_days, observed_until=observed_until)
    labels["event_timestamp"] = (labels["as_of_date"] + pd.Timedelta(days=1)).dt.tz_localize(
        "UTC")
    return labels


def build_training_set(store: FeatureStore, labels: pd.DataFrame, *,
                       feature_service: str, event_names: Sequence[str] = ()) -> pd.DataFrame:
    """Join features to labelled rows with Feast's point-in-time retrieval; per-event
    features named after ``event_names``, the tracked events (``readable_event_columns``).

    For each row Feast takes the latest snapshot with ``event_timestamp`` at or before the
    row's ``event_timestamp`` (within the views' TTL), so no feature can come from after
    the as-of date.
    """
    service = store.get_feature_service(feature_service)
    # Feast's Postgres offline store writes int8 columns as "tinyint", which Postgres lacks.
    narrow = {c: labels[c].dtype for c in labels.select_dtypes(["int8", "int16"]).columns}
    entity_rows = labels.astype(dict.fromkeys(narrow, "int64"))
    joined = store.get_historical_features(entity_df=entity_rows, features=service).to_df()
    joined = joined.astype(narrow)
    # Feast hands entity-side timestamps back in UTC, in the unit of its offline store;
    # as_of_date is a calendar date.
    joined["as_of_date"] = pd.to_datetime(joined["as_of_date"], utc=True).dt.tz_localize(
        None).astype("datetime64[ns]")
    joined["event_timestamp"] = pd.to_datetime(joined["event_timestamp"], utc=True).astype(
        "datetime64[ns, UTC]")
    joined = readable_event_columns(joined, event_names) if event_names else joined
    return joined.sort_values(["as_of_date", "account_id"], ignore_index=True)


def training_set_from_tables(tables: dict[str, pd.DataFrame], *, last_data_day: pd.Timestamp,
                             horizon_days: int, cadence_days: int = 7,
                             taxonomy: EventTaxonomy | None = None) -> pd.DataFrame:
    """Labelled snapshots every ``cadence_days`` computed straight from validated tables,
    without Feast.

    For experiments and benchmarks: a row at as-of D gets the snapshot of D, which is what
    Feast's point-in-time join returns for it (tests/test_pipeline.py proves that); per-event
    features are named after their events, as the training_set asset names them.
    """
    first = tables["events"]["event_time"].min().tz_localize(None).normalize()
    dates = training_as_of_dates(first, last_data_day, horizon_days=horizon_days,
                                 cadence_days=cadence_days)
    labels = label_rows(tables["subscriptions"], dates, horizon_days=horizon_days,
                        observed_until=last_data_day)
    # the export's own event names, as the event_vocabulary asset chooses them
    taxonomy = with_tracked_events(taxonomy or EventTaxonomy(),
                                   top_event_names(tables["events"]))
    snapshot = compute_snapshots(dates, **feature_tables(tables), taxonomy=taxonomy).drop(
        columns="event_timestamp")
    snapshot = readable_event_columns(snapshot, taxonomy.tracked_events)
    return labels.drop(columns="event_timestamp").merge(snapshot,
                                                        on=["account_id", "as_of_date"])
