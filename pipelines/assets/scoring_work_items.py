"""Scoring layer, work items: one ranked item per account with open alerts, each CSM's list
for the day within capacity."""

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

from models.alerts.work_items import work_item_summary, work_items
from pipelines.exports import export_day
from pipelines.partitions import daily_asset, run_days
from pipelines.resources import AccountHealthSettings


@asset(
    name="work_items",
    ins={"open_alerts": AssetIn(), "account_scores": AssetIn(), "cs_activities": AssetIn()},
    **daily_asset("scoring"),
    check_specs=[AssetCheckSpec(
        "one_item_per_account_within_capacity", asset="work_items",
        description="At most one work item per account and day, and no CSM's list for the "
                    "day longer than their capacity")],
)
def work_items_of_day(context: AssetExecutionContext, settings: AccountHealthSettings,
                      open_alerts: pd.DataFrame, account_scores: pd.DataFrame,
                      cs_activities: pd.DataFrame | None):
    """The day's work items (``output/work_items/<day>.csv``): the open alerts folded into
    one item per account, ranked by ARR at risk and severity; each CSM's first
    ``capacity.work_items_per_csm_per_day`` are the day's list, the rest the backlog."""
    capacity = settings.scoring_config().capacity.work_items_per_csm_per_day
    open_day = pd.to_datetime(open_alerts["as_of"])
    scores_day = pd.to_datetime(account_scores["as_of"])
    days = []
    for day in run_days(context):
        items = work_items(open_alerts[open_day == day], account_scores[scores_day == day],
                           per_csm_per_day=capacity, activities=cs_activities)
        export_day(settings, "work_items", day, items)
        days.append(items)
    result = pd.concat(days, ignore_index=True)
    last = days[-1]
    yield Output(result, metadata={
        "items_last_day": len(last), "new_last_day": int(last["new"].sum()),
        "per_csm_last_day": MetadataValue.md(work_item_summary(last).to_markdown(index=False)
                                             if len(last) else "none")})
    today = result[result["status"] == "today"].groupby(["as_of", "csm_owner"]).size()
    doubled = result.duplicated(["as_of", "account_id"]).sum()
    yield AssetCheckResult(check_name="one_item_per_account_within_capacity",
                           passed=bool(doubled == 0 and (today <= capacity).all()),
                           metadata={"accounts_with_two_items": int(doubled),
                                     "longest_list": int(today.max()) if len(today) else 0,
                                     "capacity": capacity})
