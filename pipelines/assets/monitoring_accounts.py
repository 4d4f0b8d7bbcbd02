"""Monitoring layer, account pages: one self-contained page per account, linked from the
portfolio and the CSM pages."""

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from features.contract import TRACKED_EVENT_SLOTS
from models.reports.account_page import account_records, page_file, render_account
from pipelines.partitions import daily_partitions, run_days, stored_days_around
from pipelines.resources import AccountHealthSettings

#: Days of history an account page shows (the day included).
PAGE_DAYS = 90
#: Pages written at most, besides the accounts on the CSMs' lists: every account up to
#: this many, beyond it those with the most ARR at risk (a page costs a few milliseconds).
MOST_PAGES = 2_000


def _usage(snapshots: pd.DataFrame | None, event_names: list[str]) -> pd.DataFrame:
    """Events in the last 30 days per account, day and tracked event name."""
    if snapshots is None:
        return pd.DataFrame(columns=["account_id", "as_of"])
    slots = {f"event_{k}_30d": name for k, name in enumerate(event_names, start=1)}
    return snapshots[["account_id", "as_of_date", *(c for c in slots if c in snapshots)]].rename(
        columns={**slots, "as_of_date": "as_of"})


@asset(
    group_name="monitoring",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={"account_scores": AssetIn(),
         "scores_history": stored_days_around("score_history", -(PAGE_DAYS - 1)),
         "alerts_history": stored_days_around("account_alerts", -(PAGE_DAYS - 1)),
         "work_items": AssetIn(), "subscriptions": AssetIn(), "invoices": AssetIn(),
         "support_tickets": AssetIn(), "cs_activities": AssetIn(),
         "event_vocabulary": AssetIn(),
         # usage per event name: only the 30-day counts of the snapshots (of ~100 columns)
         "usage_history": stored_days_around(
             "account_snapshot", -(PAGE_DAYS - 1), columns=[
                 "account_id", "as_of_date",
                 *(f"event_{k}_30d" for k in range(1, TRACKED_EVENT_SLOTS + 1))])},
)
def account_pages(context: AssetExecutionContext, settings: AccountHealthSettings,
                  account_scores: pd.DataFrame, scores_history: pd.DataFrame,
                  alerts_history: pd.DataFrame | None,
                  work_items: pd.DataFrame, subscriptions: pd.DataFrame,
                  invoices: pd.DataFrame | None, support_tickets: pd.DataFrame | None,
                  cs_activities: pd.DataFrame | None,
                  event_vocabulary: pd.DataFrame | None,
                  usage_history: pd.DataFrame | None) -> MaterializeResult:
    """``reports/accounts/<account>.html`` for the run's last day: health and risk over the
    last 90 scored days, component scores, reasons and action, the work item, usage per
    event name, alerts, CS activities, subscriptions, invoices and tickets. Every scored
    account up to 2,000; beyond, the 2,000 with the most ARR at risk and those on a CSM's
    list today. Pages of accounts without one now are removed."""
    day = run_days(context)[-1]
    today = account_scores[pd.to_datetime(account_scores["as_of"]) == day]
    as_of = pd.to_datetime(scores_history["as_of"])
    scores_history = scores_history[as_of <= day]
    items = work_items[pd.to_datetime(work_items["as_of"]) == day]
    listed = set(items.loc[items["status"] == "today", "account_id"])
    accounts = (today["account_id"] if len(today) <= MOST_PAGES else today["account_id"][
        today["account_id"].isin(listed | set(today.nlargest(MOST_PAGES, "arr_at_risk")[
            "account_id"]))])
    days = pd.DatetimeIndex(sorted(as_of[as_of <= day].unique()))
    records = account_records(
        today, scores_history,
        _usage(usage_history, settings.event_taxonomy(event_vocabulary).tracked_events), items,
        {"alerts": alerts_history, "activities": cs_activities,
         "subscriptions": subscriptions, "invoices": invoices, "tickets": support_tickets},
        accounts.tolist())
    directory = settings.reports_dir() / "accounts"
    directory.mkdir(parents=True, exist_ok=True)
    written = set()
    for account, account_records_ in records:
        name = page_file(account)
        (directory / name).write_text(render_account(account, account_records_,
                                                     horizon_days=settings.training.horizon_days))
        written.add(name)
    for stale in directory.glob("*.html"):
        if stale.name not in written:
            stale.unlink()
    return MaterializeResult(metadata={
        "day": f"{day:%Y-%m-%d}", "pages": len(written), "days_shown": len(days),
        "directory": MetadataValue.path(str(directory))})
