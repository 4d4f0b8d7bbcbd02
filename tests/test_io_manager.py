"""Partitioned Parquet storage: one file per day, every day of the run written."""

import pandas as pd
import pytest
from dagster import DailyPartitionsDefinition, PartitionKeyRange, build_output_context

from pipelines.io_manager import PartitionedParquetIOManager

DAYS = DailyPartitionsDefinition(start_date="2026-10-01")


def write(manager: PartitionedParquetIOManager, frame: pd.DataFrame, first: str,
          last: str) -> None:
    context = build_output_context(
        asset_key="scores", definition_metadata={"partition_column": "as_of_date"},
        asset_partitions_def=DAYS, asset_partition_key_range=PartitionKeyRange(first, last))
    manager.handle_output(context, frame)


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": ["b", "a", "c", "a"],
        "as_of_date": pd.to_datetime(["2026-10-03", "2026-10-01", "2026-10-03",
                                      "2026-10-03"]),
        "risk": [0.2, 0.1, 0.3, float("nan")], "band": pd.Categorical(["x", "y", "x", "y"])})


def test_each_day_gets_its_rows_and_a_day_without_rows_an_empty_file(tmp_path):
    manager = PartitionedParquetIOManager(base_dir=str(tmp_path))
    rows = frame()
    write(manager, rows, "2026-10-01", "2026-10-03")
    for day in ["2026-10-01", "2026-10-02", "2026-10-03"]:
        stored = pd.read_parquet(tmp_path / "scores" / f"{day}.parquet")
        expected = rows[rows["as_of_date"] == day].reset_index(drop=True)
        assert isinstance(stored["band"].dtype, pd.CategoricalDtype)
        # same rows, order and types (an empty day's file keeps no categories, only the type)
        pd.testing.assert_frame_equal(stored.astype({"band": str}),
                                      expected.astype({"band": str}))
    # writing the same days again replaces the files: nothing is duplicated
    write(manager, rows, "2026-10-01", "2026-10-03")
    assert len(pd.read_parquet(tmp_path / "scores" / "2026-10-03.parquet")) == 3


def test_rows_outside_the_run_s_days_are_refused(tmp_path):
    manager = PartitionedParquetIOManager(base_dir=str(tmp_path))
    with pytest.raises(ValueError, match="outside the partitions"):
        write(manager, frame(), "2026-10-01", "2026-10-02")
    missing_day = frame().assign(as_of_date=pd.NaT)
    with pytest.raises(ValueError, match="outside the partitions"):
        write(manager, missing_day, "2026-10-01", "2026-10-03")


def test_rows_in_day_order_are_stored_as_rows_in_any_order_are(tmp_path):
    rows = frame()
    in_order = rows.sort_values("as_of_date", kind="stable", ignore_index=True)
    for name, data in (("any_order", rows), ("day_order", in_order)):
        write(PartitionedParquetIOManager(base_dir=str(tmp_path / name)), data,
              "2026-10-01", "2026-10-03")
    for day in ["2026-10-01", "2026-10-02", "2026-10-03"]:
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "day_order" / "scores" / f"{day}.parquet"),
            pd.read_parquet(tmp_path / "any_order" / "scores" / f"{day}.parquet"))


def test_days_stored_by_separate_runs_load_together_whatever_their_empty_columns(tmp_path):
    from dagster import build_input_context

    manager = PartitionedParquetIOManager(base_dir=str(tmp_path))
    empty_day = pd.DataFrame({"as_of_date": pd.to_datetime([]), "reason": pd.Series(
        [], dtype=object)})
    full_day = pd.DataFrame({"as_of_date": pd.to_datetime(["2026-10-02"]),
                             "reason": ["duplicate event_id"]})
    write(manager, empty_day, "2026-10-01", "2026-10-01")  # a text column with no values
    write(manager, full_day, "2026-10-02", "2026-10-02")
    context = build_input_context(asset_key="scores", asset_partitions_def=DAYS,
                                  asset_partition_key_range=PartitionKeyRange("2026-10-01",
                                                                              "2026-10-02"))
    loaded = manager.load_input(context)
    assert loaded["reason"].tolist() == ["duplicate event_id"]


def test_an_input_may_ask_for_only_some_columns(tmp_path):
    from dagster import build_input_context

    manager = PartitionedParquetIOManager(base_dir=str(tmp_path))
    write(manager, frame(), "2026-10-01", "2026-10-03")
    context = build_input_context(
        asset_key="scores", asset_partitions_def=DAYS,
        definition_metadata={"columns": ["account_id", "risk"]},
        asset_partition_key_range=PartitionKeyRange("2026-10-01", "2026-10-03"))
    loaded = manager.load_input(context)
    assert list(loaded.columns) == ["account_id", "risk"] and len(loaded) == 4


def test_steps_that_read_files_find_what_the_io_manager_wrote(tmp_path):
    from pipelines.definitions import build_resources
    from tests.conftest import make_settings

    resources = build_resources(make_settings(tmp_path / "data", tmp_path / "out"))
    manager, storage = resources["io_manager"], resources["storage"]
    write(manager, frame(), "2026-10-01", "2026-10-03")
    assert storage.stored_days("scores") == ["2026-10-01", "2026-10-02", "2026-10-03"]
    assert storage.stored_partition("scores", "2026-10-01")["account_id"].tolist() == ["a"]
    assert storage.stored_partition("scores", "2026-10-04") is None
    assert storage.partition_dir("scores").parent == tmp_path / "out" / "assets"
