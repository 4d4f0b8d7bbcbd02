"""Alerts layer: what got worse since the previous day's scores, said once until it clears;
and each CSM's work queue for the week, within capacity."""

from pathlib import Path

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    BackfillPolicy,
    MetadataValue,
    Output,
    asset,
    multi_asset,
)

from models.alerts import evaluate_alerts, webhook_payload
from models.work_queue import overflow_summary, work_queue
from pipelines.partitions import daily_partitions, run_days
from pipelines.resources import AccountHealthSettings, AlertWebhook


def _previous_day(settings: AccountHealthSettings, asset: str,
                  day: pd.Timestamp) -> pd.DataFrame | None:
    before = day - pd.Timedelta(days=1)
    path = settings.output_path / "assets" / asset / f"{before:%Y-%m-%d}.parquet"
    return pd.read_parquet(path) if path.exists() else None


def _deliver(webhook: AlertWebhook, alerts: pd.DataFrame, ledger: Path) -> str:
    """Post the alerts not delivered before; the ledger keeps re-runs from re-posting."""
    if not webhook.configured:
        return "no webhook configured"
    delivered = set(ledger.read_text().split()) if ledger.exists() else set()
    pending = alerts[~alerts["alert_id"].isin(delivered)]
    if pending.empty:
        return "nothing new to post"
    webhook.post(webhook_payload(pending))
    with ledger.open("a") as file:
        file.writelines(f"{alert_id}\n" for alert_id in pending["alert_id"])
    return f"posted {len(pending)}"


@multi_asset(
    outs={
        "account_alerts": AssetOut(
            description="Alerts fired on the day: band downgrades, health drops of 20+ "
                        "points, newly critical accounts, renewals within 60 days at health "
                        "below 60", metadata={"partition_column": "as_of"}),
        "open_alerts": AssetOut(
            description="Alert conditions still holding at the end of the day (the state "
                        "that keeps an open alert from firing again)",
            metadata={"partition_column": "as_of"}),
    },
    ins={"account_scores": AssetIn()},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="scoring",
)
def account_alerts(context: AssetExecutionContext, settings: AccountHealthSettings,
                   alert_webhook: AlertWebhook, account_scores: pd.DataFrame):
    """Compares each day's scores with the previous day's and fires new alerts.

    Days of a range are evaluated in order; the day before the range comes from its stored
    partitions (none: that day is the first, and only critical and renewal alerts can fire).
    New alerts are exported to ``output/alerts/<day>.csv`` and posted to the webhook.
    """
    config = settings.scoring_config()
    days = run_days(context)
    previous = _previous_day(settings, "account_scores", days[0])
    state = _previous_day(settings, "open_alerts", days[0])
    if previous is None:
        context.log.info(f"no scores for the day before {days[0]:%Y-%m-%d}: it is the first "
                         "scored day, so only critical and renewal alerts can fire")
    as_of = pd.to_datetime(account_scores["as_of"])
    exports = settings.output_path / "alerts"
    exports.mkdir(parents=True, exist_ok=True)
    fired, still_open = [], []
    for day in days:
        today = account_scores[as_of == day]
        result = evaluate_alerts(today, previous, state, as_of=day, config=config.alerts,
                                 health=config.health)
        result.fired.to_csv(exports / f"{day:%Y-%m-%d}.csv", index=False)
        fired.append(result.fired)
        still_open.append(result.open)
        previous, state = today, result.open
    alerts = pd.concat(fired, ignore_index=True)
    try:
        delivery = _deliver(alert_webhook, alerts, exports / "delivered.txt")
    except OSError as exc:
        # The table is written either way; re-running the day retries what was not posted.
        delivery = f"FAILED: {exc}"
        context.log.error(f"alert webhook: {exc}; re-run the day to retry")
    counts = alerts["alert_type"].value_counts()
    yield Output(alerts, output_name="account_alerts", metadata={
        "alerts": len(alerts), "webhook": delivery,
        "by_type": MetadataValue.md(counts.to_frame().to_markdown() if len(counts) else "none"),
    })
    yield Output(pd.concat(still_open, ignore_index=True), output_name="open_alerts",
                 metadata={"open_at_end": len(still_open[-1])})


@asset(
    ins={"account_scores": AssetIn(), "scored_opportunities": AssetIn(),
         "accounts": AssetIn()},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="scoring",
    metadata={"partition_column": "as_of"},
    check_specs=[AssetCheckSpec(
        "queue_within_capacity", asset="csm_work_queue",
        description="No CSM is scheduled more than their weekly capacity per queue, and every "
                    "candidate is either scheduled or reported as overflow")],
)
def csm_work_queue(context: AssetExecutionContext, settings: AccountHealthSettings,
                   account_scores: pd.DataFrame, scored_opportunities: pd.DataFrame,
                   accounts: pd.DataFrame | None):
    """Each CSM's week: the retention queue (at-risk and critical accounts by expected ARR at
    risk) and the expansion queue (open High and Medium opportunities by projected ARR),
    each cut at the configured capacity per CSM; the rest is overflow, reported here and in
    ``output/work_queue/<day>.csv``."""
    config = settings.scoring_config().capacity
    owners = (accounts.set_index("account_id")["csm_owner"]
              if accounts is not None and "csm_owner" in accounts else None)
    scores_day = pd.to_datetime(account_scores["as_of"])
    opportunities_day = pd.to_datetime(scored_opportunities["created_date"])
    exports = settings.output_path / "work_queue"
    exports.mkdir(parents=True, exist_ok=True)
    queues = []
    for day in run_days(context):
        queue = work_queue(account_scores[scores_day == day],
                           scored_opportunities[opportunities_day == day], owners, config)
        queue.insert(0, "as_of", day.date())
        queue.to_csv(exports / f"{day:%Y-%m-%d}.csv", index=False)
        queues.append(queue)
    result = pd.concat(queues, ignore_index=True)
    summary = overflow_summary(queues[-1])
    yield Output(result, metadata={
        "capacity_per_csm_per_week": MetadataValue.json(config.model_dump(mode="json")),
        "last_day": MetadataValue.md(summary.to_markdown(index=False, floatfmt=",.0f"))})
    scheduled = result[result["status"] == "scheduled"].groupby(["as_of", "queue", "csm_owner"])
    limits = {"retention": config.retention_accounts_per_csm_per_week,
              "expansion": config.expansion_accounts_per_csm_per_week}
    most = scheduled.size().reset_index(name="accounts")
    over = most[most["accounts"] > most["queue"].map(limits)]
    yield AssetCheckResult(check_name="queue_within_capacity", asset_key="csm_work_queue",
                           passed=bool(over.empty and result["status"].isin(
                               ["scheduled", "overflow", "holdout"]).all()),
                           metadata={"owners_over_capacity": len(over),
                                     "overflow_accounts": int((result["status"]
                                                               == "overflow").sum()),
                                     "held_out_accounts": int((result["status"]
                                                               == "holdout").sum())})
