"""The Dagster pipeline in-process on tiny data: outputs, idempotence, optional tables."""

import shutil
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest
from dagster import DagsterInstance, Failure

from feature_repo.definitions import CHURN_FEATURE_SERVICE
from feature_repo.store import open_store
from features.snapshot import FEATURE_GROUPS
from pipelines.definitions import defs
from pipelines.run import run_pipeline
from pipelines.selections import FEATURE_PIPELINE
from tests.conftest import make_settings, storage_of

pytestmark = pytest.mark.slow

FIRST_DAY, LAST_DAY = "2026-06-01", "2026-10-31"


def read_dir(path: Path) -> pd.DataFrame:
    return ds.dataset(str(path), format="parquet").to_table().to_pandas()


@pytest.fixture(scope="module")
def first_run(tiny_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    settings = make_settings(tiny_data_dir, out)
    result = run_pipeline(settings, DagsterInstance.ephemeral(), first_day=FIRST_DAY,
                          last_day=LAST_DAY, selection=FEATURE_PIPELINE)
    return settings, result


def test_definitions_load():
    assert defs.resolve_job_def("feature_pipeline") is not None


def test_run_leaves_every_promised_output(first_run):
    settings, result = first_run
    assert result.success
    out = Path(settings.output_dir)
    for table in ["accounts", "subscriptions", "invoices", "support_tickets", "nps_responses",
                  "cs_activities"]:
        assert (out / "assets" / f"{table}.parquet").exists()
        assert (out / "assets" / f"{table}_quarantine.parquet").exists()
    assert len(list((out / "assets" / "events").glob("*.parquet"))) == 153  # Jun 1..Oct 31
    assert (out / "reports" / "quarantine_report.csv").exists()
    assert (out / "feast" / "registry.db").exists()
    assert (out / "feast" / "online_store.db").exists()


def test_quarantine_report_counts_bad_rows_per_table(first_run):
    settings, _ = first_run
    report = pd.read_csv(Path(settings.output_dir) / "reports" / "quarantine_report.csv")
    report = report.set_index("table")
    quarantined = read_dir(Path(settings.output_dir) / "assets" / "events_quarantine")
    unplaceable = pd.read_parquet(Path(settings.output_dir) / "assets" /
                                  "events_unplaceable.parquet")
    assert report.loc["events", "quarantined_rows"] == len(quarantined) + len(unplaceable)
    assert "duplicate event_id" in report.loc["events", "reasons"]
    assert "unknown account_id" in report.loc["events", "reasons"]
    assert "event_time is missing" in report.loc["events", "reasons"]
    assert report.loc["subscriptions", "quarantined_rows"] == 3


def test_checks_ran_and_online_store_serves_latest_day(first_run):
    settings, result = first_run
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations["required_tables_present"]
    assert evaluations["snapshot_unique_and_complete"]
    assert evaluations["snapshot_freshness"]  # latest day Oct 31, now Nov 1 06:00
    latest = pd.read_parquet(storage_of(settings).asset_file("account_snapshot", LAST_DAY))
    store = open_store(Path(settings.output_dir))
    online = store.get_online_features(
        features=store.get_feature_service(CHURN_FEATURE_SERVICE),
        entity_rows=[{"account_id": a} for a in latest["account_id"]]).to_df()
    merged = online.merge(latest, on="account_id", suffixes=("_online", ""))
    assert len(merged) == len(latest) > 0
    assert (merged["mrr_online"] == merged["mrr"]).all()
    assert (merged["active_users_30d_online"] == merged["active_users_30d"]).all()


def test_training_set_rows_carry_features_from_their_own_as_of_date(first_run):
    settings, _ = first_run
    training = pd.read_parquet(Path(settings.output_dir) / "assets" / "training_set.parquet")
    snapshot = read_dir(storage_of(settings).partition_dir("account_snapshot"))
    assert len(training) > 0 and training["label_complete"].all()
    joined = training.merge(snapshot, on=["account_id", "as_of_date"], suffixes=("", "_snap"))
    assert len(joined) == len(training)
    for column in ["events_30d", "mrr", "days_to_renewal", "open_tickets"]:
        assert (joined[column] == joined[f"{column}_snap"]).all(), column


def test_rerun_is_idempotent(first_run):
    settings, _ = first_run
    out = Path(settings.output_dir)
    before = {name: read_dir(out / "assets" / name)
              for name in ["events", "account_snapshot", "events_quarantine"]}
    result = run_pipeline(settings, DagsterInstance.ephemeral(), first_day=FIRST_DAY,
                          last_day=LAST_DAY, selection=FEATURE_PIPELINE)
    assert result.success
    for name, frame in before.items():
        again = read_dir(out / "assets" / name)
        key = {"events": ["event_id"], "account_snapshot": ["account_id", "as_of_date"],
               "events_quarantine": ["source_row"]}[name]
        assert not again.duplicated(key).any()
        pd.testing.assert_frame_equal(
            frame.sort_values(key).reset_index(drop=True),
            again.sort_values(key).reset_index(drop=True))


def test_rematerialising_one_day_replaces_only_that_day(tiny_data_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_data_dir, data)
    settings = make_settings(data, tmp_path / "out")
    assert run_pipeline(settings, DagsterInstance.ephemeral(), first_day="2026-10-01",
                        last_day="2026-10-31", selection=FEATURE_PIPELINE).success
    day_file = Path(settings.output_dir) / "assets" / "events" / "2026-10-15.parquet"
    other_file = Path(settings.output_dir) / "assets" / "events" / "2026-10-14.parquet"
    other_before = pd.read_parquet(other_file)
    events = pd.read_parquet(data / "events.parquet")
    on_day = events["event_time"].dt.strftime("%Y-%m-%d") == "2026-10-15"
    events[~on_day].to_parquet(data / "events.parquet")  # the source drops that day
    snapshot_file = Path(settings.output_dir) / "assets" / "account_snapshot" / "2026-10-15.parquet"
    snapshot_before = pd.read_parquet(snapshot_file)
    rerun = run_pipeline(settings, DagsterInstance.ephemeral(), first_day="2026-10-15",
                         last_day="2026-10-15", selection=FEATURE_PIPELINE, raise_on_error=False)
    assert len(pd.read_parquet(day_file)) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(other_file), other_before)
    # a day left without events is flagged and its features are not rebuilt from nothing
    assert not rerun.success
    pd.testing.assert_frame_equal(pd.read_parquet(snapshot_file), snapshot_before)


