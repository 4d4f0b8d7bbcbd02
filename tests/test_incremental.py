"""Events as day files: a daily run reads only its day, and gives what recomputing the whole
history gives, row for row."""

from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetSelection, DagsterInstance

from account_health.demo_data import generate_to_dir
from pipelines.run import run_pipeline
from tests.conftest import TINY, make_settings, storage_of

pytestmark = pytest.mark.slow

#: The non-incremental path: every snapshot from 90 days of raw validated events.
UP_TO_SNAPSHOT = AssetSelection.groups("raw") | AssetSelection.assets("account_snapshot")
#: The daily path: each day's events also rolled up, and snapshots read the rollups.
WITH_ROLLUPS = UP_TO_SNAPSHOT | AssetSelection.assets("usage_rollup")
FIRST, LAST = "2026-06-01", "2026-10-31"
INCREMENTAL_DAYS = ["2026-10-29", "2026-10-30", "2026-10-31"]


def partitions(settings, asset: str) -> dict[str, pd.DataFrame]:
    base = Path(settings.output_dir) / "assets" / asset
    return {p.stem: pd.read_parquet(p) for p in sorted(base.glob("*.parquet"))}


def run(settings, first: str, last: str, selection: AssetSelection = UP_TO_SNAPSHOT):
    result = run_pipeline(settings, DagsterInstance.ephemeral(), first_day=first, last_day=last,
                          selection=selection)
    assert result.success
    return result


