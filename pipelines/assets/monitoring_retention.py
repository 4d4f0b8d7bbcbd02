"""Monitoring layer, retention: MRR movements, retention by month and cohort, and the KPIs
a CS leader reports (NRR, GRR, renewal rates, churn by kind)."""

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    MetadataValue,
    Output,
    asset,
    multi_asset,
)

from features import retention
from features.retention_kpis import (
    churn_by_kind,
    churn_events,
    renewal_events,
    renewal_rates,
    window_retention,
)
from pipelines.resources import AccountHealthSettings

GROUP = "monitoring"
#: Groupings of the retention table besides the whole business, when the column exists.
RETENTION_DIMENSIONS = ["segment", "plan", "csm_owner"]
#: Cohorts are split only by what an account keeps (a plan changes from month to month).
COHORT_DIMENSIONS = ["segment", "csm_owner"]


@asset(group_name=GROUP, ins={"subscriptions": AssetIn(), "accounts": AssetIn()})
def mrr_movements(settings: AccountHealthSettings, subscriptions: pd.DataFrame,
                  accounts: pd.DataFrame | None) -> pd.DataFrame:
    """Per account and complete month: starting and ending MRR and the movement between
    them (docs/metrics.md), with the account's segment and CSM owner when known."""
    last_day = settings.data.last_complete_day()
    movements = retention.mrr_movements(subscriptions, last_day=last_day)
    if accounts is not None:
        present = [c for c in RETENTION_DIMENSIONS if c in accounts.columns and c != "plan"]
        movements = retention.with_account_attributes(movements, accounts, present)
    return movements


def _by_dimension(movements: pd.DataFrame, summarise, dimensions: list[str]) -> pd.DataFrame:
    """``summarise`` for the whole business (``dimension = overall``) and per dimension."""
    tables = [summarise(movements, None).assign(dimension="overall", group="all")]
    for dimension in [d for d in dimensions if d in movements.columns]:
        table = summarise(movements, [dimension]).rename(columns={dimension: "group"})
        tables.append(table.assign(dimension=dimension))
    result = pd.concat(tables, ignore_index=True)
    return result[["dimension", "group", *[c for c in result if c not in ("dimension", "group")]]]


@asset(group_name=GROUP)
def retention_metrics(context: AssetExecutionContext, settings: AccountHealthSettings,
                      mrr_movements: pd.DataFrame) -> pd.DataFrame:
    """Monthly NRR, GRR, logo retention and their MRR movements for the whole business and by
    segment, plan and CSM owner; also written to ``reports/retention_metrics.csv``."""
    result = _by_dimension(mrr_movements, retention.retention_by_month, RETENTION_DIMENSIONS)
    result.to_csv(settings.reports_dir() / "retention_metrics.csv", index=False)
    overall = result[result["dimension"] == "overall"].dropna(subset=["nrr"]).tail(3)
    if len(overall):
        latest = overall.iloc[-1]
        context.add_output_metadata({
            "last_complete_month": str(latest["month"].date()), "nrr": float(latest["nrr"]),
            "grr": float(latest["grr"]), "logo_retention": float(latest["logo_retention"]),
            "last_months": MetadataValue.md(overall[["month", "starting_mrr", "nrr", "grr",
                                                     "logo_retention"]].to_markdown(
                index=False, floatfmt=".3f"))})
    return result


@asset(group_name=GROUP)
def cohort_retention(settings: AccountHealthSettings,
                     mrr_movements: pd.DataFrame) -> pd.DataFrame:
    """Logo and revenue retention curves by monthly cohort (first paying month), for the
    whole business and by segment and CSM owner; also ``reports/cohort_retention.csv``."""
    last = mrr_movements["month"].max()
    result = _by_dimension(mrr_movements, lambda movements, by: retention.cohort_retention(
        movements, by, last_month=last), COHORT_DIMENSIONS)
    result.to_csv(settings.reports_dir() / "cohort_retention.csv", index=False)
    return result


@multi_asset(
    group_name=GROUP,
    ins={"subscriptions": AssetIn(), "invoices": AssetIn()},
    outs={
        "retention_kpis": AssetOut(description=(
            "Trailing-12-month and quarterly NRR, GRR and expansion rates by customers and "
            "by revenue; also reports/retention_windows.csv")),
        "renewal_rates": AssetOut(description=(
            "Gross renewal rate per complete quarter by count and by ARR; also "
            "reports/renewals.csv")),
        "churn_by_kind": AssetOut(description=(
            "Churn per month split into voluntary and involuntary; also "
            "reports/churn_by_kind.csv")),
    },
)
def retention_kpis(context: AssetExecutionContext, settings: AccountHealthSettings,
                   mrr_movements: pd.DataFrame, subscriptions: pd.DataFrame,
                   invoices: pd.DataFrame | None):
    """What a CS leader reports (docs/metrics.md): retention windows, renewal rates and
    churn by kind, each an asset of its own and a CSV for people."""
    last_day = settings.data.last_complete_day()
    windows = pd.concat([
        window_retention(mrr_movements, months=12).assign(window="trailing 12 months"),
        window_retention(mrr_movements, months=3, quarters_only=True).assign(window="quarter"),
    ], ignore_index=True)
    renewals = renewal_rates(renewal_events(subscriptions, last_day))
    renewals = renewals[renewals["period_end"] <= last_day]  # complete quarters only
    churn = churn_by_kind(churn_events(subscriptions, invoices, last_day))
    reports = settings.reports_dir()
    windows.to_csv(reports / "retention_windows.csv", index=False)
    renewals.to_csv(reports / "renewals.csv", index=False)
    churn.to_csv(reports / "churn_by_kind.csv", index=False)
    latest = {name: windows[windows["window"] == name].tail(1)
              for name in ("trailing 12 months", "quarter")}
    quarters = renewals[renewals["term_months"] == 0].tail(1)
    yield Output(windows, "retention_kpis", metadata={
        f"{name} {kpi}": round(float(row[kpi].iloc[0]), 4)
        for name, row in latest.items() if len(row) for kpi in ("nrr", "grr")})
    yield Output(renewals, "renewal_rates", metadata=(
        {"renewal_rate_last_quarter": round(float(quarters["renewal_rate"].iloc[0]), 4)}
        if len(quarters) else {}))
    yield Output(churn, "churn_by_kind", metadata={
        "involuntary_churn_share": round(float(churn["involuntary"].sum()
                                               / max(churn["churned_accounts"].sum(), 1)), 4)})
