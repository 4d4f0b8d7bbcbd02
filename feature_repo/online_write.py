"""Write one day of feature rows to the online store: in bulk for SQLite, through Feast otherwise.

Feast's own online write converts and upserts one feature value at a time in Python (about
15 µs each: a minute and more for 200k accounts × 33 features). For the embedded SQLite
store this module writes the same rows Feast would — the same entity-key bytes, serialised
``Value`` protos, ``value_text`` and epoch timestamps — in bulk. Values are encoded once per
distinct value (counts, categories) or with ``struct`` (doubles), and every column's encoding
is checked against Feast's own converter on its first values, so a change in Feast's format
fails loudly instead of writing rows Feast cannot read.

Python's sqlite3 pays about 6 µs per bound row, whatever its width, so the rows go in one
per account (every feature's value and text side by side, in a temporary table) and SQLite
itself turns them into Feast's one row per account and feature, in one upsert.
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
import struct
from collections.abc import Callable

import numpy as np
import pandas as pd
from feast import FeatureStore, FeatureView
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import compute_table_id
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.type_map import python_values_to_proto_values
from feast.types import Float64, Int64, String
from feast.utils import to_naive_utc

#: ``Value.double_val`` (field 5, 64-bit wire type) as protobuf's wire format writes it.
_DOUBLE_TAG = bytes([5 << 3 | 1])
_PACK_DOUBLE = struct.Struct("<d").pack


def uses_spark_materialisation(store: FeatureStore) -> bool:
    """Whether the store's feature_store.yaml selects Feast's Spark batch engine."""
    return getattr(store.config.batch_engine, "type", None) == "spark.engine"


def materialize_day(store: FeatureStore, rows: pd.DataFrame) -> int:
    """Write the day of ``rows`` (one snapshot day file, all stamped alike) to the online
    store with Feast's materialisation (on Spark with its Spark batch engine): the offline
    store's rows at exactly that timestamp, so no earlier day's account is written again.
    Returns the values written."""
    if not len(rows):
        return 0
    stamp = pd.Timestamp(pd.to_datetime(rows["event_timestamp"], utc=True).max())
    with contextlib.redirect_stdout(io.StringIO()):  # Feast prints a progress line per view
        store.materialize(start_date=stamp.to_pydatetime(),
                          end_date=(stamp + pd.Timedelta(seconds=1)).to_pydatetime())
    return len(rows) * sum(len(view.features) for view in store.list_feature_views())


def write_online(store: FeatureStore, rows: pd.DataFrame) -> int:
    """Write ``rows`` (``account_id``, ``event_timestamp`` and feature columns, one row per
    account) to every feature view of the store's online store; returns values written."""
    views = store.list_feature_views()
    online = store.config.online_store
    bulk = (online.type == "sqlite" and not getattr(online, "vector_enabled", False)
            and not getattr(online, "enable_openai_compatible_store", False))
    if not bulk:
        for view in views:
            columns = ["account_id", "event_timestamp", *(f.name for f in view.features)]
            store.write_to_online_store(view.name, rows[columns])
        return len(rows) * sum(len(view.features) for view in views)
    keys = entity_keys(rows["account_id"], store.config.entity_key_serialization_version)
    # in primary-key order, so the B-tree is walked once instead of at random
    key_order = sorted(range(len(keys)), key=keys.__getitem__)
    rows = rows.iloc[key_order]
    keys = [keys[i] for i in key_order]
    event_ts = _epoch_seconds(rows["event_timestamp"])
    written = 0
    with sqlite3.connect(online.path) as connection:
        connection.execute("PRAGMA cache_size = -262144")  # 256 MiB: the index stays in memory
        for view in views:
            written += _write_view(connection, store, view, rows, keys, event_ts)
    connection.close()
    return written


def entity_keys(account_ids: pd.Series, serialization_version: int) -> list[bytes]:
    """Feast's serialised entity keys of single string join-key ``account_id`` rows."""

    def feast_key(account_id: str) -> bytes:
        return serialize_entity_key(
            EntityKeyProto(join_keys=["account_id"],
                           entity_values=[ValueProto(string_val=account_id)]),
            entity_key_serialization_version=serialization_version)

    # The key is a fixed prefix, the value's byte length and the value (version 3 layout).
    empty = feast_key("")
    prefix = empty[:-4]
    pack_length = struct.Struct("<I").pack
    encoded = [a.encode() for a in account_ids.astype(str)]
    keys = [prefix + pack_length(len(a)) + a for a in encoded]
    if keys and keys[0] != feast_key(account_ids.iloc[0]):
        raise RuntimeError("Feast's entity-key format changed; the bulk online write needs "
                           "updating (feature_repo/online_write.py)")
    return keys


