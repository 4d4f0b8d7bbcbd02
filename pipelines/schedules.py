"""When jobs run: the daily scoring run and the weekly retrain.

The daily run's time of day and timezone come from ``ACCOUNT_HEALTH_DAILY_RUN_AT`` (HH:MM,
default 06:00) and ``ACCOUNT_HEALTH_TIMEZONE`` (IANA name, default UTC). Whether schedules
start out running comes from ``ACCOUNT_HEALTH_SCHEDULES`` (``stopped``, the default for a
laptop, or ``running``, which docker-compose.yml sets so the daemon fires them from the
start); an operator's start or stop in the UI overrides it.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    schedule,
)

from pipelines.environment import Schedule


def scored_day(tick: pd.Timestamp) -> str:
    """The partition a run at ``tick`` scores: the last UTC day that has fully ended."""
    return (pd.Timestamp(tick).tz_convert("UTC").normalize()
            - pd.Timedelta(days=1)).strftime("%Y-%m-%d")


def _cron_at(run_at: str) -> str:
    try:
        hour, minute = (int(part) for part in run_at.split(":"))
    except ValueError:
        hour = minute = -1
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"ACCOUNT_HEALTH_DAILY_RUN_AT={run_at!r}: expected HH:MM, e.g. 06:00")
    return f"{minute} {hour} * * *"


def schedule_status(value: str) -> DefaultScheduleStatus:
    """``running`` or ``stopped`` (any case) as Dagster's default schedule status."""
    try:
        return DefaultScheduleStatus(value.strip().upper())
    except ValueError:
        raise ValueError(f"ACCOUNT_HEALTH_SCHEDULES={value!r}: expected running or stopped"
                         ) from None


def daily_scoring_schedule(job, *, run_at: str = "06:00", timezone: str = "UTC",
                           status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED
                           ) -> ScheduleDefinition:
    """Every day at ``run_at`` in ``timezone``: the day that last ended in UTC."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"ACCOUNT_HEALTH_TIMEZONE={timezone!r} is not an IANA timezone "
                         "(e.g. Europe/Berlin)") from exc

    @schedule(name="daily_scoring_schedule", job=job, cron_schedule=_cron_at(run_at),
              execution_timezone=timezone, default_status=status,
              description=f"Ingest, features, Feast, scores and alerts for the last complete "
                          f"UTC day, every day at {run_at} {timezone}")
    def _daily(context: ScheduleEvaluationContext) -> RunRequest:
        day = scored_day(pd.Timestamp(context.scheduled_execution_time))
        return RunRequest(run_key=day, partition_key=day)

    return _daily


def weekly_training_schedule(job, *,
                             status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED
                             ) -> ScheduleDefinition:
    return ScheduleDefinition(job=job, cron_schedule="0 3 * * 1", execution_timezone="UTC",
                              default_status=status,
                              description="Retrain every Monday 03:00 UTC on the latest features")


def report_schedules(weekly_job, monthly_job, *,
                     status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED
                     ) -> list[ScheduleDefinition]:
    """The weekly operations report every Monday and the monthly executive report on the
    first of each month, at 07:00 UTC: after the morning's scores."""
    return [ScheduleDefinition(job=weekly_job, cron_schedule="0 7 * * 1",
                               execution_timezone="UTC", default_status=status,
                               description="The weekly operations report, Mondays 07:00 UTC"),
            ScheduleDefinition(job=monthly_job, cron_schedule="0 7 1 * *",
                               execution_timezone="UTC", default_status=status,
                               description="The monthly executive report, on the 1st at "
                                           "07:00 UTC")]


def schedules_from(schedule: Schedule, daily_job, training_job, weekly_job=None,
                   monthly_job=None) -> list[ScheduleDefinition]:
    """Every schedule, configured by the environment's schedule settings (above)."""
    status = schedule_status(schedule.status)
    schedules = [daily_scoring_schedule(daily_job, run_at=schedule.daily_run_at,
                                        timezone=schedule.timezone, status=status),
                 weekly_training_schedule(training_job, status=status)]
    if weekly_job is not None and monthly_job is not None:
        schedules += report_schedules(weekly_job, monthly_job, status=status)
    return schedules
