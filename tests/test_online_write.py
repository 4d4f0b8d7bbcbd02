"""The bulk SQLite online write stores exactly what Feast's own online write stores."""

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feature_repo.definitions import CHURN_FEATURE_SERVICE, FEATURE_VIEW
from feature_repo.online_write import entity_keys, write_online
from feature_repo.store import apply_definitions, open_store
from features.snapshot import FEATURE_GROUPS

GROUPS = list(FEATURE_GROUPS)


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
        return {(table, *row) for table in tables for row in connection.execute(
            f'SELECT entity_key, feature_name, value, value_text, event_ts, created_ts '
            f'FROM "{table}"')}


def store_with_views(output_dir: Path, rows: pd.DataFrame):
    snapshot_dir = output_dir / "snapshot"
    snapshot_dir.mkdir(parents=True)
    rows.to_parquet(snapshot_dir / "2026-10-31.parquet", index=False)
    store = open_store(output_dir)
    apply_definitions(store, str(snapshot_dir / "*.parquet"), GROUPS)
    return store


@pytest.fixture
def both(tmp_path):
    rows = day_rows()
    by_feast = store_with_views(tmp_path / "feast_write", rows)
    for view in by_feast.list_feature_views():
        columns = ["account_id", "event_timestamp", *(f.name for f in view.features)]
        by_feast.write_to_online_store(view.name, rows[columns])
    bulk = store_with_views(tmp_path / "bulk_write", rows)
    written = write_online(bulk, rows)
    return rows, tmp_path, bulk, written


def test_bulk_write_stores_the_same_rows_as_feast(both):
    rows, tmp_path, _, written = both
    feast_rows = stored(tmp_path / "feast_write")
    assert len(feast_rows) == written == len(rows) * sum(len(g) for g in FEATURE_GROUPS.values())
    assert stored(tmp_path / "bulk_write") == feast_rows


def test_feast_reads_the_bulk_write_back(both):
    rows, _, bulk, _ = both
    online = bulk.get_online_features(
        features=bulk.get_feature_service(CHURN_FEATURE_SERVICE),
        entity_rows=[{"account_id": a} for a in rows["account_id"]]).to_df()
    online = online.set_index("account_id").loc[rows["account_id"]]
    for name in ("mrr", "plan", "active_users_30d", "usage_velocity_30d"):
        pd.testing.assert_series_equal(
            online[name].reset_index(drop=True), rows[name].reset_index(drop=True),
            check_dtype=False, check_names=False)


def test_a_second_write_replaces_the_first(both):
    rows, tmp_path, bulk, _ = both
    changed = rows.assign(mrr=rows["mrr"] + 1.0,
                          event_timestamp=pd.Timestamp("2026-11-02", tz="UTC"))
    write_online(bulk, changed)
    again = stored(tmp_path / "bulk_write")
    assert len(again) == len(stored(tmp_path / "feast_write"))
    online = bulk.get_online_features(features=[f"{FEATURE_VIEW}:mrr"],
                                      entity_rows=[{"account_id": "acc_000000"}]).to_dict()
    assert online["mrr"] == [changed.loc[0, "mrr"]]


def test_a_write_of_some_accounts_leaves_the_others_as_they_were(both):
    rows, tmp_path, bulk, _ = both
    before = stored(tmp_path / "bulk_write")
    later = rows.iloc[[4, 1]].assign(mrr=-5.0,
                                     event_timestamp=pd.Timestamp("2026-11-02", tz="UTC"))
    write_online(bulk, later)
    after = stored(tmp_path / "bulk_write")
    rewritten = set(entity_keys(later["account_id"],
                                bulk.config.entity_key_serialization_version))
    # every row of the two accounts is new (a new time), no other row changed
    assert len(after) == len(before)
    assert {row[1] for row in after - before} == rewritten
    assert len(after - before) == 2 * sum(len(g) for g in FEATURE_GROUPS.values())
    assert before - after == {row for row in before if row[1] in rewritten}
    online = bulk.get_online_features(
        features=[f"{FEATURE_VIEW}:mrr"],
        entity_rows=[{"account_id": a} for a in rows["account_id"]]).to_dict()
    expected = rows["mrr"].where(~rows.index.isin([1, 4]), -5.0)
    pd.testing.assert_series_equal(pd.Series(online["mrr"], dtype=float), expected,
                                   check_names=False)
