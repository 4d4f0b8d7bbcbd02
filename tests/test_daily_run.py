"""The morning run end to end: backfilled days, scores, alerts and the webhook."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterInstance

from pipelines.run import run_pipeline
from pipelines.selections import DAILY_SCORING, SCORING
from pipelines.storage import AssetStorage

pytestmark = pytest.mark.slow

DAYS = ["2026-10-29", "2026-10-30", "2026-10-31"]


def partition_files(settings, asset: str) -> list[str]:
    return sorted(p.stem for p in (Path(settings.output_dir) / "assets" / asset).glob("*.parquet"))


def read_days(settings, asset: str) -> dict[str, pd.DataFrame]:
    base = Path(settings.output_dir) / "assets" / asset
    return {day: pd.read_parquet(base / f"{day}.parquet") for day in DAYS}


def materialised_partitions(result, asset: str) -> list[str]:
    return sorted(e.partition for e in result.get_asset_materialization_events()
                  if e.asset_key.to_user_string() == asset)


@pytest.fixture(scope="module")
def backfill(trained):
    """The daily run's assets backfilled over three days in one run, twice."""
    settings = trained[0]

    def run():
        result = run_pipeline(settings, DagsterInstance.ephemeral(), first_day=DAYS[0],
                              last_day=DAYS[-1], selection=DAILY_SCORING)
        assert result.success
        return result, {a: read_days(settings, a) for a in
                        ["account_scores", "account_alerts", "open_alerts", "feature_drift",
                         "prediction_drift"]}

    return settings, run(), run()


def test_backfill_of_three_days_writes_three_partitions(backfill):
    settings, (result, tables), _ = backfill
    for asset in ["account_scores", "account_alerts", "open_alerts", "account_snapshot",
                  "feature_drift"]:
        assert materialised_partitions(result, asset) == DAYS
    for day, scores in tables["account_scores"].items():
        snapshot = pd.read_parquet(Path(settings.output_dir) / "assets" / "account_snapshot"
                                   / f"{day}.parquet")
        assert sorted(scores["account_id"]) == sorted(snapshot["account_id"])
        assert (pd.to_datetime(scores["as_of"]) == pd.Timestamp(day)).all()
    assert set(DAYS) <= set(partition_files(settings, "account_alerts"))


def test_each_day_gets_drift_per_model_feature_and_a_drift_check(backfill):
    from models.inputs import feature_columns

    settings, (result, tables), _ = backfill
    training = pd.read_parquet(Path(settings.output_dir) / "assets" / "training_set.parquet")
    for day, drift in tables["feature_drift"].items():
        assert sorted(drift["feature"]) == sorted(feature_columns(training))
        assert (drift["as_of_date"] == pd.Timestamp(day)).all()
        assert drift["psi"].ge(0).all()
    [check] = [c for c in result.get_asset_check_evaluations()
               if c.check_name == "features_have_not_drifted"]
    drifted = tables["feature_drift"][DAYS[-1]].query("drifted")["feature"].tolist()
    assert check.passed == (not drifted)
    assert check.metadata["day"].value == DAYS[-1]


def test_each_day_gets_prediction_drift_against_the_models_training_dates(backfill):
    from models.analysis.model_quality import prediction_drift
    from models.tracking import validation_of
    from tests.conftest import use_registry_of

    settings, (result, tables), _ = backfill
    assert materialised_partitions(result, "prediction_drift") == DAYS
    use_registry_of(settings)
    for day, drift in tables["prediction_drift"].items():
        scores = tables["account_scores"][day]
        version = str(scores["model_version"].iloc[0])
        reference = validation_of(version).reference
        [row] = drift.to_dict("records")
        assert row["model_version"] == version
        expected = prediction_drift(reference["churn_probability"], scores["churn_probability"])
        assert row["psi"] == pytest.approx(expected["psi"])
        assert row["mean_current"] == pytest.approx(scores["churn_probability"].mean())
        assert row["flagged_share_current"] == pytest.approx((scores["color"] == "red").mean())
    [check] = [c for c in result.get_asset_check_evaluations()
               if c.check_name == "predictions_have_not_drifted"]
    assert check.passed == (not tables["prediction_drift"][DAYS[-1]]["drifted"].iloc[0])


