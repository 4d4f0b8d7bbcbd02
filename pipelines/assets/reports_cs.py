"""Reports layer: the weekly operations report and the monthly executive report, each as of
the latest scored day, each with a schedule of its own."""

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MaterializeResult, MetadataValue, asset

from models.reports.executive import render_executive, signal_reasons
from models.reports.operations import (
    alerts_per_owner,
    band_moves,
    playbook_engagement,
    render_operations,
    sla_adherence,
)
from pipelines.assets.scoring_scores import account_scores
from pipelines.resources import AccountHealthSettings
from pipelines.storage import AssetStorage

GROUP = "reports"
#: Days the weekly report covers, the report day included.
WEEK_DAYS = 7


def _latest_scored_day(storage: AssetStorage) -> pd.Timestamp:
    days = storage.stored_days("account_scores")
    if not days:
        raise ValueError("no account_scores partitions yet; run the daily scoring first")
    return pd.Timestamp(days[-1])


@asset(group_name=GROUP, deps=[account_scores, "account_alerts"],
       ins={"cs_activities": AssetIn(),
            "signal_quality": AssetIn("alert_signal_quality", metadata={"missing_ok": True}),
            "playbooks": AssetIn("playbook_effects", metadata={"missing_ok": True})})
def weekly_operations_report(context: AssetExecutionContext, settings: AccountHealthSettings,
                             storage: AssetStorage,
                             cs_activities: pd.DataFrame | None,
                             signal_quality: pd.DataFrame | None,
                             playbooks: pd.DataFrame | None) -> pd.DataFrame:
    """``reports/weekly/<day>.html`` for the week to the latest scored day: alerts per CSM
    by severity with SLA adherence (from ``cs_activities``), playbook engagement of the
    flagged accounts, the accounts that moved between bands, whether each early-warning
    signal earns its place and which playbook works; the per-CSM table is the asset's
    value."""
    config = settings.scoring_config()
    day = _latest_scored_day(storage)
    days = pd.date_range(day - pd.Timedelta(days=WEEK_DAYS - 1), day)
    fired = [frame for d in days if (frame := storage.stored_partition("account_alerts", d))
             is not None and len(frame)]
    alerts = (pd.concat(fired, ignore_index=True) if fired else
              pd.DataFrame(columns=["alert_id", "as_of", "account_id", "severity", "owner",
                                    "escalation"]))
    adherence = sla_adherence(alerts, cs_activities, routing=config.alerts.routing, as_of=day)
    per_owner = alerts_per_owner(alerts, adherence)
    scores = storage.stored_partition("account_scores", day)
    engagement = playbook_engagement(scores, cs_activities, since=days[0], as_of=day,
                                     flagged_bands=config.playbook().holdout_bands)
    bands = [b.name for b in sorted(config.health.bands, key=lambda b: -b.min_score)]
    moves = band_moves(scores, storage.stored_partition("account_scores", days[0] - pd.Timedelta(
        days=1)), bands)
    path = settings.reports_dir() / "weekly" / f"{day:%Y-%m-%d}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_operations(f"{day:%Y-%m-%d}", per_owner, engagement, moves,
                                      signal_quality, playbooks))
    due = adherence["outcome"].isin(["within SLA", "late", "unanswered"])
    context.add_output_metadata({
        "report": MetadataValue.path(str(path)), "alerts": len(alerts),
        "sla_adherence": round(float((adherence["outcome"] == "within SLA").sum()
                                     / max(due.sum(), 1)), 3)})
    return per_owner


@asset(group_name=GROUP, deps=[account_scores, "work_items"],
       ins={"retention_windows": AssetIn("retention_kpis"), "renewals": AssetIn("renewal_rates"),
            "churn": AssetIn("churn_by_kind"), "monthly": AssetIn("retention_metrics"),
            "forecast": AssetIn("renewal_forecast"), "backtest": AssetIn("renewal_backtest")})
def monthly_executive_report(settings: AccountHealthSettings,
                             storage: AssetStorage, retention_windows: pd.DataFrame,
                             renewals: pd.DataFrame, churn: pd.DataFrame,
                             monthly: pd.DataFrame, forecast: pd.DataFrame,
                             backtest: pd.DataFrame) -> MaterializeResult:
    """``reports/monthly/<month>.html``: the renewal forecast of the next two quarters and
    its back-test, NRR, GRR and logo retention by month (chart) and by quarter, renewal
    rates, churn by month split voluntary and involuntary (charts), and the top risks by
    ARR at risk on the latest scored day with their behavioural reason."""
    day = _latest_scored_day(storage)
    month = f"{day:%Y-%m}"
    path = settings.reports_dir() / "monthly" / f"{month}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_executive(
        month, retention_windows, renewals, churn,
        storage.stored_partition("account_scores", day),
        monthly=monthly[monthly["dimension"] == "overall"],
        targets={"nrr": settings.monitoring.nrr_target, "grr": settings.monitoring.grr_target,
                 "logo_retention": settings.monitoring.logo_retention_target},
        signals=signal_reasons(storage.stored_partition("work_items", day),
                               [s.name for s in settings.scoring_config().alerts.signals]),
        forecast=forecast, backtest=backtest))
    return MaterializeResult(metadata={"report": MetadataValue.path(str(path)),
                                       "month": month})
