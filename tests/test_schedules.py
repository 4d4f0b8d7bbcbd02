"""The daily run's schedule: configurable time and timezone, the right day to score."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dagster import DefaultScheduleStatus, build_schedule_context

from pipelines.definitions import daily_scoring_job, defs, train_churn_models_job
from pipelines.environment import read_environment
from pipelines.schedules import daily_scoring_schedule, schedules_from


def requested_partition(schedule, tick: dt.datetime) -> str:
    request = schedule(build_schedule_context(scheduled_execution_time=tick))
    assert request.run_key == request.partition_key
    return request.partition_key


def test_default_schedule_scores_yesterday_at_six_utc():
    schedule = defs.resolve_schedule_def("daily_scoring_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 6 * * *", "UTC")
    assert schedule.job_name == "daily_scoring"
    tick = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)
    assert requested_partition(schedule, tick) == "2026-11-01"


@pytest.mark.parametrize(("run_at", "zone", "local_tick", "day"), [
    # 06:00 in Tokyo is 21:00 UTC the day before: the last complete UTC day is two back
    ("06:00", "Asia/Tokyo", dt.datetime(2026, 11, 2, 6, 0), "2026-10-31"),
    # 05:30 in Los Angeles is 13:30 UTC the same day
    ("05:30", "America/Los_Angeles", dt.datetime(2026, 11, 2, 5, 30), "2026-11-01"),
])
def test_time_and_timezone_are_configurable(run_at, zone, local_tick, day):
    schedule = daily_scoring_schedule(daily_scoring_job, run_at=run_at, timezone=zone)
    hour, minute = run_at.split(":")
    assert schedule.cron_schedule == f"{int(minute)} {int(hour)} * * *"
    assert schedule.execution_timezone == zone
    assert requested_partition(schedule, local_tick.replace(tzinfo=ZoneInfo(zone))) == day


def schedules_from_environment():
    return schedules_from(read_environment().schedule, daily_scoring_job,
                          train_churn_models_job)


def test_schedule_reads_its_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("ACCOUNT_HEALTH_DAILY_RUN_AT", "07:15")
    monkeypatch.setenv("ACCOUNT_HEALTH_TIMEZONE", "Europe/Berlin")
    schedule, _ = schedules_from_environment()
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("15 7 * * *",
                                                                     "Europe/Berlin")


def test_schedules_start_stopped_unless_configured_to_run(monkeypatch):
    monkeypatch.delenv("ACCOUNT_HEALTH_SCHEDULES", raising=False)
    assert {s.default_status for s in schedules_from_environment()} == {
        DefaultScheduleStatus.STOPPED}
    monkeypatch.setenv("ACCOUNT_HEALTH_SCHEDULES", "Running")
    assert {s.default_status for s in schedules_from_environment()} == {
        DefaultScheduleStatus.RUNNING}
    monkeypatch.setenv("ACCOUNT_HEALTH_SCHEDULES", "on")
    with pytest.raises(ValueError, match="expected running or stopped"):
        schedules_from_environment()


@pytest.mark.parametrize(("run_at", "zone", "message"), [
    ("6am", "UTC", "expected HH:MM"), ("24:00", "UTC", "expected HH:MM"),
    ("06:00", "Mars/Olympus", "not an IANA timezone"),
])
def test_bad_schedule_settings_are_refused_clearly(run_at, zone, message):
    with pytest.raises(ValueError, match=message):
        daily_scoring_schedule(daily_scoring_job, run_at=run_at, timezone=zone)


def test_daily_job_runs_ingestion_to_alerts_but_not_training():
    job = defs.resolve_job_def("daily_scoring")
    assets = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert {"events", "account_snapshot", "feast_feature_store", "online_features",
            "account_scores", "account_alerts"} <= assets
    assert not assets & {"training_set", "churn_model", "churn_model_promotion"}
    retrain = defs.resolve_job_def("train_churn_models")
    assert not {k.to_user_string() for k in retrain.asset_layer.executable_asset_keys} & {
        "account_scores", "account_alerts"}


def test_the_weekly_and_monthly_reports_have_schedules_of_their_own():
    from pipelines.definitions import defs

    weekly = defs.resolve_schedule_def("weekly_operations_schedule")
    monthly = defs.resolve_schedule_def("monthly_executive_schedule")
    assert (weekly.cron_schedule, weekly.job_name) == ("0 7 * * 1", "weekly_operations")
    assert (monthly.cron_schedule, monthly.job_name) == ("0 7 1 * *", "monthly_executive")
    job = defs.resolve_job_def("daily_scoring")
    selected = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert not selected & {"weekly_operations_report", "monthly_executive_report"}
    # the renewal forecast is a planning figure: the monthly job rebuilds it, mornings do not
    assert not selected & {"renewal_forecast", "renewal_backtest"}
    monthly_job = defs.resolve_job_def("monthly_executive")
    assert {"renewal_forecast", "renewal_backtest"} <= {
        key.to_user_string() for key in monthly_job.asset_layer.selected_asset_keys}
