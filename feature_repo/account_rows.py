"""The embedded online store: Feast's SQLite store with one row per account instead of one
row per account and feature.

Feast's own SQLite store keeps a row per (entity, feature) holding a serialised ``Value``:
at 10^5 accounts × 95 features a day's write is 1.3·10^7 rows, and its cost grows with
every feature added. Here a feature view is one table with a column per feature, holding
the plain value (REAL, INTEGER or TEXT, NULL when missing), keyed by Feast's serialised
entity key, with the row's event and created times (epoch seconds, UTC). Feast reads and
writes it through the ``OnlineStore`` interface, so ``get_online_features``,
``write_to_online_store``, ``feast materialize`` and ``feast ui`` work on it as on any
store; ``write_rows`` writes a day of snapshot rows in bulk.

Selected in feature_store.yaml by ``type: feature_repo.account_rows.AccountRowsOnlineStore``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from feast import Entity, FeatureView
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import compute_table_id
from feast.infra.online_stores.online_store import OnlineStore
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import FeastConfigBaseModel, RepoConfig
from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values
from feast.types import Float64, Int64, String
from pydantic import StrictStr

#: SQLite's type of each Feast type the feature views use.
SQL_TYPES = {Float64: "REAL", Int64: "INTEGER", String: "TEXT"}


class AccountRowsOnlineStoreConfig(FeastConfigBaseModel):
    """``online_store`` of feature_store.yaml for ``AccountRowsOnlineStore``."""

    type: Literal["feature_repo.account_rows.AccountRowsOnlineStore"] = (
        "feature_repo.account_rows.AccountRowsOnlineStore")
    path: StrictStr = "online_store.db"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_name(config: RepoConfig, view: FeatureView) -> str:
    """The view's table (Feast's own naming: ``<project>_<view>``)."""
    return compute_table_id(config.project, view,
                            config.registry.enable_online_feature_view_versioning)


def _epoch(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # Feast's convention: naive means UTC
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def connect(config: RepoConfig) -> sqlite3.Connection:
    """The store's SQLite file (a relative path is under the repository)."""
    path = Path(config.online_store.path)
    if not path.is_absolute():
        path = Path(config.repo_path or ".") / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return sqlite3.connect(path)


