"""Run the whole feature pipeline in-process, as `make run` does.

Generates the demo data when no ``ACCOUNT_HEALTH_DATA_DIR`` is set, then materialises every
asset over the days the data covers in one run (a single-run backfill), recording the run in
the Dagster instance under ``$ACCOUNT_HEALTH_OUTPUT_DIR/dagster_home`` so ``dagster dev``
shows it.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dagster import (
    AssetSelection,
    BetaWarning,
    DagsterInstance,
    PreviewWarning,
    materialize,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from account_health.data_check import check_data, format_check
from account_health.demo_data import (
    GENERATOR_VERSION,
    DemoConfig,
    default_end_date,
    generate_to_dir,
)
from features.contract import day_files, read_table
from features.validation import event_times
from pipelines.resources import AccountHealthSettings, settings_from_env
from pipelines.selections import SCORING, TRAINING_PIPELINE


def ensure_demo_data(data_dir: Path, config: DemoConfig) -> bool:
    """Generate demo data unless the same configuration is already there. True if generated."""
    marker = data_dir / "demo_config.json"
    wanted = {"accounts": config.accounts, "months": config.months, "seed": config.seed,
              "end_date": config.end_date.isoformat(), "holdout_share": config.holdout_share,
              "generator": GENERATOR_VERSION}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return False
    counts = generate_to_dir(data_dir, config)
    marker.write_text(json.dumps(wanted))
    print(f"demo data written to {data_dir}: {counts}")
    return True


def event_day_range(settings: AccountHealthSettings) -> tuple[str, str]:
    """First and last UTC day of placeable events, clipped to the partitioned period."""
    path = settings.table_file("events")
    if path is None:
        raise SystemExit(f"events.csv, events.parquet or events/ not found in {settings.data_dir}")
    if path.is_dir():  # day files: their names say which days there are
        times = pd.Series(sorted(day_files(path)), dtype="datetime64[ns]").dt.tz_localize("UTC")
    else:
        times = event_times(read_table(path, "events", settings.mapping()))
    now = settings.current_time()
    yesterday = (now - pd.Timedelta(days=1)).normalize()
    times = times[(times >= settings.start_timestamp()) & (times <= now)]
    if times.empty:
        raise SystemExit("no events fall between ACCOUNT_HEALTH_START_DATE and now")
    first = times.min().normalize()
    last = min(times.max().normalize(), yesterday)
    return first.strftime("%Y-%m-%d"), last.strftime("%Y-%m-%d")


def run_pipeline(settings: AccountHealthSettings, instance: DagsterInstance | None = None,
                 *, first_day: str | None = None, last_day: str | None = None,
                 log_level: str = "WARNING", raise_on_error: bool = True,
                 selection: AssetSelection | None = None):
    """Materialise assets and checks for days first_day..last_day (default: the data's).

    ``selection`` limits the run (default: every asset, including daily scoring of every
    day in the range).
    """
    from pipelines.definitions import all_assets, all_checks, build_resources

    if first_day is None or last_day is None:
        first_day, last_day = event_day_range(settings)
    return materialize(
        [*all_assets, *all_checks],
        resources=build_resources(settings),
        instance=instance,
        tags={ASSET_PARTITION_RANGE_START_TAG: first_day, ASSET_PARTITION_RANGE_END_TAG: last_day},
        # One debug line per partition and step drowns the summary; the UI keeps them all.
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        raise_on_error=raise_on_error,
        selection=selection,
    )


def prepare_dagster_home(home: Path) -> None:
    """The local Dagster instance's folder, with telemetry off unless the user wrote an
    instance config of their own (Dagster's notice would otherwise greet every run)."""
    home.mkdir(parents=True, exist_ok=True)
    instance_config = home / "dagster.yaml"
    if not instance_config.exists() or not instance_config.read_text().strip():
        instance_config.write_text("telemetry:\n  enabled: false\n")


def main() -> None:
    # Dagster warns about its own beta parameters at every import; they are not the user's
    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=PreviewWarning)
    settings = settings_from_env()
    if not os.environ.get("ACCOUNT_HEALTH_DATA_DIR"):
        ensure_demo_data(Path(settings.data_dir), DemoConfig(
            accounts=int(os.environ.get("ACCOUNT_HEALTH_DEMO_ACCOUNTS", 2000)),
            months=int(os.environ.get("ACCOUNT_HEALTH_DEMO_MONTHS", 18)),
            end_date=default_end_date()))
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(settings.output_dir) /
                                                          "dagster_home")))
    prepare_dagster_home(home)
    check = check_data(settings)
    print(f"== data check of {settings.data_dir} ==\n{format_check(check)}\n")
    if not check.ok:
        raise SystemExit("the run did not start: change what the data check lists above "
                         f"(account-health check-data {settings.data_dir} checks again)")
    first_day, last_day = event_day_range(settings)
    print(f"materialising all assets for {first_day}..{last_day} from {settings.data_dir}")
    instance = DagsterInstance.get()
    result = run_pipeline(settings, instance, first_day=first_day, last_day=last_day,
                          log_level="INFO", raise_on_error=False, selection=TRAINING_PIPELINE)
    scoring = result
    if result.success:
        print(f"scoring every active account on {last_day}")
        scoring = run_pipeline(settings, instance, first_day=last_day, last_day=last_day,
                               log_level="INFO", raise_on_error=False, selection=SCORING)
    print_summary(settings, result)
    if not result.success or not scoring.success:
        print_failures(result if not result.success else scoring)
        raise SystemExit(1)
    print_top_at_risk(settings, last_day)


