"""The embedded online store (a row per account) serves what Feast's own SQLite store
serves, whether written in bulk or through Feast."""

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feature_repo.definitions import CHURN_FEATURE_SERVICE, FEATURE_VIEW
from feature_repo.online_write import write_online
from feature_repo.store import LOCAL_CONFIG, apply_definitions, open_store
from features.snapshot import FEATURE_GROUPS

GROUPS = list(FEATURE_GROUPS)
FEATURES = sum(len(g) for g in FEATURE_GROUPS.values())


def day_rows(n: int = 7) -> pd.DataFrame:
    """One day's snapshot rows with every feature kind, missing values of each kind included."""
    rng = np.random.default_rng(3)
    rows = pd.DataFrame({
        "account_id": [f"acc_{i:06d}" for i in range(n)],
        "as_of_date": pd.Timestamp("2026-10-31"),
        "event_timestamp": pd.Timestamp("2026-11-01", tz="UTC"),
    })
    for group in FEATURE_GROUPS.values():
        for name, kind in group.items():
            if kind == "int":
                rows[name] = pd.array(rng.integers(-2, 40, n), dtype="Int64")
                rows.loc[n - 1, name] = pd.NA
            elif kind == "float":
                rows[name] = rng.normal(0, 100, n)
                rows.loc[n - 2, name] = np.nan
                rows.loc[0, name] = 0.0
            else:
                rows[name] = [f"{name}_{i % 3}" for i in range(n)]
                rows.loc[n - 3, name] = None
    return rows


def stored(output_dir: Path) -> set[tuple]:
    with sqlite3.connect(output_dir / "feast" / "online_store.db") as connection:
        tables = [name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {(table, *row) for table in tables
                for row in connection.execute(f'SELECT * FROM "{table}"')}


def store_with_views(output_dir: Path, rows: pd.DataFrame, config_file: Path = LOCAL_CONFIG):
    snapshot_dir = output_dir / "snapshot"
    snapshot_dir.mkdir(parents=True)
    rows.to_parquet(snapshot_dir / "2026-10-31.parquet", index=False)
    store = open_store(output_dir, config_file)
    apply_definitions(store, str(snapshot_dir / "*.parquet"), GROUPS)
    return store


def feast_write(store, rows: pd.DataFrame) -> None:
    for view in store.list_feature_views():
        columns = ["account_id", "event_timestamp", *(f.name for f in view.features)]
        store.write_to_online_store(view.name, rows[columns])


def served(store, account_ids) -> pd.DataFrame:
    return store.get_online_features(
        features=store.get_feature_service(CHURN_FEATURE_SERVICE),
        entity_rows=[{"account_id": a} for a in account_ids],
    ).to_df(include_event_timestamps=True)


@pytest.fixture
def stores(tmp_path):
    """The same rows in Feast's own SQLite store (Feast's write), in the embedded store by
    Feast's write, and in the embedded store by the bulk write."""
    rows = day_rows()
    feast_config = tmp_path / "feature_store.yaml"
    feast_config.write_text(LOCAL_CONFIG.read_text().replace(
        "type: feature_repo.account_rows.AccountRowsOnlineStore", "type: sqlite"))
    by_feast_sqlite = store_with_views(tmp_path / "feast_sqlite", rows, feast_config)
    feast_write(by_feast_sqlite, rows)
    by_feast = store_with_views(tmp_path / "feast_write", rows)
    feast_write(by_feast, rows)
    bulk = store_with_views(tmp_path / "bulk_write", rows)
    written = write_online(bulk, rows)
    return rows, tmp_path, {"feast_sqlite": by_feast_sqlite, "feast_write": by_feast,
                            "bulk_write": bulk}, written


def test_the_embedded_store_serves_what_feasts_own_sqlite_store_serves(stores):
    rows, _, by, written = stores
    assert written == len(rows) * FEATURES
    asked = [*rows["account_id"], "acc_missing"]
    reference = served(by["feast_sqlite"], asked)
    assert reference["mrr"].notna().sum() == len(rows) - 1  # the test row with no mrr
    for name in ("feast_write", "bulk_write"):
        pd.testing.assert_frame_equal(served(by[name], asked), reference, obj=name)


def test_the_bulk_write_stores_what_feasts_write_stores(stores):
    _, tmp_path, _, _ = stores
    bulk = stored(tmp_path / "bulk_write")
    assert len(bulk) == 7  # a row per account
    assert bulk == stored(tmp_path / "feast_write")


def test_a_second_write_replaces_the_first(stores):
    rows, tmp_path, by, _ = stores
    changed = rows.assign(mrr=rows["mrr"] + 1.0,
                          event_timestamp=pd.Timestamp("2026-11-02", tz="UTC"))
    write_online(by["bulk_write"], changed)
    assert len(stored(tmp_path / "bulk_write")) == len(rows)
    online = served(by["bulk_write"], ["acc_000000"])
    assert online["mrr"].tolist() == [changed.loc[0, "mrr"]]
    assert online["mrr__ts"].tolist() == [
        pd.Timestamp("2026-11-02", tz="UTC").timestamp()]


def test_a_write_of_some_accounts_leaves_the_others_as_they_were(stores):
    rows, tmp_path, by, _ = stores
    before = stored(tmp_path / "bulk_write")
    later = rows.iloc[[4, 1]].assign(mrr=-5.0,
                                     event_timestamp=pd.Timestamp("2026-11-02", tz="UTC"))
    write_online(by["bulk_write"], later)
    after = stored(tmp_path / "bulk_write")
    assert len(after) == len(before) and len(after - before) == 2
    online = served(by["bulk_write"], rows["account_id"])
    expected = rows["mrr"].where(~rows.index.isin([1, 4]), -5.0)
    pd.testing.assert_series_equal(online["mrr"], expected, check_names=False)


def test_a_table_in_feasts_own_layout_is_remade_on_apply(tmp_path):
    rows = day_rows()
    output = tmp_path / "out"
    (output / "feast").mkdir(parents=True)
    with sqlite3.connect(output / "feast" / "online_store.db") as connection:
        connection.execute(  # what Feast's own SQLite store created
            f'CREATE TABLE "account_health_{FEATURE_VIEW}" (entity_key BLOB, feature_name TEXT, '
            "value BLOB, value_text TEXT, vector_value BLOB, event_ts timestamp, created_ts "
            "timestamp, PRIMARY KEY(entity_key, feature_name))")
    connection.close()
    store = store_with_views(output, rows)
    write_online(store, rows)
    assert served(store, ["acc_000002"])["mrr"].tolist() == [rows.loc[2, "mrr"]]
