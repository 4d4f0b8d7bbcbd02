"""Scoring layer, queues: each CSM's week within capacity, and the new accounts to
onboard."""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    MetadataValue,
    Output,
    asset,
)

from features.contract import TRACKED_EVENT_SLOTS
from features.event_vocabulary import readable_event_columns
from features.retention_kpis import churn_events
from models.alerts.work_queue import overflow_summary, work_queue
from models.analysis.activation import onboarding_queue as onboarding_queue_of
from models.scoring.playbook import win_back_candidates
from pipelines.exports import export_day
from pipelines.partitions import daily_asset, run_days
from pipelines.resources import (
    AccountHealthSettings,
)


@asset(
    ins={"account_scores": AssetIn(), "scored_opportunities": AssetIn(),
         "accounts": AssetIn(), "subscriptions": AssetIn(), "invoices": AssetIn()},
    **daily_asset("scoring"),
    check_specs=[AssetCheckSpec(
        "queue_within_capacity", asset="csm_work_queue",
        description="No CSM is scheduled more than their weekly capacity per queue, and every "
                    "candidate is either scheduled or reported as overflow")],
)
def csm_work_queue(context: AssetExecutionContext, settings: AccountHealthSettings,
                   account_scores: pd.DataFrame, scored_opportunities: pd.DataFrame,
                   accounts: pd.DataFrame | None, subscriptions: pd.DataFrame,
                   invoices: pd.DataFrame | None):
    """Each CSM's week: the retention queue (at-risk and critical accounts by expected ARR at
    risk), the expansion queue (open High and Medium opportunities by projected ARR) and the
    win-back queue (high-ARR accounts churned recently, the playbook's ``win_back``), each
    cut at the configured capacity per CSM; the rest is overflow, reported here and in
    ``output/work_queue/<day>.csv``."""
    scoring = settings.scoring_config()
    config, playbook = scoring.capacity, scoring.playbook()
    churned = churn_events(subscriptions, invoices, run_days(context)[-1])
    owners = (accounts.set_index("account_id")["csm_owner"]
              if accounts is not None and "csm_owner" in accounts else None)
    scores_day = pd.to_datetime(account_scores["as_of"])
    opportunities_day = pd.to_datetime(scored_opportunities["created_date"])
    queues = []
    for day in run_days(context):
        queue = work_queue(account_scores[scores_day == day],
                           scored_opportunities[opportunities_day == day], owners, config,
                           win_back=win_back_candidates(churned, day, playbook))
        queue.insert(0, "as_of", day.date())
        export_day(settings, "work_queue", day, queue)
        queues.append(queue)
    result = pd.concat(queues, ignore_index=True)
    summary = overflow_summary(queues[-1])
    yield Output(result, metadata={
        "capacity_per_csm_per_week": MetadataValue.json(config.model_dump(mode="json")),
        "last_day": MetadataValue.md(summary.to_markdown(index=False, floatfmt=",.0f"))})
    scheduled = result[result["status"] == "scheduled"].groupby(["as_of", "queue", "csm_owner"])
    limits = {"retention": config.retention_accounts_per_csm_per_week,
              "expansion": config.expansion_accounts_per_csm_per_week,
              "win_back": config.win_back_accounts_per_csm_per_week}
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


@asset(
    ins={"activation_definition": AssetIn(metadata={"missing_ok": True}),
         "account_scores": AssetIn(), "event_vocabulary": AssetIn(),
         # what activation reads of the day's features: age and per-event counts
         "account_snapshot": AssetIn(metadata={"columns": [
             "account_id", "as_of_date", "tenure_days",
             *(f"event_{k}_30d" for k in range(1, TRACKED_EVENT_SLOTS + 1))]})},
    **daily_asset("scoring"),
)
def onboarding_queue(context: AssetExecutionContext, settings: AccountHealthSettings,
                     activation_definition: pd.DataFrame | None, account_scores: pd.DataFrame,
                     event_vocabulary: pd.DataFrame | None, account_snapshot: pd.DataFrame):
    """New accounts 30 to 60 days old (``activation.onboarding_days``) below the activation
    definition, largest ARR first, with what they miss; also
    ``output/onboarding/<day>.csv``."""
    config = settings.scoring_config().activation
    names = settings.event_taxonomy(event_vocabulary).tracked_events
    definition = (activation_definition if activation_definition is not None
                  else pd.DataFrame(columns=["event", "min_events_30d"]))
    scores_day = pd.to_datetime(account_scores["as_of"])
    snapshot = readable_event_columns(account_snapshot, names)
    snapshot_day = pd.to_datetime(snapshot["as_of_date"])
    queues = []
    for day in run_days(context):
        queue = onboarding_queue_of(snapshot[snapshot_day == day],
                                    account_scores[scores_day == day], definition, names,
                                    config).assign(as_of=day)
        export_day(settings, "onboarding", day, queue)
        queues.append(queue)
    result = pd.concat(queues, ignore_index=True)
    return Output(result, metadata={"accounts_last_day": len(queues[-1]),
                                    "arr_last_day": float(queues[-1]["arr"].sum())})