def print_failures(result) -> None:
    """Why the run stopped, in the words of the step that stopped it (no stack trace)."""
    print("\n== the run stopped ==")
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        data = event.step_failure_data
        user = data.user_failure_data
        message = (user.description if user is not None and user.description
                   else data.error.message.strip() if data.error else "unknown error")
        print(f"{event.step_key}:\n{message}\n")


def print_top_at_risk(settings: AccountHealthSettings, day: str, top: int = 10) -> None:
    """Where the day's scores are, and the accounts to call first."""
    parquet = Path(settings.output_dir) / "assets" / "account_scores" / f"{day}.parquet"
    csv = Path(settings.output_dir) / "scores" / f"{day}.csv"
    scores = pd.read_parquet(parquet)
    print(f"\n== scores for {day}: {len(scores)} accounts ==\n{parquet}\n{csv}")
    status = scores["model_status"].iloc[0] if len(scores) else "champion"
    if status != "champion":
        print(f"NOTE: these scores come from model v{scores['model_version'].iloc[0]}, "
              f"{status}. Rank accounts by them with care; more history or data makes a "
              "better model.")
    counts = scores["band"].value_counts()
    print("bands: " + ", ".join(f"{b} {counts.get(b, 0)}" for b in
                                ["thriving", "healthy", "neutral", "at-risk", "critical"]))
    head = scores.nsmallest(top, "risk_rank")
    table = pd.DataFrame({
        "account": head["account_id"], "band": head["band"],
        "risk": head["churn_probability"].map("{:.0%}".format),
        "ARR at risk": head["arr_at_risk"].map("${:,.0f}".format),
        "top reason": head["reason_1"], "action": head["recommended_action"]})
    print(f"\ntop {top} at-risk accounts:\n{table.to_markdown(index=False)}")
    alerts_file = Path(settings.output_dir) / "alerts" / f"{day}.csv"
    if alerts_file.exists():
        alerts = pd.read_csv(alerts_file)
        counts = alerts["alert_type"].value_counts()
        print(f"\nalerts on {day}: {len(alerts)} new"
              + (" (" + ", ".join(f"{n} {t}" for t, n in counts.items()) + ")" if len(alerts)
                 else "") + f" in {alerts_file}")
    print_opportunities(settings, day)
    print_work_queue(settings, day)
    print("one account from the online store: .venv/bin/account-health account <account_id>")
    print_monitoring(settings, day)


def print_work_queue(settings: AccountHealthSettings, day: str) -> None:
    """How much of the week's work fits the CSMs' capacity, and what overflows."""
    path = Path(settings.output_dir) / "work_queue" / f"{day}.csv"
    if not path.exists():
        return
    from models.work_queue import overflow_summary

    queue = pd.read_csv(path)
    print(f"\nCSM work queue for the week ({path}):")
    for row in overflow_summary(queue).itertuples():
        print(f"  {row.queue}: {row.accounts_scheduled} scheduled "
              f"(${row.expected_arr_scheduled:,.0f} expected ARR), {row.accounts_overflow} "
              f"over capacity (${row.expected_arr_overflow:,.0f})"
              + (f", {row.accounts_holdout} held out (control group)"
                 if getattr(row, "accounts_holdout", 0) else ""))