def test_monitoring_figures_are_a_run_per_scored_day_not_on_the_training_run(backfill):
    """Run twice over three days: one monitoring run per day (no duplicates), each with the
    day's figures, report and scoring model; the training run holds no monitoring figures."""
    from mlflow import MlflowClient

    from models.tracking import MONITORING_EXPERIMENT, validation_of
    from tests.conftest import use_registry_of

    settings, (_, tables), _ = backfill
    use_registry_of(settings)
    scores = tables["account_scores"][DAYS[-1]]
    version = str(scores["model_version"].iloc[0])
    training_run = validation_of(version).run_id
    client = MlflowClient()
    experiment = client.get_experiment_by_name(MONITORING_EXPERIMENT)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = {r.data.tags["day"]: r for r in client.search_runs([experiment.experiment_id])}
    assert sorted(runs) == sorted(DAYS)
    for day, run in runs.items():
        day_scores = tables["account_scores"][day]
        assert run.data.metrics["arr_at_risk"] == pytest.approx(day_scores["arr_at_risk"].sum())
        assert run.data.metrics["accounts_scored"] == len(day_scores)
        assert run.data.tags["model_version"] == version
        assert run.data.tags["training_run_id"] == training_run
        assert len(client.get_metric_history(run.info.run_id, "arr_at_risk")) == 1
        assert {a.path for a in client.list_artifacts(run.info.run_id)} == {f"{day}.html"}
    assert runs[DAYS[-1]].data.metrics["prediction_psi"] == pytest.approx(
        tables["prediction_drift"][DAYS[-1]]["psi"].iloc[0])
    assert not any(name.startswith("monitoring") for name in
                   client.get_run(training_run).data.metrics)


def test_retention_metrics_cover_the_business_and_each_segment_plan_and_owner(backfill):
    settings = backfill[0]
    table = pd.read_csv(Path(settings.output_dir) / "reports" / "retention_metrics.csv")
    assert set(table["dimension"]) == {"overall", "segment", "plan", "csm_owner"}
    overall = table[table["dimension"] == "overall"].dropna(subset=["nrr"])
    assert len(overall) >= 6 and overall["grr"].le(overall["nrr"]).all()
    assert overall["logo_retention"].between(0, 1).all()
    # every segment's starting MRR adds up to the whole business's, month by month
    by_segment = table[table["dimension"] == "segment"].groupby("month")["starting_mrr"].sum()
    pd.testing.assert_series_equal(by_segment, overall.set_index("month")["starting_mrr"]
                                   .reindex(by_segment.index).fillna(0), check_names=False)


def test_retention_kpis_are_reported_and_agree_with_each_other(backfill):
    settings = backfill[0]
    reports = Path(settings.output_dir) / "reports"
    windows = pd.read_csv(reports / "retention_windows.csv")
    assert set(windows["window"]) == {"trailing 12 months", "quarter"}
    assert (windows["grr"] <= windows["nrr"] + 1e-12).all()
    assert windows["expansion_rate_customers"].between(0, 1).all()
    renewals = pd.read_csv(reports / "renewals.csv")
    every_term = renewals[renewals["term_months"] == 0].set_index("period_end")
    by_term = renewals[renewals["term_months"] > 0].groupby("period_end")[
        ["up_for_renewal", "renewed"]].sum()
    pd.testing.assert_frame_equal(every_term[["up_for_renewal", "renewed"]], by_term)
    churn = pd.read_csv(reports / "churn_by_kind.csv")
    assert (churn["voluntary"] + churn["involuntary"] == churn["churned_accounts"]).all()
    assert len(churn) and (churn["voluntary_arr"] + churn["involuntary_arr"]).round(6).equals(
        churn["churned_arr"].round(6))


def test_cohort_curves_start_at_one_and_cover_every_cohort(backfill):
    settings = backfill[0]
    table = pd.read_csv(Path(settings.output_dir) / "reports" / "cohort_retention.csv")
    assert set(table["dimension"]) == {"overall", "segment", "csm_owner"}
    overall = table[table["dimension"] == "overall"]
    start = overall[overall["age_months"] == 0]
    assert (start["logo_retention"] == 1).all() and (start["revenue_retention"] == 1).all()
    assert overall["logo_retention"].between(0, 1).all()
    # the first cohort is followed to the last month, one row per month of age
    first = overall[overall["cohort"] == overall["cohort"].min()]
    assert first["age_months"].tolist() == list(range(len(first)))
    last_month = pd.Timestamp(overall["cohort"].max())
    assert len(first) - 1 >= (last_month.to_period("M") - pd.Timestamp(
        first["cohort"].iloc[0]).to_period("M")).n


