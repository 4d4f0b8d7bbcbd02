"""The local Dagster instance's event log: Dagster's SQLite storage, with a run's per-day
materialisation records written in one transaction per output.

A run over a range of days records one materialisation per asset and day. Dagster hands
them over as one batch per output when ``DAGSTER_EVENT_BATCH_SIZE`` is set
(``pipelines.run.RECORD_BATCH_SIZE``), but its SQLite storage still writes them one at a
time, each with its own connections and commits on the run's and the index's database:
about 10 ms a record, 20 s of the demo's 548-day feature run. This storage writes a batch
of asset events with one connection and one commit per database; the rows it writes are the
ones Dagster's ``store_event`` writes for each event.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqlEventLogStorageTable, SqliteEventLogStorage

#: dagster.yaml's ``event_log_storage`` entry for this storage.
MODULE, CLASS = __name__, "BatchedSqliteEventLogStorage"


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` whose ``store_event_batch`` writes a batch of one run's
    asset events in one transaction per database (other batches: Dagster's own path)."""

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> BatchedSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if not _one_run_of_asset_events(events):
            super().store_event_batch(events)
            return
        with self.run_connection(events[0].run_id) as connection:
            connection.execute(SqlEventLogStorageTable.insert(),
                               [self._event_to_row(event) for event in events])
        # the index database mirrors each event; its ids key the asset tables
        with self.index_transaction() as connection:
            event_ids = [connection.execute(self.prepare_insert_event(event))
                         .inserted_primary_key[0] for event in events]
            self._store_asset_event_tags(connection, events, event_ids)
            for event, event_id in zip(events, event_ids, strict=True):
                self._store_asset_event(connection, event, event_id)


def _one_run_of_asset_events(events: Sequence[EventLogEntry]) -> bool:
    return bool(events) and len({event.run_id for event in events}) == 1 and all(
        event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS
        and event.get_dagster_event().asset_key for event in events)


def instance_storage_config(home: Path) -> dict:
    """dagster.yaml's ``event_log_storage`` entry for a local instance in ``home``, where
    Dagster's default SQLite event log would be (the run and schedule storages keep their
    defaults)."""
    return {"event_log_storage": {"module": MODULE, "class": CLASS,
                                  "config": {"base_dir": str(home / "history" / "runs")}}}
