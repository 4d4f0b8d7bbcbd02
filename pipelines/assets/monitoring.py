"""Monitoring layer: retention metrics for leaders, feature drift for data scientists."""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from features.retention import mrr_movements, retention_by_month
from models.drift import DriftThresholds, feature_drift
from models.features import feature_columns
from pipelines.assets.features import account_snapshot
from pipelines.partitions import daily_partitions
from pipelines.resources import AccountHealthSettings

GROUP = "monitoring"
#: Groupings of the retention table besides the whole business, when the column exists.
RETENTION_DIMENSIONS = ["segment", "plan", "csm_owner"]


@asset(group_name=GROUP, ins={"subscriptions": AssetIn(), "accounts": AssetIn()})
def retention_metrics(context: AssetExecutionContext, settings: AccountHealthSettings,
                      subscriptions: pd.DataFrame, accounts: pd.DataFrame | None) -> pd.DataFrame:
    """Monthly MRR movements, NRR, GRR and logo retention (docs/metrics.md), for the whole
    business (``dimension = overall``) and by segment, plan and CSM owner; also written to
    ``reports/retention_metrics.csv``."""
    last_day = settings.current_time().tz_localize(None).normalize() - pd.Timedelta(days=1)
    movements = mrr_movements(subscriptions, last_day=last_day)
    if accounts is not None:
        present = [c for c in ("segment", "csm_owner") if c in accounts.columns]
        movements = movements.merge(accounts[["account_id", *present]], on="account_id",
                                    how="left")
    tables = [retention_by_month(movements).assign(dimension="overall", group="all")]
    for dimension in [d for d in RETENTION_DIMENSIONS if d in movements.columns]:
        table = retention_by_month(movements.assign(group=movements[dimension]), by=["group"])
        tables.append(table.assign(dimension=dimension))
    result = pd.concat(tables, ignore_index=True)
    result = result[["dimension", "group", *[c for c in result if c not in ("dimension",
                                                                             "group")]]]
    result.to_csv(settings.reports_dir() / "retention_metrics.csv", index=False)
    overall = result[result["dimension"] == "overall"].tail(3)
    context.add_output_metadata({
        "last_complete_month": str(overall["month"].max().date()) if len(overall) else "none",
        **({"nrr": float(overall["nrr"].iloc[-1]), "grr": float(overall["grr"].iloc[-1]),
            "logo_retention": float(overall["logo_retention"].iloc[-1])} if len(overall)
           else {}),
        "last_months": MetadataValue.md(overall[["month", "starting_mrr", "nrr", "grr",
                                                 "logo_retention"]].to_markdown(index=False,
                                                                                floatfmt=".3f")),
    })
    return result


@asset(
    name="feature_drift",
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={"training_set": AssetIn()},
    deps=[account_snapshot],
    metadata={"partition_column": "as_of_date"},
    check_specs=[AssetCheckSpec(
        "features_have_not_drifted", asset="feature_drift",
        description="Warns when a feature's distribution today has moved away from the "
                    "training data (PSI or KS above the thresholds): the model is scoring "
                    "a population it was not trained on; retrain (job train_churn_models).")],
)
def feature_drift_asset(context: AssetExecutionContext, settings: AccountHealthSettings,
                        training_set: pd.DataFrame):
    """Per day and feature: PSI and KS of the day's snapshot against the training set."""
    features = feature_columns(training_set)
    thresholds = DriftThresholds(psi=settings.drift_psi_threshold,
                                 ks=settings.drift_ks_threshold)
    exempt = tuple(f.strip() for f in settings.drift_exempt_features.split(",") if f.strip())
    window = context.partition_time_window
    days = pd.date_range(pd.Timestamp(window.start).tz_localize(None),
                         pd.Timestamp(window.end).tz_localize(None), inclusive="left")
    tables = []
    for day in days:
        snapshot_file = settings.snapshot_dir() / f"{day:%Y-%m-%d}.parquet"
        if not snapshot_file.exists():
            raise Failure(f"no account_snapshot for {day:%Y-%m-%d}; materialise it first")
        today = pd.read_parquet(snapshot_file)
        tables.append(feature_drift(training_set, today, features, thresholds=thresholds,
                                    exempt=exempt).assign(as_of_date=day))
    result = pd.concat(tables, ignore_index=True)
    last = result[result["as_of_date"] == days[-1]]
    drifted = last.loc[last["drifted"], "feature"].tolist()
    yield Output(result, metadata={"max_psi": float(last["psi"].max()),
                                   "drifted_features": ", ".join(drifted) or "none"})
    yield AssetCheckResult(
        check_name="features_have_not_drifted", asset_key="feature_drift",
        passed=not drifted, severity=AssetCheckSeverity.WARN,
        description=(f"{len(drifted)} feature(s) drifted on {days[-1]:%Y-%m-%d}: "
                     f"{', '.join(drifted)}; retraining is recommended (job "
                     "train_churn_models)" if drifted else None),
        metadata={"day": f"{days[-1]:%Y-%m-%d}", "drifted_features": ", ".join(drifted) or "none",
                  "top_psi": MetadataValue.md(last.head(5)[["feature", "psi", "ks_statistic"]]
                                              .to_markdown(index=False, floatfmt=".3f"))})
