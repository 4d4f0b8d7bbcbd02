"""The export inventory and the events' helpers, without Dagster."""

import pandas as pd

from features.contract import ContractMapping
from features.event_ingestion import days_without_events, parent_account_ids
from features.source_inventory import count_rows, file_digest, inventory_row


def test_rows_of_csv_parquet_and_day_files_and_a_broken_day_file_is_left_out(tmp_path):
    (tmp_path / "a.csv").write_text("x,y\n1,2\n3,4\n")
    pd.DataFrame({"x": range(5)}).to_parquet(tmp_path / "b.parquet")
    days = tmp_path / "events"
    days.mkdir()
    pd.DataFrame({"x": range(3)}).to_parquet(days / "2026-01-01.parquet")
    (days / "2026-01-02.parquet").write_bytes(b"not parquet")
    assert count_rows(tmp_path / "a.csv") == 2
    assert count_rows(tmp_path / "b.parquet") == 5
    assert count_rows(days) == 3


def test_a_directory_digest_follows_its_listing_not_its_content(tmp_path):
    days = tmp_path / "events"
    days.mkdir()
    (days / "2026-01-01.parquet").write_bytes(b"abc")
    before = file_digest(days)
    (days / "2026-01-01.parquet").write_bytes(b"xyz")  # same name and size
    assert file_digest(days) == before
    (days / "2026-01-02.parquet").write_bytes(b"a")
    assert file_digest(days) != before
    (tmp_path / "f.csv").write_bytes(b"abc")
    assert file_digest(tmp_path / "f.csv") != file_digest(days)


def test_an_absent_table_is_a_row_of_zeros():
    assert inventory_row("invoices", False, None) == {
        "table": "invoices", "required": False, "present": False, "file": None, "rows": 0,
        "bytes": 0, "sha256": None}


def test_days_without_events_are_named():
    days = pd.date_range("2026-01-01", "2026-01-03", tz="UTC")
    assert days_without_events(days, {days[1]}) == ["2026-01-01", "2026-01-03"]


def test_parent_ids_come_from_the_first_table_present(tmp_path):
    (tmp_path / "subscriptions.csv").write_text(
        "subscription_id,account_id,plan,mrr,seats,start_date,end_date,billing_period\n"
        "s1,a1,basic,10,1,2026-01-01,,monthly\n")
    files = {"subscriptions": tmp_path / "subscriptions.csv"}
    ids = parent_account_ids(files.get, ContractMapping())
    assert list(ids) == ["a1"]
    assert parent_account_ids({}.get, ContractMapping()) is None
