"""The local instance's event log writes a range run's per-day records in one transaction,
and what it records is what Dagster's own SQLite event log records."""

from __future__ import annotations

from dagster import (
    AssetKey,
    BackfillPolicy,
    DagsterInstance,
    DailyPartitionsDefinition,
    asset,
    materialize,
)

from account_health.run import prepare_dagster_home
from pipelines.event_log import BatchedSqliteEventLogStorage
from pipelines.run import PARTITION_RANGE_END, PARTITION_RANGE_START, plan_runs_by_range

DAYS = DailyPartitionsDefinition("2026-01-01")
DATA_VERSION = "dagster/data_version"


@asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
def day_files(context) -> None:
    context.add_output_metadata({"days": len(context.partition_keys)})


@asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run(), deps=[day_files])
def day_summaries() -> None:
    return None


def _range_run(instance: DagsterInstance) -> str:
    plan_runs_by_range()
    result = materialize([day_files, day_summaries], instance=instance,
                         tags={PARTITION_RANGE_START: "2026-01-01",
                               PARTITION_RANGE_END: "2026-02-09"})
    assert result.success
    return result.run_id


def _records(instance: DagsterInstance, run_id: str) -> dict:
    """What the UI reads about each asset: its days, their records in order, the latest one,
    the asset's last run and its indexed tags."""
    seen = {}
    for key in (AssetKey("day_files"), AssetKey("day_summaries")):
        records = instance.fetch_materializations(key, limit=1000).records
        entry = instance.get_asset_records([key])[0].asset_entry
        seen[key.to_user_string()] = {
            "partitions": sorted(instance.get_materialized_partitions(key)),
            "records": [(r.partition_key, r.run_id, dict(r.asset_materialization.metadata))
                        for r in records],
            "latest": instance.get_latest_materialization_event(key).dagster_event.partition,
            "last_run_is_this_run": entry.last_run_id == run_id,
            # each record's indexed tags, looked up by its id, and the tags it carries
            "indexed_tags": [[dict(t) for t in instance._event_storage.get_event_tags_for_asset(
                key, filter_event_id=r.storage_id)] for r in records],
            "event_tags": [[{DATA_VERSION: r.asset_materialization.tags[DATA_VERSION]}]
                           for r in records],
        }
    return seen


def test_a_range_run_records_the_same_days_as_dagsters_own_event_log(tmp_path, monkeypatch):
    batches = []
    store_batch = BatchedSqliteEventLogStorage.store_event_batch

    def counted(self, events):
        batches.append(len(events))
        store_batch(self, events)

    monkeypatch.setattr(BatchedSqliteEventLogStorage, "store_event_batch", counted)
    dagsters_home = tmp_path / "dagster"
    dagsters_home.mkdir()
    ours_home = tmp_path / "ours"
    prepare_dagster_home(ours_home)

    with DagsterInstance.from_config(str(dagsters_home)) as dagsters, \
            DagsterInstance.from_config(str(ours_home)) as ours:
        assert not isinstance(dagsters._event_storage, BatchedSqliteEventLogStorage)
        assert isinstance(ours._event_storage, BatchedSqliteEventLogStorage)
        expected = _records(dagsters, _range_run(dagsters))
        recorded = _records(ours, _range_run(ours))

    assert len(expected["day_files"]["partitions"]) == 40
    # run ids and data versions differ between the two runs: each instance's index must
    # hold its own events' tags
    for asset_name, seen in recorded.items():
        theirs = expected[asset_name]
        assert seen["partitions"] == theirs["partitions"]
        assert [r[0] for r in seen["records"]] == [r[0] for r in theirs["records"]]
        assert [r[2] for r in seen["records"]] == [r[2] for r in theirs["records"]]
        assert seen["latest"] == theirs["latest"] == "2026-02-09"
        assert seen["last_run_is_this_run"] and theirs["last_run_is_this_run"]
        assert seen["indexed_tags"] == seen["event_tags"]
        assert theirs["indexed_tags"] == theirs["event_tags"]
    assert batches.count(40) == 2  # each asset's 40 days went in as one batch