def test_each_day_gets_a_self_contained_report_with_its_headline_numbers(backfill):
    settings, (result, tables), _ = backfill
    [materialisation] = [e.materialization for e in result.get_asset_materialization_events()
                         if e.asset_key.to_user_string() == "daily_report"
                         and e.partition == DAYS[-1]]
    assert materialisation.metadata["day"].value == DAYS[-1]
    last = tables["account_scores"][DAYS[-1]]
    assert materialisation.metadata["accounts_scored"].value == len(last)
    assert materialisation.metadata["arr_at_risk"].value == pytest.approx(
        last["arr_at_risk"].sum())
    assert materialisation.metadata["report"].value.endswith(f"daily/{DAYS[-1]}.html")
    for day, scores in tables["account_scores"].items():
        page = (Path(settings.output_dir) / "reports" / "daily" / f"{day}.html").read_text()
        model_page = page.index('id="model-health"')
        # executive: 4 charts; model health: calibration, lift, 2 KM and today's predictions
        assert f"Scores of {day}" in page and page[:model_page].count("<svg") == 4
        assert page[model_page:].count("<svg") == 5
        assert f"${scores['arr_at_risk'].sum():,.0f}" in page
        assert f">{len(scores):,}<" in page
        assert scores.nsmallest(1, "risk_rank")["account_id"].iloc[0] in page


