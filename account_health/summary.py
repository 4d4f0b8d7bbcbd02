"""What a run left behind, in words: the summary ``make run`` prints after its progress
lines (scores, alerts, opportunities, work queue, models, monitoring), and why a run
stopped."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.environment import read_environment
from pipelines.resources import AccountHealthSettings
from pipelines.storage import AssetStorage

__all__ = ["print_failures", "print_interventions", "print_monitoring", "print_opportunities",
           "print_retention_kpis", "print_summary", "print_top_at_risk",
           "print_work_queue"]


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


def print_top_at_risk(settings: AccountHealthSettings, storage: AssetStorage, day: str,
                       top: int = 10) -> None:
    """Where the day's scores are, and the accounts to call first."""
    parquet = storage.asset_file("account_scores", day)
    csv = settings.export_file("scores", day)
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
    alerts_file = settings.export_file("alerts", day)
    if alerts_file.exists():
        alerts = pd.read_csv(alerts_file)
        counts = alerts["alert_type"].value_counts()
        severities = alerts["severity"].value_counts()
        print(f"\nalerts on {day}: {len(alerts)} new"
              + (" (" + ", ".join(f"{n} {t}" for t, n in counts.items()) + ")" if len(alerts)
                 else "") + f" in {alerts_file}")
        if len(alerts):
            print("  by severity: " + ", ".join(
                f"{severities.get(s, 0)} {s}" for s in ("critical", "high", "medium", "low"))
                  + f"; {int(alerts['escalation'].sum())} escalations")
    print_work_items(settings, day)
    onboarding = settings.export_file("onboarding", day)
    if onboarding.exists():
        queue = pd.read_csv(onboarding)
        print(f"\nonboarding: {len(queue)} accounts 30-60 days old below activation, "
              f"${queue['arr'].sum():,.0f} ARR ({onboarding})")
    print_opportunities(settings, day)
    print_work_queue(settings, day)
    print("one account from the online store: .venv/bin/account-health account <account_id>")
    print_monitoring(settings, storage, day)


def print_work_items(settings: AccountHealthSettings, day: str, top: int = 5) -> None:
    """The day's work items: how many are on the CSMs' lists, new, waiting, answered; the
    first few of the lists."""
    path = settings.export_file("work_items", day)
    if not path.exists():
        return
    items = pd.read_csv(path)
    status = items["status"].value_counts()
    owners = items.loc[items["status"] == "today", "csm_owner"].nunique()
    print(f"\nwork items on {day} ({path}): {status.get('today', 0)} on the lists of "
          f"{owners} CSMs, {int(items['new'].sum())} new today, {status.get('backlog', 0)} "
          f"waiting in the backlog, {status.get('answered', 0)} being worked, "
          f"{status.get('holdout', 0)} held out")
    head = items[items["status"] == "today"].nlargest(top, "priority")
    if len(head):
        print(pd.DataFrame({
            "account": head["account_id"], "CSM": head["csm_owner"],
            "ARR at risk": head["arr_at_risk"].map("${:,.0f}".format),
            "why": head["reasons"].str.slice(0, 70)}).to_markdown(index=False))


def print_work_queue(settings: AccountHealthSettings, day: str) -> None:
    """How much of the week's work fits the CSMs' capacity, and what overflows."""
    path = settings.export_file("work_queue", day)
    if not path.exists():
        return
    from models.alerts.work_queue import overflow_summary

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
    path = settings.export_file("opportunities", day)
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


def print_monitoring(settings: AccountHealthSettings, storage: AssetStorage, day: str) -> None:
    """The last complete month's retention and the day's drift against the training data."""
    retention = settings.reports_dir() / "retention_metrics.csv"
    if retention.exists():
        table = pd.read_csv(retention)
        overall = table[table["dimension"] == "overall"].dropna(subset=["nrr"]).tail(3)
        print(f"\nretention, last complete months ({retention}; docs/metrics.md):")
        money = ["starting_mrr", "new", "expansion", "contraction", "churned"]
        shown = overall[["month", *money, "nrr", "grr", "logo_retention"]].copy()
        shown[money] = shown[money].map("${:,.0f}".format)
        print(shown.to_markdown(index=False, floatfmt=".3f"))
    print_retention_kpis(settings)
    print_renewal_forecast(settings, storage)
    pages = {"daily report": settings.reports_dir() / "daily" / f"{day}.html",
             "portfolio (every account, a page per CSM and per account)":
             settings.reports_dir() / "portfolio" / day / "portfolio.html",
             "weekly operations report": settings.reports_dir() / "weekly" / f"{day}.html",
             "monthly executive report": settings.reports_dir() / "monthly"
             / f"{day[:7]}.html"}
    found = {label: path for label, path in pages.items() if path.exists()}
    if found:
        print("\nreports (open in a browser, no server needed):\n" + "\n".join(
            f"  {label}: {path}" for label, path in found.items()))
    drift = storage.asset_file("feature_drift", day)
    if drift.exists():
        table = pd.read_parquet(drift)
        drifted = table.loc[table["drifted"], "feature"].tolist()
        top = table[~table["exempt"]].iloc[0]
        print(f"\nfeature drift on {day} vs the training set: "
              + (f"{len(drifted)} drifted ({', '.join(drifted)}); retraining recommended"
                 if drifted else "none above the thresholds")
              + f"; largest PSI {top['psi']:.3f} ({top['feature']}; exempt: "
              + (", ".join(table.loc[table["exempt"], "feature"]) or "none") + f") in {drift}")
    predictions = storage.asset_file("prediction_drift", day)
    if predictions.exists():
        row = pd.read_parquet(predictions).iloc[0]
        if "psi" in row and pd.notna(row["psi"]):
            print(f"prediction drift on {day} vs the model on its latest training dates: "
                  f"PSI {row['psi']:.3f}, KS {row['ks_statistic']:.3f}, mean risk "
                  f"{row['mean_current']:.1%} against {row['mean_reference']:.1%}"
                  + ("; retraining recommended" if row["drifted"] else ""))