def snapshot_metadata(result) -> dict:
    [event] = [e for e in result.get_asset_materialization_events()
               if e.asset_key.to_user_string() == "account_snapshot"]
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.fixture(scope="module")
def day_file_data(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("day_files")
    generate_to_dir(data, TINY, events_by_day=True)
    return data


@pytest.fixture(scope="module")
def recomputed(day_file_data, tmp_path_factory):
    """The whole history in one run."""
    settings = make_settings(day_file_data, tmp_path_factory.mktemp("full"))
    run(settings, FIRST, LAST)
    return settings


@pytest.fixture(scope="module")
def incremental(day_file_data, tmp_path_factory):
    """History up to three days ago in one run, then one run per day, keeping daily usage
    rollups as state."""
    settings = make_settings(day_file_data, tmp_path_factory.mktemp("incremental"))
    run(settings, FIRST, "2026-10-28", WITH_ROLLUPS)
    for day in INCREMENTAL_DAYS:
        last = run(settings, day, day, WITH_ROLLUPS)
    # the last morning read its whole lookback from rollups, no raw events
    assert snapshot_metadata(last)["days_read_from_events"] == 0
    assert snapshot_metadata(last)["days_read_from_rollups"] == 91
    return settings


def test_day_files_are_what_the_demo_writes(day_file_data):
    files = sorted(p.name for p in (day_file_data / "events").iterdir())
    assert files[0] == "2026-06-01.parquet" and files[-1] == "2026-10-31.parquet"
    assert not (day_file_data / "events.parquet").exists()


def test_daily_runs_give_what_recomputing_the_history_gives(recomputed, incremental):
    for asset in ["events", "account_snapshot"]:
        full, daily = partitions(recomputed, asset), partitions(incremental, asset)
        assert sorted(full) == sorted(daily) and len(full) == 153  # Jun 1..Oct 31
        for day in full:
            pd.testing.assert_frame_equal(full[day], daily[day], obj=f"{asset} {day}")


def test_day_files_and_one_export_give_the_same_features(recomputed, tiny_data_dir,
                                                         tmp_path):
    """The tiny demo as one events.parquet (same seed) through the non-incremental path."""
    settings = make_settings(tiny_data_dir, tmp_path)
    run(settings, FIRST, LAST)
    from_export, from_days = (partitions(s, "account_snapshot")
                              for s in (settings, recomputed))
    assert sorted(from_export) == sorted(from_days)
    for day in from_export:
        pd.testing.assert_frame_equal(from_export[day], from_days[day], obj=day)
    key = ["event_id"]
    accepted = {name: pd.concat(partitions(s, "events").values()).sort_values(key,
                                                                          ignore_index=True)
                for name, s in [("export", settings), ("days", recomputed)]}
    pd.testing.assert_frame_equal(accepted["export"], accepted["days"])


def test_a_daily_run_reads_only_its_own_day_file(day_file_data, incremental, tmp_path):
    """Another day's file made unreadable does not disturb the run of a day."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(day_file_data, data)
    (data / "events" / "2026-10-20.parquet").write_bytes(b"not parquet")
    settings = make_settings(data, incremental.output_dir)
    run(settings, LAST, LAST)
    with pytest.raises(Exception, match="2026-10-20.parquet: cannot be read"):
        run_pipeline(settings, DagsterInstance.ephemeral(), first_day="2026-10-20",
                     last_day="2026-10-20", selection=UP_TO_SNAPSHOT)


def test_rows_of_another_day_and_bad_times_are_quarantined_with_their_day(day_file_data,
                                                                          tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(day_file_data, data)
    path = data / "events" / "2026-10-31.parquet"
    events = pd.read_parquet(path)
    moved = events.iloc[:3].copy()
    moved["event_time"] = moved["event_time"] - pd.Timedelta(days=2)
    moved["event_id"] = moved["event_id"].astype(str) + "_late"
    pd.concat([events, moved]).to_parquet(path, index=False)
    settings = make_settings(data, tmp_path / "out")
    run(settings, LAST, LAST)
    quarantine = partitions(settings, "events_quarantine")[LAST]
    late = quarantine[quarantine["record_id"].str.endswith("_late")]
    assert len(late) == 3
    assert late["reason"].str.contains("is not on 2026-10-31, the day of its file").all()
    assert (late["source_file"] == "events/2026-10-31.parquet").all()
    # the demo's dirty rows (missing and future times) sit in the last day's file
    assert quarantine["reason"].str.contains("event_time is missing").any()
    assert quarantine["reason"].str.contains("is in the future").any()
    accepted = partitions(settings, "events")[LAST]
    assert not accepted["event_id"].astype(str).str.endswith("_late").any()


def test_a_misnamed_day_file_is_a_clear_error(day_file_data, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(day_file_data, data)
    shutil.copy(data / "events" / "2026-10-31.parquet", data / "events" / "latest.parquet")
    settings = make_settings(data, tmp_path / "out")
    with pytest.raises(Exception, match="day files are named YYYY-MM-DD"):
        run_pipeline(settings, DagsterInstance.ephemeral(), first_day=LAST, last_day=LAST,
                     selection=UP_TO_SNAPSHOT)


def test_the_run_covers_the_days_the_day_files_name(day_file_data, tmp_path):
    from pipelines.run import event_day_range

    assert event_day_range(make_settings(day_file_data, tmp_path)) == (FIRST, LAST)


def test_a_rollup_older_than_its_events_or_of_another_taxonomy_is_not_used(incremental):
    import os

    from features.contract import EventTaxonomy
    from features.usage_rollup import current_sources

    def usage_sources(storage, days, taxonomy):
        return current_sources(days, lambda day: storage.asset_file("events", day),
                               lambda day: storage.asset_file("usage_rollup", day), taxonomy)

    # (Oct 31 is re-ingested without its rollup by another test of this module)
    days = pd.DatetimeIndex(["2026-10-28", "2026-10-29", "2026-10-30"])
    assets = Path(incremental.output_dir) / "assets"
    taxonomy = incremental.event_taxonomy(None)  # no event_vocabulary in these runs
    events, rollups = usage_sources(storage_of(incremental), days, taxonomy)
    assert (len(events), len(rollups)) == (0, 3)
    # events of Oct 30 re-ingested after its rollup was computed: read the events instead
    event_file = assets / "events" / "2026-10-30.parquet"
    # later than its rollup, however long after the events that was written
    later = (assets / "usage_rollup" / "2026-10-30.parquet").stat().st_mtime_ns + 10**9
    os.utime(event_file, ns=(later, later))
    events, rollups = usage_sources(storage_of(incremental), days, taxonomy)
    assert [p.stem for p in events] == ["2026-10-30"] and len(rollups) == 2
    # another event taxonomy: no stored rollup is current
    events, rollups = usage_sources(storage_of(incremental), days,
                                    EventTaxonomy(core_events=["reports"]))
    assert (len(events), len(rollups)) == (3, 0)