@pytest.mark.browser
def test_the_report_renders_in_headless_chromium(backfill):
    """The last day's report as a browser shows it: headline cards, nine drawn charts, the
    top accounts, no console errors; the screenshot is kept in test-artifacts/."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import chromium_or_skip

    browser_path = chromium_or_skip()

    settings, (_, tables), _ = backfill
    scores = tables["account_scores"][DAYS[-1]]
    report = Path(settings.output_dir) / "reports" / "daily" / f"{DAYS[-1]}.html"
    artifacts = Path(__file__).resolve().parents[1] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    errors = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path,
                                             args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(report.as_uri())
        cards = page.locator(".card").all_inner_texts()
        charts = [page.locator("svg").nth(i).bounding_box()
                  for i in range(page.locator("svg").count())]
        top_row = page.locator("table.data").first.locator("tbody tr").first.inner_text()
        page.screenshot(path=str(artifacts / "daily_report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert f"{len(scores):,}\naccounts scored" in cards
    assert f"${scores['arr_at_risk'].sum():,.0f}\nARR at risk" in cards
    retention = pd.read_csv(Path(settings.output_dir) / "reports" / "retention_metrics.csv",
                            parse_dates=["month"])
    latest = retention[retention["dimension"] == "overall"].dropna(subset=["nrr"]).iloc[-1]
    assert (f"{latest['logo_retention']:.1%}\nlogo retention {latest['month']:%b %Y} "
            f"(target {settings.monitoring.logo_retention_target:.0%})"
            in cards)
    assert len(charts) == 9 and all(box["width"] > 200 and box["height"] > 100
                                    for box in charts)
    assert top_row.startswith(scores.nsmallest(1, "risk_rank")["account_id"].iloc[0])
    assert (artifacts / "daily_report.png").stat().st_size > 10_000


def test_backfill_is_idempotent(backfill):
    _, (_, first), (_, again) = backfill
    for asset, days in first.items():
        for day, frame in days.items():
            pd.testing.assert_frame_equal(frame, again[asset][day], obj=f"{asset} {day}")


def test_alerts_compare_each_day_with_the_day_before(backfill):
    _, (_, tables), _ = backfill
    scores, alerts = tables["account_scores"], tables["account_alerts"]
    # the first backfilled day has no earlier scores: what holds then is the backlog
    assert alerts[DAYS[0]].empty
    backlog = tables["open_alerts"][DAYS[0]]
    assert len(backlog) and backlog["backlog"].all()
    critical = scores[DAYS[0]].query("band == 'critical'")["account_id"]
    assert set(critical) == set(backlog.query("alert_type == 'newly_critical'")["account_id"])
    assert len(alerts[DAYS[1]]) + len(alerts[DAYS[2]]) > 0
    for before, day in zip(DAYS, DAYS[1:], strict=False):
        previous = scores[before].set_index("account_id")
        for row in alerts[day].itertuples():
            if row.alert_type == "band_downgrade":
                assert row.previous_band == previous.loc[row.account_id, "band"]
            if row.alert_type == "health_drop":
                assert previous.loc[row.account_id, "health_score"] - row.health_score >= 20
        # an account alerted for being critical is not alerted for it again the next day
        # (only escalated, when nobody acted on it)
        critical_before = set(alerts[before].query(
            "alert_type == 'newly_critical' and not escalation")["account_id"])
        critical_today = set(alerts[day].query(
            "alert_type == 'newly_critical' and not escalation")["account_id"])
        assert not critical_before & critical_today
        escalated = alerts[day][alerts[day]["escalation"]]
        assert set(escalated["account_id"]) <= set().union(
            *(set(alerts[d]["account_id"]) for d in DAYS[:DAYS.index(day)]))


class _Webhook(BaseHTTPRequestHandler):
    status = 200
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.status == 200:
            type(self).received.append(json.loads(body))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ACCOUNT_HEALTH_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/")
    _Webhook.received, _Webhook.status = [], 200
    yield _Webhook
    server.shutdown()


def test_alerts_are_posted_once_and_a_failed_post_is_retried(backfill, webhook):
    settings = backfill[0]
    # the earlier days of a range are history: only the last day's alerts are sent
    alerts = len(backfill[1][1]["account_alerts"][DAYS[-1]])
    assert alerts > 0

    def score_and_alert():
        assert run_pipeline(settings, DagsterInstance.ephemeral(), first_day=DAYS[0],
                            last_day=DAYS[-1], selection=SCORING).success

    webhook.status = 500
    score_and_alert()  # the webhook is down: alerts are stored, the run still succeeds
    assert webhook.received == []
    webhook.status = 200
    score_and_alert()
    assert len(webhook.received) == 1
    assert webhook.received[0]["text"].startswith(f"account-health: {alerts} new alerts for "
                                                  f"{DAYS[-1]} (")
    score_and_alert()  # the same day again: nothing new to post
    assert len(webhook.received) == 1


def test_online_lookup_of_one_account_matches_its_daily_score(backfill, monkeypatch, capsys):
    from account_health.cli import main
    from pipelines.definitions import build_resources
    from pipelines.online_scoring import score_online

    settings = backfill[0]
    daily = backfill[1][1]["account_scores"][DAYS[-1]].set_index("account_id")
    account = daily.index[0]  # the riskiest account that day
    resources = build_resources(settings)
    online = score_online(settings, resources["feast"], resources["mlflow_tracking"],
                          [account]).set_index("account_id")
    columns = ["as_of", "churn_probability", "health_score", "band", "p_churn_90d",
               "median_days_to_churn", "arr_at_risk", "reasons", "recommended_action",
               "model_version"]
    pd.testing.assert_frame_equal(online[columns], daily.loc[[account], columns],
                                  check_dtype=False)

    monkeypatch.setenv("ACCOUNT_HEALTH_OUTPUT_DIR", settings.output_dir)
    monkeypatch.setenv("ACCOUNT_HEALTH_DATA_DIR", settings.data_dir)
    main(["account", account])
    printed = capsys.readouterr().out
    assert printed.startswith(f"{account} on {DAYS[-1]}: health ")
    assert daily.loc[account, "recommended_action"] in printed
    with pytest.raises(SystemExit, match="no online features for NOPE"):
        main(["account", "NOPE"])


def test_past_scores_are_judged_once_their_horizon_has_closed(backfill):
    """Scores of 1 August (60-day horizon, closed by 31 October) get realised metrics; the
    backfilled days of late October are still open and are not judged."""
    settings = backfill[0]
    early = "2026-08-01"
    result = run_pipeline(settings, DagsterInstance.ephemeral(), first_day=early,
                          last_day=early, selection=SCORING)
    assert result.success
    reports = Path(settings.output_dir) / "reports"
    outcomes = pd.read_csv(reports / "model_outcomes.csv", parse_dates=["as_of"])
    assert outcomes["as_of"].tolist() == [pd.Timestamp(early)]
    scored = pd.read_parquet(Path(settings.output_dir) / "assets" / "account_scores"
                             / f"{early}.parquet")
    judged = outcomes.iloc[0]
    assert judged["rows"] == len(scored)
    assert 0 <= judged["at_risk_false_positive_rate"] <= 1 and judged["flagged_accounts"] > 0
    [check] = [c for c in result.get_asset_check_evaluations()
               if c.check_name == "model_still_performs"]
    assert check.passed == (judged["roc_auc"] >= settings.training.auc_floor)
    surprises = pd.read_csv(reports / "surprise_churn.csv")
    assert set(surprises.columns) >= {"account_id", "churn_date", "as_of", "color", "surprise"}


def test_the_run_summary_prints_both_drifts_of_the_day(backfill, capsys):
    from account_health.summary import print_monitoring

    settings, (_, tables), _ = backfill
    print_monitoring(settings, AssetStorage.under(settings.output_dir), DAYS[-1])
    printed = capsys.readouterr().out
    prediction = tables["prediction_drift"][DAYS[-1]].iloc[0]
    assert f"feature drift on {DAYS[-1]}" in printed
    assert f"prediction drift on {DAYS[-1]}" in printed
    assert f"PSI {prediction['psi']:.3f}" in printed


def test_a_first_run_scores_weeks_back_so_the_morning_has_trends_and_few_new_items(backfill):
    """The first run's scoring (make run's): two weeks of scores, alerts and work items
    before the last day, then the whole daily job for it."""
    from models.alerts.work_queue import CapacityConfig
    from pipelines.run import first_scored_day, run_job, score_days

    settings, last = backfill[0], DAYS[-1]
    start = first_scored_day("2025-11-01", last, history_weeks=2)
    assert start == "2026-10-18"
    instance = DagsterInstance.ephemeral()
    assert score_days(settings, instance, scored_from=start, last_day=last,
                      progress=False).success
    assert run_job(settings, "weekly_operations", instance, first_day=last,
                   last_day=last, progress=False).success
    out = Path(settings.output_dir)
    first_alerts = pd.read_parquet(out / "assets" / "account_alerts" / f"{start}.parquet")
    first_open = pd.read_parquet(out / "assets" / "open_alerts" / f"{start}.parquet")
    assert first_alerts.empty and len(first_open) and first_open["backlog"].all()

    scores = pd.read_parquet(out / "assets" / "account_scores" / f"{last}.parquet")
    items = pd.read_csv(out / "work_items" / f"{last}.csv")
    assert items["account_id"].is_unique and len(items) > 0
    assert items["new"].sum() <= 0.25 * len(scores)
    capacity = CapacityConfig().work_items_per_csm_per_day
    assert items[items["status"] == "today"].groupby("csm_owner").size().le(capacity).all()
    assert set(items["status"]) >= {"today", "backlog"}

    weekly = (out / "reports" / "weekly" / f"{last}.html").read_text()
    assert "No scores a week before" not in weekly and "a week before" in weekly
    portfolio = out / "reports" / "portfolio" / last
    page = (portfolio / "portfolio.html").read_text()
    assert 'no scores then</div><div class="label">since a week before' not in page
    change = scores["health_score"].mean() - pd.read_parquet(
        out / "assets" / "account_scores" / "2026-10-24.parquet")["health_score"].mean()
    assert f"{change:+.1f}</div><div class=\"label\">since a week before" in page
    owner = items[items["status"] == "today"]["csm_owner"].iloc[0]
    from models.reports.portfolio import owner_file

    csm_page = (portfolio / owner_file(owner)).read_text()
    assert "Today's list" in csm_page
    top = items[(items["csm_owner"] == owner) & (items["rank"] == 1)]["account_id"].iloc[0]
    assert top in csm_page
    assert len(list((out / "reports" / "accounts").glob("*.html"))) == len(scores)


def test_an_account_opens_from_the_portfolio_with_its_history_and_reasons(backfill):
    """In headless Chromium: the portfolio's first account links to its page, which draws
    its health over the scored days and lists the model's reasons and the action."""
    from tests.conftest import chromium_page

    settings, last = backfill[0], DAYS[-1]
    out = Path(settings.output_dir)
    scores = pd.read_parquet(out / "assets" / "account_scores" / f"{last}.parquet")
    first = scores.nsmallest(1, "risk_rank").iloc[0]
    from pipelines.assets.monitoring_accounts import PAGE_DAYS

    shown_from = f"{pd.Timestamp(last) - pd.Timedelta(days=PAGE_DAYS - 1):%Y-%m-%d}"
    scored_days = sorted(p.stem for p in (out / "assets" / "account_scores").glob("*.parquet")
                         if shown_from <= p.stem <= last)
    portfolio = out / "reports" / "portfolio" / last / "portfolio.html"
    with chromium_page(portfolio.as_uri()) as (page, errors):
        page.locator("#accounts tbody tr").first.locator("a").click()
        page.wait_for_load_state()
        title = page.locator("h1").inner_text()
        points = page.locator("#health-history polyline").get_attribute("points")
        reasons = page.locator("#reasons").inner_text()
        text = page.locator("body").inner_text()
    assert errors == []
    assert title == first["account_id"]
    assert len(points.split()) == len(scored_days)
    assert first["reason_1"] in reasons
    assert first["recommended_action"] in text