def _write_view(connection: sqlite3.Connection, store: FeatureStore, view: FeatureView,
                rows: pd.DataFrame, keys: list[bytes], event_ts: list[int]) -> int:
    """Upsert one view's features of ``rows`` (in ``keys`` order) into its table."""
    table = compute_table_id(store.config.project, view,
                             store.config.registry.enable_online_feature_view_versioning)
    names = sorted(feature.name for feature in view.features)
    if not names or not keys:
        return 0
    dtypes = {feature.name: feature.dtype for feature in view.features}
    encoded = [_encode(rows[name], dtypes[name]) for name in names]
    slots = ", ".join(f"value_{i} BLOB, text_{i} TEXT" for i in range(len(names)))
    connection.execute("CREATE TEMP TABLE online_staging "
                       f"(entity_key BLOB, event_ts INTEGER, {slots})")
    connection.executemany(
        f"INSERT INTO online_staging VALUES ({', '.join('?' * (2 + 2 * len(names)))})",
        zip(keys, event_ts, *(column for pair in encoded for column in pair), strict=True))
    connection.execute("CREATE TEMP TABLE online_feature_names "
                       "(position INTEGER PRIMARY KEY, feature_name TEXT)")
    connection.executemany("INSERT INTO online_feature_names VALUES (?, ?)", enumerate(names))

    def pick(column: str) -> str:
        return ("CASE n.position " + " ".join(
            f"WHEN {i} THEN s.{column}_{i}" for i in range(len(names))) + " END")

    # CROSS JOIN keeps staging (key order) outside and names (sorted) inside: Feast's
    # primary-key order, with no sort; WHERE true lets SQLite parse the upsert clause
    connection.execute(
        f'INSERT INTO "{table}" (entity_key, feature_name, value, value_text, event_ts, '
        f"created_ts) SELECT s.entity_key, n.feature_name, {pick('value')}, {pick('text')}, "
        "s.event_ts, NULL FROM online_staging s CROSS JOIN online_feature_names n WHERE true "
        "ON CONFLICT(entity_key, feature_name) DO UPDATE SET value = excluded.value, "
        "value_text = excluded.value_text, event_ts = excluded.event_ts, "
        "created_ts = excluded.created_ts")
    connection.execute("DROP TABLE online_staging")
    connection.execute("DROP TABLE online_feature_names")
    return len(keys) * len(names)


def _encode(column: pd.Series, dtype) -> tuple[list[bytes], list[str | None]]:
    """Serialised ``Value`` protos and ``value_text`` of a column, as Feast writes them
    (a missing value is an empty ``Value`` with no text)."""
    missing = column.isna().to_numpy()
    if dtype == Float64:
        numbers = column.to_numpy(dtype=float, na_value=np.nan).tolist()
        values = [b"" if gone else _DOUBLE_TAG + _PACK_DOUBLE(v)
                  for v, gone in zip(numbers, missing, strict=True)]
        texts = [None if gone else str(v) for v, gone in zip(numbers, missing, strict=True)]
    elif dtype in (Int64, String):
        convert: Callable = int if dtype == Int64 else str
        present = column[~missing]
        distinct, position = np.unique(present.map(convert).to_numpy(dtype=object),
                                       return_inverse=True)
        encoded = [v.SerializeToString() for v in
                   python_values_to_proto_values(list(distinct), dtype.to_value_type())]
        shown = [str(v) for v in distinct]
        values, texts = [b""] * len(column), [None] * len(column)
        for slot, index in zip(np.flatnonzero(~missing).tolist(), position.tolist(),
                               strict=True):
            values[slot], texts[slot] = encoded[index], shown[index]
    else:
        raise TypeError(f"no bulk online encoding for {dtype}; use Feast's write")
    _check_against_feast(column, dtype, values, texts)
    return values, texts


def _check_against_feast(column: pd.Series, dtype, values: list[bytes],
                         texts: list[str | None]) -> None:
    sample = column.iloc[:3].tolist()
    expected = python_values_to_proto_values(
        [None if pd.isna(v) else v for v in sample], dtype.to_value_type())
    for i, proto in enumerate(expected):
        kind = proto.WhichOneof("val")
        text = None if kind is None else (proto.string_val if kind == "string_val"
                                          else str(getattr(proto, kind)))
        if (proto.SerializeToString(), text) != (values[i], texts[i]):
            raise RuntimeError(f"bulk online encoding of {column.name} differs from Feast's "
                               f"({values[i]!r} against {proto.SerializeToString()!r})")


def _epoch_seconds(timestamps: pd.Series) -> list[int]:
    """Event timestamps as Feast's SQLite adapter stores them (``int(naive_utc.timestamp())``,
    which reads the naive time in the machine's zone: converted the same way, they read back
    the same way). Converted once per distinct time: a day's rows share one."""
    position, distinct = pd.factorize(pd.to_datetime(timestamps, utc=True))
    seconds = [int(to_naive_utc(t.to_pydatetime()).timestamp()) for t in distinct]
    return [seconds[i] for i in position.tolist()]
