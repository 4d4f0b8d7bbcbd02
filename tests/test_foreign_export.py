"""An export the product was not written for: its own labels, billing terms and event names,
and a year of history. It runs, scores every active account and loses no row over a label;
an export it cannot learn from stops with a message that says what to change."""

import re
import shutil
from datetime import date

import pandas as pd
import pytest
from dagster import AssetSelection, DagsterInstance

from account_health.data_check import check_data
from account_health.messaging_demo import MessagingDemoConfig, generate_to_dir
from pipelines.run import run_pipeline
from pipelines.selections import FEATURE_PIPELINE, SCORING, TRAINING_PIPELINE
from pipelines.storage import AssetStorage
from tests.conftest import make_settings, storage_of

pytestmark = pytest.mark.slow

MESSAGING = MessagingDemoConfig(accounts=150, months=12, seed=5, end_date=date(2026, 10, 31))
RAW = AssetSelection.groups("raw")


@pytest.fixture(scope="module")
def messaging_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("messaging")
    generate_to_dir(data, MESSAGING)
    return data


@pytest.fixture(scope="module")
def messaging_run(messaging_dir, tmp_path_factory):
    """The whole of make run on the export, with the product's default horizon."""
    settings = make_settings(messaging_dir, tmp_path_factory.mktemp("messaging_out"),
                             horizon_days=90)
    instance = DagsterInstance.ephemeral()
    training = run_pipeline(settings, instance, first_day="2025-11-01", last_day="2026-10-31",
                            selection=TRAINING_PIPELINE, raise_on_error=False)
    scoring = run_pipeline(settings, instance, first_day="2026-10-31", last_day="2026-10-31",
                           selection=SCORING, raise_on_error=False)
    return settings, training, scoring


def test_the_data_check_sees_a_runnable_export_and_says_what_to_map(messaging_dir):
    check = check_data(make_settings(messaging_dir, messaging_dir / "unused",
                                     horizon_days=90))
    assert check.ok, check.problems
    text = "\n".join(check.lines)
    assert 'values: {accounts: {segment: {"appstore": <SMB|mid-market|enterprise>}}}' in text
    assert "call_started" in text and "walk-forward folds" in text


def test_a_year_of_a_foreign_export_runs_and_scores_every_active_account(messaging_run):
    settings, training, scoring = messaging_run
    assert training.success and scoring.success
    out = settings.output_path
    report = pd.read_csv(out / "reports" / "quarantine_report.csv").set_index("table")
    # nothing is lost over acquisition channels as segments or semiannual billing
    assert report.loc[["accounts", "subscriptions", "events"], "quarantined_rows"].sum() == 0
    assert set(pd.read_csv(out / "reports" / "label_warnings.csv")["value"]) == {
        "web", "appstore", "partner", "outbound"}
    snapshot = pd.read_parquet(storage_of(settings).asset_file("account_snapshot",
                                                                "2026-10-31"))
    scores = pd.read_parquet(out / "assets" / "account_scores" / "2026-10-31.parquet")
    assert sorted(scores["account_id"]) == sorted(snapshot["account_id"])
    status = scores["model_status"].iloc[0]
    assert status == "champion" or status.startswith("below the bar")
    # the export's own event names became features and reasons can name them
    assert snapshot["event_1_30d"].sum() > 0
    validation = pd.read_parquet(out / "assets" / "churn_model_validation.parquet")
    assert {"xgboost", "logistic", "textbook", "cox"} <= set(validation["model"])
    # from the training set on, per-event features are named after their events
    training_set = pd.read_parquet(out / "assets" / "training_set.parquet")
    assert not [c for c in training_set.columns if re.match(r"^event_\d+_", c)]
    assert "event_call_started_30d" in training_set
    drift = pd.read_parquet(out / "assets" / "feature_drift" / "2026-10-31.parquet")
    assert "event_call_started_30d" in set(drift["feature"])
    # the export has no login event: no reason speaks of logins
    reasons = scores[["reason_1", "reason_2", "reason_3"]].stack()
    assert not reasons.str.contains("login", case=False).any()


def test_no_expansion_model_is_trained_from_an_export_without_expansions(messaging_run):
    settings, _, _ = messaging_run
    expansion = pd.read_parquet(settings.output_path / "assets" / "expansion_model.parquet")
    assert expansion["alias"].iloc[0] == "none"
    assert "0 expansions" in expansion["reason"].iloc[0]


