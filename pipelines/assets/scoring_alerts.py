"""Scoring layer, alerts: the day's alerts from score changes and early-warning signals,
routed, escalated and delivered once."""


import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    BackfillPolicy,
    MetadataValue,
    Output,
    multi_asset,
)

from models.alerts.engine import (
    DECLINE_WINDOW_MAX_DAYS,
    evaluate_alerts,
    recent_high_health,
)
from models.alerts.signal_quality import signals_switched_on
from models.alerts.signals import unmeasured_signals
from pipelines.alert_delivery import deliver_alerts
from pipelines.assets.features_snapshot import account_snapshot
from pipelines.exports import export_day
from pipelines.partitions import daily_partitions, run_days, stored_days_around
from pipelines.resources import (
    AccountHealthSettings,
    AlertEmail,
    AlertWebhook,
)
from pipelines.storage import AssetStorage


def _on_day(frame: pd.DataFrame | None, day: pd.Timestamp) -> pd.DataFrame | None:
    if frame is None:
        return None
    rows = frame[pd.to_datetime(frame["as_of"]) == day]
    return rows.reset_index(drop=True) if len(rows) else None


@multi_asset(
    outs={
        "account_alerts": AssetOut(
            description="Alerts fired on the day, with severity, owner and route: band "
                        "downgrades, health drops of 20+ points in a day or 25+ over three "
                        "weeks, newly critical accounts, "
                        "renewals within 90 days at health below 60, the early-warning "
                        "signals, and escalations of alerts left unanswered past their SLA",
            metadata={"partition_column": "as_of"}),
        "open_alerts": AssetOut(
            description="Alert conditions still holding at the end of the day (the state "
                        "that keeps an open alert from firing again)",
            metadata={"partition_column": "as_of"}),
    },
    # the day before the run's first is what that day is compared with
    ins={"account_scores": stored_days_around("account_scores", -1),
         # a slide is measured against the weeks before: their health only
         "recent_health": stored_days_around(
             "score_history", -DECLINE_WINDOW_MAX_DAYS,
             columns=["account_id", "as_of", "health_score"]),
         "open_alerts_before": stored_days_around("open_alerts", -1, -1),
         "cs_activities": AssetIn(),
         "signal_quality": AssetIn("alert_signal_quality", metadata={"missing_ok": True})},
    deps=[account_snapshot],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="scoring",
)
def account_alerts(context: AssetExecutionContext, settings: AccountHealthSettings,
                   storage: AssetStorage, alert_webhook: AlertWebhook, alert_email: AlertEmail,
                   account_scores: pd.DataFrame, recent_health: pd.DataFrame | None,
                   open_alerts_before: pd.DataFrame | None,
                   cs_activities: pd.DataFrame | None, signal_quality: pd.DataFrame | None):
    """Compares each day's scores with the previous day's, checks the early-warning signals
    on its features, and fires new alerts; escalates open ones nobody acted on.

    Days of a range are evaluated in order; the day before the range comes from its stored
    partitions, through a partition mapping (none: that day is the first, and what holds on
    it is the initial backlog). New alerts are exported to ``output/alerts/<day>.csv``; the
    last day's are sent to their severity's targets.
    """
    config = settings.scoring_config()
    # the signals without lift on the history stay off (alert_signal_quality)
    config.alerts = config.alerts.model_copy(update={
        "signals": signals_switched_on(config.alerts.signals, signal_quality)})
    days = run_days(context)
    day_before = days[0] - pd.Timedelta(days=1)
    previous = _on_day(account_scores, day_before)
    state = _on_day(open_alerts_before, day_before)
    first_day = previous is None and state is None
    if first_day:
        context.log.info(f"no scores for the day before {days[0]:%Y-%m-%d}: it is the first "
                         "scored day, so the conditions holding then are the initial backlog "
                         "and fire nothing")
    as_of = pd.to_datetime(account_scores["as_of"])
    fired, still_open = [], []
    # tenure_days tells an unmeasured days_since_last_login (signals.unmeasured_signals)
    signal_columns = ["account_id", *sorted(
        {c for rule in config.alerts.signals for c in rule.when} | {"tenure_days"}
        - {"account_id", "health_score", "days_to_renewal"})]
    silent: set[str] = set()
    for day in days:
        today = account_scores[as_of == day]
        features = storage.stored_partition("account_snapshot", day, columns=signal_columns)
        if features is not None:
            silent |= set(unmeasured_signals(features, config.alerts.signals))
        result = evaluate_alerts(today, previous, state, as_of=day, config=config.alerts,
                                 health=config.health, activities=cs_activities,
                                 features=features, first_day=first_day,
                                 recent_high=None if recent_health is None else
                                 recent_high_health(recent_health, day,
                                                    config.alerts.decline_days))
        export_day(settings, "alerts", day, result.fired)
        fired.append(result.fired)
        still_open.append(result.open)
        previous, state, first_day = today, result.open, False
    alerts = pd.concat(fired, ignore_index=True)
    try:
        # the earlier days of a range are history: recorded, not sent (what still holds of
        # them reaches the CSMs as work items)
        delivery = deliver_alerts(alert_webhook, alert_email, fired[-1], config.alerts.routing,
                                  settings.output_path / "alerts" / "delivered.txt")
    except OSError as exc:
        # The table is written either way; re-running the day retries what was not posted.
        delivery = f"FAILED: {exc}"
        context.log.error(f"alert delivery: {exc}; re-run the day to retry")
    if silent:
        context.log.warning(
            "signals not evaluated because the export does not measure their feature (the "
            "same value, or no login, for every account; for days_since_last_login map your "
            f"login event in mapping.yaml's login_events): {', '.join(sorted(silent))}")
    counts = alerts["alert_type"].value_counts()
    severities = alerts["severity"].value_counts()
    # open_alerts first: today's alerts depend on the open alerts of the day before
    yield Output(pd.concat(still_open, ignore_index=True), output_name="open_alerts",
                 metadata={"open_at_end": len(still_open[-1])})
    yield Output(alerts, output_name="account_alerts", metadata={
        "alerts": len(alerts), "delivery": delivery,
        "escalations": int(alerts["escalation"].sum()),
        "signals_not_evaluated": ", ".join(sorted(silent)) or "none",
        "by_severity": MetadataValue.md(severities.to_frame().to_markdown()
                                        if len(severities) else "none"),
        "by_type": MetadataValue.md(counts.to_frame().to_markdown() if len(counts) else "none"),
    })
