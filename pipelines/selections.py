"""Named slices of the asset graph, shared by the jobs and by `make run`."""

from dagster import AssetSelection

#: Everything up to the training set: ingestion, features, Feast.
FEATURE_PIPELINE = AssetSelection.groups("raw", "features", "training")
#: Everything but daily scoring and alerts (which make run does for the latest day only).
TRAINING_PIPELINE = AssetSelection.all() - AssetSelection.groups("scoring")
#: Training set to promotion: what the weekly retrain runs.
RETRAINING = AssetSelection.assets("training_set").downstream() - AssetSelection.groups("scoring")
#: Scores and alerts of a day from features already in Feast.
SCORING = AssetSelection.groups("scoring")
#: The morning run of one day: ingest, validate, snapshot, Feast, scores, alerts.
DAILY_SCORING = AssetSelection.all() - AssetSelection.groups("training", "models")