def print_opportunities(settings: AccountHealthSettings, day: str, top: int = 5) -> None:
    """The day's best expansion leads, and how many wait for recovery."""
    path = Path(settings.output_dir) / "opportunities" / f"{day}.csv"
    if not path.exists():
        return
    table = pd.read_csv(path)
    if table.empty:
        print(f"\nno expansion opportunities on {day}: the registry has no "
              "account-health-expansion champion yet")
        return
    leads = table[table["status"] == "open"]
    tiers = leads["tier"].value_counts()
    print(f"\nexpansion opportunities on {day} ({path}): "
          + ", ".join(f"{t} {tiers.get(t, 0)}" for t in ("High", "Medium", "Low"))
          + f"; {len(table) - len(leads)} held for recovery")
    head = leads.head(top)
    signals = head["signals_json"].map(lambda s: (json.loads(s) or [{"sentence": ""}])[0]
                                       ["sentence"])
    print(pd.DataFrame({"account": head["account_id"], "score": head["score"],
                        "probability of close": head["poc"].map("{:.0%}".format),
                        "projected ARR": head["projected_arr"].map("${:,.0f}".format),
                        "top signal": signals}).to_markdown(index=False))


def print_monitoring(settings: AccountHealthSettings, day: str) -> None:
    """The last complete month's retention and the day's drift against the training data."""
    out = Path(settings.output_dir)
    retention = out / "reports" / "retention_metrics.csv"
    if retention.exists():
        table = pd.read_csv(retention)
        overall = table[table["dimension"] == "overall"].dropna(subset=["nrr"]).tail(3)
        print(f"\nretention, last complete months ({retention}; docs/metrics.md):")
        money = ["starting_mrr", "new", "expansion", "contraction", "churned"]
        shown = overall[["month", *money, "nrr", "grr", "logo_retention"]].copy()
        shown[money] = shown[money].map("${:,.0f}".format)
        print(shown.to_markdown(index=False, floatfmt=".3f"))
    report = out / "reports" / "daily" / f"{day}.html"
    if report.exists():
        print(f"\nreport (open in a browser, no server needed): {report}")
    drift = out / "assets" / "feature_drift" / f"{day}.parquet"
    if drift.exists():
        table = pd.read_parquet(drift)
        drifted = table.loc[table["drifted"], "feature"].tolist()
        top = table[~table["exempt"]].iloc[0]
        print(f"\nfeature drift on {day} vs the training set: "
              + (f"{len(drifted)} drifted ({', '.join(drifted)}); retraining recommended"
                 if drifted else "none above the thresholds")
              + f"; largest PSI {top['psi']:.3f} ({top['feature']}; exempt: "
              + (", ".join(table.loc[table["exempt"], "feature"]) or "none") + f") in {drift}")
    predictions = out / "assets" / "prediction_drift" / f"{day}.parquet"
    if predictions.exists():
        row = pd.read_parquet(predictions).iloc[0]
        if "psi" in row and pd.notna(row["psi"]):
            print(f"prediction drift on {day} vs the model on its latest training dates: "
                  f"PSI {row['psi']:.3f}, KS {row['ks_statistic']:.3f}, mean risk "
                  f"{row['mean_current']:.1%} against {row['mean_reference']:.1%}"
                  + ("; retraining recommended" if row["drifted"] else ""))