def print_retention_kpis(settings: AccountHealthSettings) -> None:
    """Trailing-12-month NRR and GRR, the last quarter's renewal rate, the churn split."""
    reports = settings.reports_dir()
    windows, renewals, churn = (reports / f"{name}.csv" for name in (
        "retention_windows", "renewals", "churn_by_kind"))
    lines = []
    if windows.exists():
        table = pd.read_csv(windows)
        for name in ("trailing 12 months", "quarter"):
            rows = table[table["window"] == name].tail(1)
            if len(rows):
                row = rows.iloc[0]
                lines.append(f"{name} to {row['period_end']}: NRR {row['nrr']:.1%}, GRR "
                             f"{row['grr']:.1%}, customers expanding "
                             f"{row['expansion_rate_customers']:.1%}")
    if renewals.exists():
        table = pd.read_csv(renewals)
        rows = table[table["term_months"] == 0].tail(1)
        if len(rows):
            row = rows.iloc[0]
            lines.append(f"renewals in the quarter to {row['period_end']}: "
                         f"{row['renewed']:.0f} of {row['up_for_renewal']:.0f} "
                         f"({row['renewal_rate']:.1%}; {row['arr_renewal_rate']:.1%} of ARR)")
    if churn.exists():
        table = pd.read_csv(churn)
        if len(table):
            churned = table["churned_accounts"].sum()
            lines.append(f"churn in the history: {churned:.0f} accounts, "
                         f"{table['involuntary'].sum() / churned:.1%} involuntary "
                         "(failed payments)")
    if lines:
        print(f"\nretention KPIs ({reports}; docs/metrics.md):\n  " + "\n  ".join(lines))


def print_renewal_forecast(settings: AccountHealthSettings, storage: AssetStorage) -> None:
    """The next quarters' expected renewals, and the forecast's error on past quarters."""
    forecast_file = storage.asset_file("renewal_forecast")
    backtest_file = storage.asset_file("renewal_backtest")
    if not forecast_file.exists():
        return
    from models.reports.executive import money

    print("\nrenewal forecast (terms of 3 months or longer, at the last year's rates by "
          "segment):")
    for row in pd.read_parquet(forecast_file).itertuples():
        print(f"  {row.quarter}: {money(row.expected_arr)} of {money(row.arr_up)} ARR up for "
              f"renewal expected to renew (95% interval {money(row.arr_low)} to "
              f"{money(row.arr_high)}), {row.expected_logos:,.0f} of {row.terms_up} terms")
    backtest = pd.read_parquet(backtest_file) if backtest_file.exists() else pd.DataFrame()
    if len(backtest):
        print(f"  back-test on {len(backtest)} past quarters: mean absolute ARR error "
              f"{backtest['arr_error'].abs().mean():.1%}, actual inside the interval "
              f"{int(backtest['arr_within_interval'].sum())} of {len(backtest)} "
              f"({storage.asset_file('renewal_backtest')})")


