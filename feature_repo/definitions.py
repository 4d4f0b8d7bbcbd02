"""Feast objects, in the order of the `feast init` template: entity, source, views, service.

Features are computed upstream by Dagster (features/snapshot.py); Feast registers them,
joins them point-in-time for training and serves the latest values online. Feature views
exist only for feature groups whose source table is present in the input.
"""

from __future__ import annotations

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64, String

from features.snapshot import FEATURE_GROUPS

FEAST_TYPES = {"int": Int64, "float": Float64, "str": String}
#: The churn model's features; scoring must use the same service as training.
CHURN_FEATURE_SERVICE = "churn_model_v1"
#: How far back a snapshot may be used for an as-of time (one missed daily run is tolerated).
SNAPSHOT_TTL = timedelta(days=2)

account = Entity(
    name="account",
    join_keys=["account_id"],
    value_type=ValueType.STRING,
    description="A customer account (the unit that churns)",
)


def account_daily_snapshot(snapshot_glob: str) -> FileSource:
    """The daily snapshot table written by the `account_snapshot` asset (one file a day)."""
    return FileSource(
        name="account_daily_snapshot",
        path=snapshot_glob,
        timestamp_field="event_timestamp",
        description="One row per account and as-of date; event_timestamp = end of as-of date",
    )


def feature_views(source: FileSource, groups: list[str]) -> list[FeatureView]:
    """One feature view per present feature group, all over the snapshot source."""
    return [
        FeatureView(
            name=group,
            entities=[account],
            ttl=SNAPSHOT_TTL,
            schema=[Field(name=name, dtype=FEAST_TYPES[kind])
                    for name, kind in FEATURE_GROUPS[group].items()],
            source=source,
            online=True,
            tags={"group": group},
        )
        for group in groups
    ]


def churn_feature_service(views: list[FeatureView]) -> FeatureService:
    """All present feature views: the features the churn models train and score on."""
    return FeatureService(name=CHURN_FEATURE_SERVICE, features=views,
                          description="Features of the churn classifier and survival model")


def repo_objects(snapshot_glob: str, groups: list[str]) -> list:
    """Everything to apply to the registry for the given feature groups."""
    source = account_daily_snapshot(snapshot_glob)
    views = feature_views(source, groups)
    return [account, source, *views, churn_feature_service(views)]
