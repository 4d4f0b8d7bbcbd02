"""Named slices of the asset graph, shared by the jobs and by `make run`."""

from dagster import AssetSelection

#: Everything up to the training set: ingestion, features, Feast.
FEATURE_PIPELINE = AssetSelection.groups("raw", "features", "training")
#: Scores, alerts, monitoring and reports of a day, from features already in Feast.
SCORING = AssetSelection.groups("scoring", "monitoring", "reports")
#: What a day's scores leave for the next days: the scores and their history, the alerts
#: open at its end and the work items. ``make run`` builds them for the weeks before the last
#: day, so trends and "new since yesterday" have a history on the first morning.
SCORED_HISTORY = AssetSelection.assets("account_scores", "score_history", "account_alerts",
                                       "open_alerts", "work_items")
#: Everything but the day's scores, alerts and monitoring (which make run does for the latest
#: day only).
TRAINING_PIPELINE = AssetSelection.all() - SCORING
#: Training set to promotion: what the weekly retrain runs.
RETRAINING = AssetSelection.assets("training_set").downstream() - SCORING
#: The morning run of one day: ingest, validate, snapshot, Feast, scores, alerts.
DAILY_SCORING = AssetSelection.all() - AssetSelection.groups("training", "models", "reports")
#: The weekly operations report and the monthly executive report, each on its schedule.
WEEKLY_REPORT = AssetSelection.assets("weekly_operations_report")
#: The monthly report rebuilds the renewal forecast it shows (a planning figure, not a
#: morning one).
MONTHLY_REPORT = AssetSelection.assets("renewal_forecast", "renewal_backtest",
                                       "monthly_executive_report")