def print_summary(settings: AccountHealthSettings, storage: AssetStorage, result) -> None:
    """What the run left behind and where."""
    out = settings.output_path
    print("\n== account-health feature pipeline ==")
    print(f"run {result.run_id}: {'succeeded' if result.success else 'FAILED'}")
    report = settings.reports_dir() / "quarantine_report.md"
    if report.exists():
        print(f"\nquarantine report ({report}):\n{report.read_text()}")
    snapshot = storage.partition_dir("account_snapshot")
    files = sorted(snapshot.glob("*.parquet"))
    if files:
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        print(f"snapshot features: {rows} rows over {len(files)} days in {snapshot}")
    training = storage.asset_file("training_set")
    if training.exists():
        label = pq.read_table(training, columns=["churned_within_horizon"]).column(0)
        print(f"training set: {len(label)} labelled rows, churn rate "
              f"{pc.mean(label).as_py():.3f} in {training}")
    print(f"Feast registry and online store: {out / 'feast'}")
    validation = storage.asset_file("churn_model_validation")
    promotion = storage.asset_file("churn_model_promotion")
    if validation.exists() and promotion.exists():
        from models.churn.evaluation import chosen_line, pooled_summary

        columns = ["roc_auc", "roc_auc_origin_mean", "roc_auc_origin_sd", "ece",
                   "lift_at_10pct", "concordance"]
        pooled = pd.read_parquet(validation)
        print("\nwalk-forward validation (pooled over folds; mean and spread over origins):")
        print(pooled_summary(pooled)[columns].to_markdown(floatfmt=".3f"))
        print(chosen_line(pooled))
        decision = pd.read_parquet(promotion).iloc[0]
        print(f"registered account-health-churn v{decision['version']} "
              f"({decision.get('candidate', 'xgboost')}) as {decision['alias']}: "
              f"{decision['reason']}")
        print(f"MLflow UI: make mlflow-ui  (backend {out / 'mlflow' / 'mlflow.db'})")
    expansion = storage.asset_file("expansion_model_validation")
    expansion_model = storage.asset_file("expansion_model")
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
    indicators = storage.asset_file("leading_indicators")
    if indicators.exists():
        table = pd.read_parquet(indicators)
        strongest = table[(table["segment"] == "all") & (table["rank"] <= 3)]
        print(f"\nstrongest leading indicators ({out / 'reports' / 'leading_indicators.html'}):")
        print(strongest[["outcome", "lead_days", "feature", "auc", "auc_low", "auc_high"]]
              .to_markdown(index=False, floatfmt=".3f"))
    print_signal_quality(settings, storage)
    print_activation(settings, storage)
    print_component_weights(settings, storage)
    print_interventions(settings, storage)
    print_playbook_effects(settings, storage)
    print(f"Dagster UI: DAGSTER_HOME={read_environment().dagster_home} "
          ".venv/bin/dagster dev -m pipelines.definitions")


def print_signal_quality(settings: AccountHealthSettings, storage: AssetStorage) -> None:
    """Each early-warning signal on the walk-forward test dates, and which are off."""
    path = storage.asset_file("alert_signal_quality")
    if not path.exists():
        return
    from models.reports.operations import signal_table

    quality = pd.read_parquet(path)
    print("\nearly-warning signals on the walk-forward test dates (precision: churned within "
          "the horizon among the flagged; off: no lift over all accounts):")
    print(signal_table(quality).to_markdown(index=False))


def print_activation(settings: AccountHealthSettings, storage: AssetStorage) -> None:
    """What makes a new account activated, and how long it takes."""
    path = storage.asset_file("activation_definition")
    if not path.exists():
        return
    definition = pd.read_parquet(path)
    if definition.empty:
        print("\nactivation: not defined (no tracked event used by the accounts that stayed)")
        return
    events = ", ".join(f"{e} {n:.0f}×" for e, n in zip(definition["event"],
                                                        definition["min_events_30d"],
                                                        strict=True))
    print(f"\nactivation ({definition['source'].iloc[0]}): {events} in 30 days")
    ttv = storage.asset_file("time_to_value")
    if ttv.exists() and len(table := pd.read_parquet(ttv)):
        recent = table.tail(6)
        print(f"  signup months {recent['cohort'].iloc[0]} to {recent['cohort'].iloc[-1]}: "
              f"{recent['activated_30d'].mean():.0%} activated within 30 days, "
              f"{recent['activated_90d'].mean():.0%} within 90; median "
              f"{recent['median_days_to_value'].median():.0f} days to value ({ttv})")


def print_component_weights(settings: AccountHealthSettings, storage: AssetStorage) -> None:
    """The component weights the data suggests, and what applying them would do."""
    path = storage.asset_file("component_weights")
    if not path.exists():
        return
    table = pd.read_parquet(path)
    first = table.iloc[0]
    learned = ", ".join(f"{c} {w:.2f}" for c, w in zip(table["component"],
                                                       table["learned_weight"], strict=True))
    print(f"\ncomponent weights learned from the data: {learned}; walk-forward AUC of the "
          f"composite {first['walk_forward_auc_learned']:.3f} against "
          f"{first['walk_forward_auc_current']:.3f} configured; "
          f"{first['accounts_changing_band']:,} of {first['accounts']:,} accounts would change "
          "band (account-health weights --apply writes them)")


def print_playbook_effects(settings: AccountHealthSettings, storage: AssetStorage) -> None:
    """Each playbook's retention lift against the holdout, and the ARR it keeps."""
    path = storage.asset_file("playbook_effects")
    if not path.exists():
        return
    effects = pd.read_parquet(path)
    if effects.empty:
        print("\nplaybooks: not measured (needs flagged cs_activities with holdout rows)")
        return
    from models.reports.operations import playbook_table

    print(f"\nplaybooks, churn within {settings.training.horizon_days} days against the holdout "
          f"({path}):")
    print(playbook_table(effects).to_markdown(index=False))


def print_interventions(settings: AccountHealthSettings, storage: AssetStorage) -> None:
    """Uplift of outreach against the holdout, beside the planted truth of demo data."""
    from models.analysis.interventions import intervention_summary

    out = settings.output_path
    episodes_file = storage.asset_file("intervention_effects")
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
    print(f"  churn within {settings.training.horizon_days} days: held out "
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