def test_runs_with_only_the_two_required_tables(tiny_data_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ["events.parquet", "subscriptions.csv"]:
        shutil.copy(tiny_data_dir / name, data / name)
    settings = make_settings(data, tmp_path / "out")
    result = run_pipeline(settings, DagsterInstance.ephemeral(), first_day="2026-09-01",
                          last_day="2026-10-31", selection=FEATURE_PIPELINE)
    assert result.success
    snapshot = read_dir(storage_of(settings).partition_dir("account_snapshot"))
    assert "mrr" in snapshot and "active_users_30d" in snapshot
    for absent in ["segment", "failed_payments_90d", "open_tickets", "nps_latest"]:
        assert absent not in snapshot.columns
    store = open_store(Path(settings.output_dir))
    [view] = store.list_feature_views()
    groups = {field.tags["group"] for field in view.features}
    assert groups == {"account_usage", "account_event_mix", "account_billing"}
    assert {field.name for field in view.features} == (
        set(FEATURE_GROUPS["account_usage"]) | set(FEATURE_GROUPS["account_event_mix"])
        | set(FEATURE_GROUPS["account_billing"]))
    training = pd.read_parquet(Path(settings.output_dir) / "assets" / "training_set.parquet")
    assert "nps_latest" not in training.columns


def test_missing_required_table_fails_loudly(tiny_data_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(tiny_data_dir / "events.parquet", data / "events.parquet")
    settings = make_settings(data, tmp_path / "out")
    with pytest.raises(Failure, match="required table 'subscriptions' not found"):
        run_pipeline(settings, DagsterInstance.ephemeral(), first_day="2026-10-01",
                     last_day="2026-10-31", selection=FEATURE_PIPELINE)


def test_a_foreign_csv_export_runs_through_mapping_yaml(tiny_data_dir, tmp_path, monkeypatch):
    """A user's export with other column names, picked up from ACCOUNT_HEALTH_* variables."""
    from pipelines.resources import settings_from_env

    data = tmp_path / "export"
    data.mkdir()
    events = pd.read_parquet(tiny_data_dir / "events.parquet").dropna(subset=["event_time"])
    events = events[events["event_time"] >= pd.Timestamp("2026-10-01", tz="UTC")]
    events["event_time"] = events["event_time"].dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    events.rename(columns={"event_time": "timestamp", "user_id": "distinct_id",
                           "event_name": "event"}).to_csv(data / "events.csv", index=False)
    subs = pd.read_csv(tiny_data_dir / "subscriptions.csv")
    subs["billing_period"] = subs["billing_period"].replace({"annual": "yearly"})
    subs.rename(columns={"mrr": "monthly_revenue"}).to_csv(data / "subscriptions.csv",
                                                           index=False)
    (data / "mapping.yaml").write_text(
        "columns:\n"
        "  events: {timestamp: event_time, distinct_id: user_id, event: event_name}\n"
        "  subscriptions: {monthly_revenue: mrr}\n"
        "values:\n"
        "  subscriptions: {billing_period: {yearly: annual}}\n")
    monkeypatch.setenv("ACCOUNT_HEALTH_DATA_DIR", str(data))
    monkeypatch.setenv("ACCOUNT_HEALTH_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("ACCOUNT_HEALTH_NOW", "2026-11-01T06:00:00")
    settings = settings_from_env()
    assert settings.data_dir == str(data.resolve())
    result = run_pipeline(settings, DagsterInstance.ephemeral(), first_day="2026-10-01",
                          last_day="2026-10-31", selection=FEATURE_PIPELINE)
    assert result.success
    accepted = read_dir(tmp_path / "out" / "assets" / "events")
    assert len(accepted) > 0.99 * len(events)
    quarantine = pd.read_parquet(tmp_path / "out" / "assets" / "subscriptions_quarantine.parquet")
    assert not quarantine["reason"].str.contains("yearly").any()  # mapped to annual
    assert len(quarantine) == 3  # only the three rows the demo plants
    snapshot = read_dir(tmp_path / "out" / "assets" / "account_snapshot")
    assert snapshot["active_users_30d"].sum() > 0


def test_scoring_without_a_champion_fails_clearly(first_run):
    from pipelines.selections import SCORING

    settings, _ = first_run
    with pytest.raises(Failure, match="No champion model.*train_churn_models"):
        run_pipeline(settings, DagsterInstance.ephemeral(), first_day=LAST_DAY,
                     last_day=LAST_DAY, selection=SCORING)


def test_a_day_whose_events_have_not_arrived_stops_before_features(tiny_data_dir, tmp_path):
    # The demo export ends on 2026-10-31; by 2026-11-02 the 1st should have arrived.
    settings = make_settings(tiny_data_dir, tmp_path, now="2026-11-02T06:00:00")
    result = run_pipeline(settings, DagsterInstance.ephemeral(), first_day="2026-11-01",
                          last_day="2026-11-01", selection=FEATURE_PIPELINE,
                          raise_on_error=False)
    checks = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
    assert not checks["events_arrived"].passed
    assert checks["events_arrived"].description == "no events for 2026-11-01 in the export yet"
    materialised = {e.asset_key.to_user_string()
                    for e in result.get_asset_materialization_events()}
    assert "events" in materialised and "account_snapshot" not in materialised
    assert not (tmp_path / "assets" / "account_snapshot" / "2026-11-01.parquet").exists()


def test_events_arrived_passes_when_the_last_day_has_events(first_run):
    _, result = first_run
    checks = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
    assert checks["events_arrived"].passed


def test_the_feature_pipeline_job_selects_features_not_models_or_scores():
    job = defs.resolve_job_def("feature_pipeline")
    selected = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert {"events", "account_snapshot", "feast_feature_store", "training_set"} <= selected
    assert not selected & {"churn_model", "churn_model_validation", "account_scores",
                           "account_alerts"}


def test_run_job_records_the_named_job_and_one_progress_line_per_step(tiny_data_dir, tmp_path,
                                                                      capsys):
    from pipelines.run import run_job

    settings = make_settings(tiny_data_dir, tmp_path)
    result = run_job(settings, "feature_pipeline", DagsterInstance.ephemeral(),
                     first_day="2026-10-01", last_day="2026-10-31")
    assert result.success
    assert result.dagster_run.job_name == "feature_pipeline"
    printed = capsys.readouterr().out
    steps = [line.split()[2] for line in printed.splitlines() if line.endswith(" done")]
    assert "account_snapshot" in steps and "training_set" in steps
    assert len(steps) == len(set(steps))  # each step once


def test_a_range_run_plans_once_per_asset_and_records_every_day(tiny_data_dir, tmp_path,
                                                                monkeypatch):
    from dagster import AssetKey

    from pipelines.run import PLANNED_EVENTS_AS_RANGES, run_job

    monkeypatch.delenv(PLANNED_EVENTS_AS_RANGES, raising=False)  # run_job turns it on
    instance = DagsterInstance.ephemeral()
    result = run_job(make_settings(tiny_data_dir, tmp_path), "feature_pipeline", instance,
                     first_day="2026-10-01", last_day="2026-10-31", progress=False)
    assert result.success

    snapshot = AssetKey("account_snapshot")
    planned = instance.fetch_planned_materializations(snapshot, limit=1000).records
    assert len(planned) == 1  # not one per day of the range
    assert len(instance.fetch_materializations(snapshot, limit=1000).records) == 31
    assert len(instance.get_materialized_partitions(snapshot)) == 31


def test_daily_partitions_begin_where_the_data_begins(tiny_data_dir, tmp_path, monkeypatch):
    from pipelines.partitions import partitions_start
    from pipelines.resources import DEFAULT_START_DATE
    from pipelines.run import event_day_range, learn_first_day

    monkeypatch.delenv("ACCOUNT_HEALTH_START_DATE", raising=False)
    monkeypatch.setenv("ACCOUNT_HEALTH_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("ACCOUNT_HEALTH_NOW", "2026-11-01T06:00:00")
    monkeypatch.setenv("ACCOUNT_HEALTH_DATA_DIR", str(tmp_path / "nothing_yet"))
    assert partitions_start() == DEFAULT_START_DATE  # no data to read
    monkeypatch.setenv("ACCOUNT_HEALTH_DATA_DIR", str(tiny_data_dir))
    first = event_day_range(make_settings(tiny_data_dir, tmp_path / "out"))[0]
    assert first != DEFAULT_START_DATE and partitions_start() == first
    # what make run learned from its data check is used as it is, without a read
    learn_first_day(str(tmp_path / "told"), "2024-03-05")
    monkeypatch.setenv("ACCOUNT_HEALTH_DATA_DIR", str(tmp_path / "told"))
    assert partitions_start() == "2024-03-05"
    monkeypatch.setenv("ACCOUNT_HEALTH_START_DATE", "2025-02-01")
    assert partitions_start() == "2025-02-01"  # the setting wins
