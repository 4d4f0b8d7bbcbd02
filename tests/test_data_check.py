"""The data check reads the events in batches: the same counts as one read, a duplicate
across two batches still caught, and the days a run covers given to the run."""

import shutil

import pandas as pd
import pytest

import account_health.data_check as data_check
import features.contract as contract
from account_health.data_check import check_data
from features.contract import ContractMapping, read_table, read_table_batches
from tests.conftest import make_settings


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_batches_hold_the_rows_and_row_numbers_of_one_read(tiny_data_dir, tmp_path, suffix,
                                                            monkeypatch):
    source = tiny_data_dir / "events.parquet"
    path = tmp_path / f"events.{suffix}"
    if suffix == "csv":
        pd.read_parquet(source).head(5000).to_csv(path, index=False)
        monkeypatch.setattr(contract, "CSV_BATCH_BYTES", 64 << 10)
    else:
        pd.read_parquet(source).head(5000).to_parquet(path)
    mapping = ContractMapping()
    whole = read_table(path, "events", mapping)
    batches = list(read_table_batches(path, "events", mapping, batch_rows=700))
    assert len(batches) > 3
    joined = pd.concat(batches, ignore_index=True)
    assert joined["source_row"].tolist() == list(range(1, len(whole) + 1))
    pd.testing.assert_frame_equal(joined.astype(str), whole.astype(str))


@pytest.fixture
def events_with_a_late_duplicate(tiny_data_dir, tmp_path):
    """The tiny export whose last event repeats the first event's id (far apart: another
    batch)."""
    data = tmp_path / "data"
    shutil.copytree(tiny_data_dir, data)
    events = pd.read_parquet(data / "events.parquet")
    events.loc[events.index[-1], "event_id"] = events["event_id"].iloc[0]
    events.to_parquet(data / "events.parquet")
    return data


def _quarantine_line(check) -> str:
    [line] = [line for line in check.lines[check.lines.index(next(
        line for line in check.lines if line.startswith("events:"))) + 1:][:1]]
    return line


def test_batched_checks_count_what_one_batch_counts(events_with_a_late_duplicate, tmp_path,
                                                    monkeypatch):
    settings = make_settings(events_with_a_late_duplicate, tmp_path / "out")
    whole = check_data(settings)
    monkeypatch.setattr(data_check, "EVENT_BATCH_ROWS", 2000)
    batched = check_data(settings)
    assert _quarantine_line(batched).split(" rows")[0] == _quarantine_line(whole).split(
        " rows")[0]
    assert "duplicate event_id" in _quarantine_line(batched)
    assert batched.event_days == whole.event_days
    assert [line for line in batched.lines if not line.startswith("  ")] == [
        line for line in whole.lines if not line.startswith("  ")]


def test_without_row_checks_the_run_still_gets_its_days_and_event_names(tiny_data_dir,
                                                                       tmp_path):
    settings = make_settings(tiny_data_dir, tmp_path / "out")
    full, light = check_data(settings), check_data(settings, event_rows=False)
    assert light.problems == full.problems and light.event_days == full.event_days
    first, last = light.event_days
    times = pd.to_datetime(pd.read_parquet(tiny_data_dir / "events.parquet")["event_time"],
                           utc=True, errors="coerce")
    assert first == f"{times[times <= settings.data.current_time()].min():%Y-%m-%d}"
    assert last == f"{settings.data.current_time() - pd.Timedelta(days=1):%Y-%m-%d}"
    def names(check) -> set[str]:  # unvalidated rows may reorder near-ties
        [line] = [line for line in check.lines if line.startswith("event names")]
        return set(line.split(" for ", 1)[1].rstrip("):").split(", "))

    assert names(light) == names(full) and len(names(full)) > 5
    assert any("row checks of events run at ingestion" in line for line in light.lines)


def test_an_absent_cs_activities_table_says_what_goes_unmeasured(tiny_data_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_data_dir, data)
    next(data.glob("cs_activities.*")).unlink()
    lines = check_data(make_settings(data, tmp_path / "out"), event_rows=False).lines
    [line] = [line for line in lines if line.startswith("cs_activities:")]
    assert "absent" in line and "engagement features" in line