class AccountRowsOnlineStore(OnlineStore):
    """A row per entity, a column per feature, in one SQLite file (see the module notes)."""

    def online_write_batch(
        self, config: RepoConfig, table: FeatureView,
        data: list[tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]],
        progress: Callable[[int], Any] | None,
    ) -> None:
        """Upsert Feast's rows (entity key, ``Value`` per feature, event and created time)."""
        names = [feature.name for feature in table.features]
        rows = [(serialize_entity_key(key, config.entity_key_serialization_version),
                 _epoch(event_ts), _epoch(created_ts),
                 *(feast_value_type_to_python_type(values[n]) if n in values else None
                   for n in names))
                for key, values, event_ts, created_ts in data]
        with connect(config) as connection:
            _upsert(connection, table_name(config, table), names, rows)
        connection.close()
        if progress:
            progress(len(data))

    def online_read(
        self, config: RepoConfig, table: FeatureView, entity_keys: list[EntityKeyProto],
        requested_features: list[str] | None = None,
    ) -> list[tuple[datetime | None, dict[str, ValueProto] | None]]:
        """Each key's event time and requested features (``(None, None)`` when absent)."""
        features = {f.name: f.dtype for f in table.features}
        names = [n for n in (requested_features or features) if n in features]
        keys = [serialize_entity_key(key, config.entity_key_serialization_version)
                for key in entity_keys]
        found: dict[bytes, tuple] = {}
        with connect(config) as connection:
            # SQLite binds at most 32,766 values per statement
            for start in range(0, len(keys), 30_000):
                chunk = keys[start:start + 30_000]
                found.update((row[0], row[1:]) for row in connection.execute(
                    f"SELECT entity_key, event_ts, {', '.join(map(_quote, names)) or 'NULL'} "
                    f"FROM {_quote(table_name(config, table))} "
                    f"WHERE entity_key IN ({', '.join('?' * len(chunk))})", chunk))
        connection.close()
        rows = [found.get(key) for key in keys]
        present = [row for row in rows if row is not None]
        protos = {name: iter(python_values_to_proto_values(
            [row[1 + i] for row in present], features[name].to_value_type()))
            for i, name in enumerate(names)}
        result = []
        for row in rows:
            if row is None:
                result.append((None, None))
                continue
            stamp = datetime.fromtimestamp(row[0], tz=UTC)
            result.append((stamp, {name: next(protos[name]) for name in names}))
        return result

    def update(self, config: RepoConfig, tables_to_delete: Sequence[FeatureView],
               tables_to_keep: Sequence[FeatureView], entities_to_delete: Sequence[Entity],
               entities_to_keep: Sequence[Entity], partial: bool) -> None:
        """Create each kept view's table (re-made if it has Feast's own SQLite layout), add
        columns for new features, drop deleted views' tables."""
        with connect(config) as connection:
            for view in tables_to_keep:
                name = table_name(config, view)
                existing = {row[1] for row in connection.execute(
                    f"PRAGMA table_info({_quote(name)})")}
                if "feature_name" in existing:  # Feast's own SQLite layout: re-made
                    connection.execute(f"DROP TABLE {_quote(name)}")
                columns = ", ".join(f"{_quote(f.name)} {SQL_TYPES.get(f.dtype, 'BLOB')}"
                                    for f in view.features)
                connection.execute(
                    f"CREATE TABLE IF NOT EXISTS {_quote(name)} (entity_key BLOB PRIMARY KEY, "
                    f"event_ts INTEGER, created_ts INTEGER{', ' if columns else ''}{columns})")
                existing = {row[1] for row in connection.execute(
                    f"PRAGMA table_info({_quote(name)})")}
                for feature in view.features:
                    if feature.name not in existing:
                        connection.execute(
                            f"ALTER TABLE {_quote(name)} ADD COLUMN {_quote(feature.name)} "
                            f"{SQL_TYPES.get(feature.dtype, 'BLOB')}")
            for view in tables_to_delete:
                connection.execute(f"DROP TABLE IF EXISTS {_quote(table_name(config, view))}")
        connection.close()

    def teardown(self, config: RepoConfig, tables: Sequence[FeatureView],
                 entities: Sequence[Entity]) -> None:
        """Drop the views' tables."""
        self.update(config, tables, [], entities, [], partial=True)


def _upsert(connection: sqlite3.Connection, table: str, names: list[str],
            rows: list[tuple]) -> None:
    """Insert or replace whole rows: (entity key, event time, created time, *features)."""
    columns = ", ".join(["entity_key", "event_ts", "created_ts", *map(_quote, names)])
    connection.executemany(
        f"INSERT OR REPLACE INTO {_quote(table)} ({columns}) "
        f"VALUES ({', '.join('?' * (3 + len(names)))})", rows)


def _plain(column: pd.Series, dtype) -> list:
    """A column's values as SQLite takes them: float, int or str, None when missing."""
    missing = column.isna().to_numpy()
    if dtype == Float64:
        values = column.to_numpy(dtype=float, na_value=np.nan).astype(object)
    elif dtype == Int64:
        values = column.astype("Int64").to_numpy(dtype=np.int64, na_value=0).astype(object)
    else:
        values = column.astype(object).to_numpy()
        values = np.array([str(v) for v in values], dtype=object) if len(values) else values
    values[missing] = None
    return values.tolist()


def write_rows(store_config: RepoConfig, views: list[FeatureView], rows: pd.DataFrame,
               keys: list[bytes], event_ts: list[int]) -> int:
    """Upsert ``rows`` (one per account, in ``keys``' order, with every view's feature
    columns) into each view's table; returns the values written."""
    written = 0
    with connect(store_config) as connection:
        for view in views:
            names = [feature.name for feature in view.features]
            columns = [_plain(rows[f.name], f.dtype) for f in view.features]
            _upsert(connection, table_name(store_config, view), names,
                    list(zip(keys, event_ts, [None] * len(keys), *columns, strict=True)))
            written += len(keys) * len(names)
    connection.close()
    return written
