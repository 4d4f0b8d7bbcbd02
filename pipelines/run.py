"""Runs of the pipeline in this process: a named job over a range of days, or any selection.

A range of days runs as one single-run backfill (Dagster's partition-range run tags), and
the run is recorded in the given Dagster instance, so ``dagster dev`` shows it on its job's
page. Such a run records one "planned" event per asset for its whole range
(``PLANNED_EVENTS_AS_RANGES``), not one per asset and day, and one materialisation per
asset and day once the day's data is written, each output's days in one batch
(``RECORD_BATCH_SIZE``).
"""

from __future__ import annotations

import pandas as pd
from dagster import AssetSelection, DagsterInstance, materialize

from features.contract import day_files, read_table
from features.row_checks import event_times, run_day_range
from pipelines.environment import (
    PLANNED_EVENTS_AS_RANGES,
    RECORD_BATCH_SIZE,
    plan_runs_by_range,
)
from pipelines.resources import AccountHealthSettings

__all__ = ["PARTITION_RANGE_END", "PARTITION_RANGE_START", "PLANNED_EVENTS_AS_RANGES",
           "RECORD_BATCH_SIZE",
           "event_day_range", "first_event_day", "first_scored_day", "learn_first_day",
           "plan_runs_by_range", "run_job", "run_pipeline", "score_days"]

#: Dagster's run tags for one run over a range of partitions (a single-run backfill).
PARTITION_RANGE_START = "dagster/asset_partition_range_start"
PARTITION_RANGE_END = "dagster/asset_partition_range_end"
def event_day_range(settings: AccountHealthSettings) -> tuple[str, str]:
    """First and last UTC day of placeable events, clipped to the partitioned period."""
    path = settings.table_file("events")
    if path is None:
        raise SystemExit(f"events.csv, events.parquet or events/ not found in {settings.data_dir}")
    if path.is_dir():  # day files: their names say which days there are
        times = pd.Series(sorted(day_files(path)), dtype="datetime64[ns]").dt.tz_localize("UTC")
    else:
        times = event_times(read_table(path, "events", settings.mapping()))
    now = settings.data.current_time()
    times = times[(times >= settings.data.start_timestamp()) & (times <= now)]
    if times.empty:
        raise SystemExit(f"no events fall between the pipeline start "
                         f"{settings.data.start_timestamp():%Y-%m-%d} and now ({now:%Y-%m-%d})")
    return run_day_range(times.min(), times.max(), now)


#: The data's first day by data directory, as this process learned it: ``make run`` tells it
#: from its data check (``learn_first_day``) before the definitions are loaded, so the export
#: is not read again for the daily partitions.
_first_days: dict[str, str] = {}


def learn_first_day(data_dir: str, day: str) -> None:
    """Remember that the data in ``data_dir`` begins on ``day`` (YYYY-MM-DD)."""
    _first_days[str(data_dir)] = day


def first_event_day(settings: AccountHealthSettings) -> str:
    """The first day of the data's placeable events (``event_day_range``), read once per
    data directory in a process."""
    if settings.data_dir not in _first_days:
        _first_days[settings.data_dir] = event_day_range(settings)[0]
    return _first_days[settings.data_dir]


def _range_tags(first_day: str, last_day: str) -> dict[str, str]:
    return {PARTITION_RANGE_START: first_day, PARTITION_RANGE_END: last_day}


def run_pipeline(settings: AccountHealthSettings, instance: DagsterInstance | None = None,
                 *, first_day: str | None = None, last_day: str | None = None,
                 log_level: str = "WARNING", raise_on_error: bool = True,
                 selection: AssetSelection | None = None):
    """Materialise assets and checks for days first_day..last_day (default: the data's).

    ``selection`` limits the run (default: every asset, including daily scoring of every
    day in the range). The run is an ad-hoc materialisation; ``run_job`` runs a named job.
    """
    from pipelines.definitions import all_assets, all_checks, build_resources

    if first_day is None or last_day is None:
        first_day, last_day = event_day_range(settings)
    plan_runs_by_range()
    return materialize(
        [*all_assets, *all_checks],
        resources=build_resources(settings),
        instance=instance,
        tags=_range_tags(first_day, last_day),
        # One debug line per partition and step drowns the summary; the UI keeps them all.
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        raise_on_error=raise_on_error,
        selection=selection,
    )


def first_scored_day(first_day: str, last_day: str, history_weeks: int) -> str:
    """The first day the first run scores: ``history_weeks`` weeks before the last day (the
    day after, so that the last day ends the last week), but not before the data's first."""
    start = pd.Timestamp(last_day) - pd.Timedelta(weeks=history_weeks) + pd.Timedelta(days=1)
    return f"{max(start, pd.Timestamp(first_day)):%Y-%m-%d}"


def score_days(settings: AccountHealthSettings, instance: DagsterInstance, *,
               scored_from: str, last_day: str, progress: bool = True):
    """The daily scoring job from ``scored_from`` to ``last_day``: the scores, alerts and
    work items of every day (``SCORED_HISTORY``), so that the last day has a history to
    compare with, then the whole job for the last day. Returns the first run that failed,
    or the last day's."""
    from pipelines.selections import SCORED_HISTORY, SCORING

    day_before = f"{pd.Timestamp(last_day) - pd.Timedelta(days=1):%Y-%m-%d}"
    if scored_from <= day_before:
        history = run_job(settings, "daily_scoring", instance, first_day=scored_from,
                          last_day=day_before, selection=SCORED_HISTORY, progress=progress)
        if not history.success:
            return history
    return run_job(settings, "daily_scoring", instance, first_day=last_day,
                   last_day=last_day, selection=SCORING, progress=progress)


def run_job(settings: AccountHealthSettings, job_name: str, instance: DagsterInstance, *,
            first_day: str, last_day: str, selection: AssetSelection | None = None,
            progress: bool = True):
    """Run the named job of the definitions (a sub-selection of it with ``selection``) for
    days first_day..last_day; the run appears on that job's page in the Dagster UI.

    ``progress`` prints one line per finished step; otherwise Dagster logs warnings only.
    """
    from pipelines.definitions import definitions

    plan_runs_by_range()
    defs = definitions(settings)
    job = defs.resolve_job_def(job_name)
    keys = (None if selection is None
            else sorted(selection.resolve(defs.resolve_asset_graph())
                        & job.asset_layer.selected_asset_keys))
    loggers = ({"progress": {}} if progress
               else {"console": {"config": {"log_level": "WARNING"}}})
    return job.execute_in_process(
        instance=instance, tags=_range_tags(first_day, last_day), asset_selection=keys,
        run_config={"loggers": loggers}, raise_on_error=False)