def test_a_label_outside_the_documented_set_costs_no_row(tiny_data_dir, tmp_path):
    """Five of the accounts get acquisition channels as segments and semiannual billing:
    the quarantine is the same as the untouched export's."""
    changed = tmp_path / "changed"
    shutil.copytree(tiny_data_dir, changed)
    accounts = pd.read_csv(changed / "accounts.csv")
    accounts.loc[accounts.index[:5], "segment"] = ["appstore1", "web", "Web", "smb", "x y"]
    accounts.to_csv(changed / "accounts.csv", index=False)
    subscriptions = pd.read_csv(changed / "subscriptions.csv")
    subscriptions.loc[subscriptions.index[:5], "billing_period"] = "semiannual"
    subscriptions.to_csv(changed / "subscriptions.csv", index=False)
    counts = []
    for data in (tiny_data_dir, changed):
        settings = make_settings(data, tmp_path / f"out_{data.name}")
        assert run_pipeline(settings, DagsterInstance.ephemeral(), first_day="2026-10-01",
                            last_day="2026-10-31", selection=RAW).success
        counts.append(pd.read_csv(settings.reports_dir() / "quarantine_report.csv")
                      .set_index("table")["quarantined_rows"])
    pd.testing.assert_series_equal(counts[0], counts[1])
    kept = pd.read_parquet(tmp_path / "out_changed" / "assets" / "accounts.parquet")
    assert kept["segment"].iloc[:5].tolist() == ["appstore1", "web", "Web", "SMB", "x y"]


def test_a_mostly_quarantined_required_table_stops_the_run_after_ingestion(tiny_data_dir,
                                                                            tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_data_dir, data)
    subscriptions = pd.read_csv(data / "subscriptions.csv")
    subscriptions.loc[subscriptions.index[::2], "billing_period"] = "weekly"
    subscriptions.to_csv(data / "subscriptions.csv", index=False)
    settings = make_settings(data, tmp_path / "out")
    result = run_pipeline(settings, DagsterInstance.ephemeral(), first_day="2026-10-01",
                          last_day="2026-10-31", selection=FEATURE_PIPELINE,
                          raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "quarantine_report"
    message = failure.step_failure_data.user_failure_data.description
    assert "subscriptions: 5" in message and "ACCOUNT_HEALTH_MAX_QUARANTINE_SHARE" in message
    assert 'values: {subscriptions: {billing_period: {"weekly": <monthly|' in message
    materialised = {e.asset_key.to_user_string()
                    for e in result.get_asset_materialization_events()}
    assert "subscriptions" in materialised and "account_snapshot" not in materialised
    # the same export, checked before a run, is refused with the same lines
    check = check_data(settings)
    assert not check.ok and any('{"weekly":' in p for p in check.problems)


def test_too_little_history_is_refused_before_the_run_with_the_days_needed(tiny_data_dir,
                                                                           capsys,
                                                                           monkeypatch):
    from account_health.cli import main

    monkeypatch.setenv("ACCOUNT_HEALTH_NOW", "2026-11-01T06:00:00")
    monkeypatch.setenv("ACCOUNT_HEALTH_OUTPUT_DIR", str(tiny_data_dir / "unused"))
    with pytest.raises(SystemExit) as stopped:
        main(["check-data", str(tiny_data_dir)])
    assert stopped.value.code == 1
    printed = capsys.readouterr().out
    assert "what would stop the run" in printed
    assert "more days of history" in printed


def test_the_run_summary_shows_the_textbook_model_beside_the_chosen_one(messaging_run,
                                                                       capsys):
    from account_health.summary import print_summary

    settings, training, _ = messaging_run
    print_summary(settings, AssetStorage.under(settings.output_dir), training)
    printed = capsys.readouterr().out
    assert "| textbook" in printed and "| xgboost" in printed
    assert "chosen: " in printed and "textbook model" in printed


def test_an_export_from_2020_starts_with_no_setting_but_its_folder(tmp_path):
    from account_health.demo_data import DemoConfig, generate_to_dir
    from pipelines.run import event_day_range

    data = tmp_path / "old"
    generate_to_dir(data, DemoConfig(accounts=40, months=8, seed=3,
                                     end_date=date(2021, 4, 30)))
    settings = make_settings(data, tmp_path / "out", now="2021-05-01T06:00:00")
    assert settings.data.pipeline_start_date == ""  # nothing set
    check = check_data(settings)
    assert check.ok, check.problems
    assert not any("pipeline start" in line for line in check.lines)
    first_day, last_day = event_day_range(settings)
    assert first_day.startswith("2020-") and last_day == "2021-04-30"
    assert check.event_days == (first_day, last_day)  # the days make run covers
    # a start set after the data ends is a problem that says so, never a negative count
    late = check_data(make_settings(data, tmp_path / "out", now="2021-05-01T06:00:00",
                                    pipeline_start_date="2025-01-01"))
    assert not late.ok
    assert any("every event_time is before the pipeline start 2025-01-01" in p
               for p in late.problems)
    assert not re.search(r"\(-\d+ days\)|-\d+ more days", "\n".join(late.problems))