def print_summary(settings: AccountHealthSettings, result) -> None:
    """What the run left behind and where."""
    out = Path(settings.output_dir)
    print("\n== account-health feature pipeline ==")
    print(f"run {result.run_id}: {'succeeded' if result.success else 'FAILED'}")
    report = out / "reports" / "quarantine_report.md"
    if report.exists():
        print(f"\nquarantine report ({report}):\n{report.read_text()}")
    snapshot = settings.snapshot_dir()
    files = sorted(snapshot.glob("*.parquet"))
    if files:
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        print(f"snapshot features: {rows} rows over {len(files)} days in {snapshot}")
    training = out / "assets" / "training_set.parquet"
    if training.exists():
        label = pq.read_table(training, columns=["churned_within_horizon"]).column(0)
        print(f"training set: {len(label)} labelled rows, churn rate "
              f"{pc.mean(label).as_py():.3f} in {training}")
    print(f"Feast registry and online store: {out / 'feast'}")
    validation = out / "assets" / "churn_model_validation.parquet"
    promotion = out / "assets" / "churn_model_promotion.parquet"
    if validation.exists() and promotion.exists():
        from models.evaluation import pooled_summary

        columns = ["roc_auc", "pr_auc", "brier", "ece", "lift_at_10pct", "concordance"]
        print("\nwalk-forward validation (pooled over folds):")
        print(pooled_summary(pd.read_parquet(validation))[columns].to_markdown(floatfmt=".3f"))
        decision = pd.read_parquet(promotion).iloc[0]
        print(f"registered account-health-churn v{decision['version']} "
              f"({decision.get('candidate', 'xgboost')}) as {decision['alias']}: "
              f"{decision['reason']}")
        print(f"MLflow UI: make mlflow-ui  (backend {out / 'mlflow' / 'mlflow.db'})")
    expansion = out / "assets" / "expansion_model_validation.parquet"
    expansion_model = out / "assets" / "expansion_model.parquet"
    pooled = None
    if expansion.exists() and expansion_model.exists():
        pooled = pd.read_parquet(expansion)
        if "skipped" in pooled:
            print(f"\nexpansion targeting: {pooled['skipped'].iloc[0]}")
            pooled = None
    if pooled is not None and expansion_model.exists():
        size = int(pooled["n"].iloc[0])
        print(f"\nexpansion targeting, walk-forward (top {size} accounts per origin):")
        print(pooled[["model", "precision_at_n", "lift_at_n", "arr_captured_at_n"]]
              .to_markdown(index=False, floatfmt=".3f"))
        decision = pd.read_parquet(expansion_model).iloc[0]
        print(f"registered account-health-expansion v{decision['version']} as "
              f"{decision['alias']}: {decision['reason']}")
    indicators = out / "assets" / "leading_indicators.parquet"
    if indicators.exists():
        table = pd.read_parquet(indicators)
        strongest = table[(table["segment"] == "all") & (table["rank"] <= 3)]
        print(f"\nstrongest leading indicators ({out / 'reports' / 'leading_indicators.html'}):")
        print(strongest[["outcome", "lead_days", "feature", "auc", "auc_low", "auc_high"]]
              .to_markdown(index=False, floatfmt=".3f"))
    print_interventions(settings)
    print(f"Dagster UI: DAGSTER_HOME={os.environ.get('DAGSTER_HOME')} "
          ".venv/bin/dagster dev -m pipelines.definitions")


def print_interventions(settings: AccountHealthSettings) -> None:
    """Uplift of outreach against the holdout, beside the planted truth of demo data."""
    from models.interventions import intervention_summary

    out = settings.output_path
    episodes_file = out / "assets" / "intervention_effects.parquet"
    if not episodes_file.exists():
        return
    episodes = pd.read_parquet(episodes_file)
    page = out / "reports" / "interventions.html"
    if "arm" not in episodes.columns:
        print(f"\ninterventions: none to analyse, see {page}")
        return
    summary = intervention_summary(
        episodes, holdout_share=settings.scoring_config().playbook().holdout_share)
    print(f"\ninterventions ({page}): {summary['treated']} flagged episodes with outreach, "
          f"{summary['control']} held out")
    print(f"  churn within {settings.horizon_days} days: held out "
          f"{summary['control_churn_rate']:.1%} of {summary['uplift_control']}, outreach "
          f"{summary['treated_churn_rate']:.1%} of {summary['uplift_treated']}; uplift "
          f"{summary['uplift']:+.1%} (95% interval {summary['uplift_low']:+.1%} to "
          f"{summary['uplift_high']:+.1%})")
    planted = settings.data_path / "planted_drivers.json"
    truth = json.loads(planted.read_text()).get("interventions", {}) if planted.exists() else {}
    if "uplift" in truth:
        print(f"  planted in the demo data: uplift {truth['uplift']:+.1%} (churn "
              f"{truth['churn_rate_without_outreach']:.1%} without outreach, "
              f"{truth['churn_rate_with_outreach']:.1%} with it)")
    print(f"  success rate {summary['success_rate']:.1%}, median time to detection "
          f"{summary['days_to_first_action_median']:.1f} days, alerts' false-positive rate "
          f"{summary['false_positive_rate']:.1%}")


if __name__ == "__main__":
    main()
