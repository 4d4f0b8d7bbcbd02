"""Demo data generated in account chunks: one file per day, valid, deterministic, and the
same usage whether events are exported one by one or as daily per-user aggregates."""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from account_health.demo_stream import generate_streamed
from features.contract import ContractMapping, EventTaxonomy, day_files, read_table
from features.row_checks import check_table, export_account_ids
from features.usage_rollup import roll_up
from tests.conftest import NOW, TINY

STREAMED = replace(TINY, accounts=50, months=3)
CHUNK = 20  # three chunks: 20, 20 and 10 accounts


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    """The same population twice: all events at event grain, and mostly aggregated."""
    grain = tmp_path_factory.mktemp("grain")
    mixed = tmp_path_factory.mktemp("mixed")
    counts = {
        "grain": generate_streamed(grain, replace(STREAMED, dirty_fraction=0.0),
                                   chunk_accounts=CHUNK, processes=1),
        "mixed": generate_streamed(mixed, replace(STREAMED, dirty_fraction=0.0),
                                   chunk_accounts=CHUNK, event_grain_fraction=0.3,
                                   processes=1),
    }
    return {"grain": grain, "mixed": mixed, "counts": counts}


def test_chunks_are_distinct_accounts_with_distinct_record_ids(streamed):
    data = streamed["grain"]
    accounts = pd.read_csv(data / "accounts.csv")
    assert len(accounts) == STREAMED.accounts == accounts["account_id"].nunique()
    for table, key in [("subscriptions", "subscription_id"), ("invoices", "invoice_id"),
                       ("support_tickets", "ticket_id")]:
        frame = pd.read_csv(data / f"{table}.csv")
        assert frame[key].is_unique, table
        assert set(frame["account_id"]) <= set(accounts["account_id"]), table
    events = pd.read_parquet(data / "events")
    assert events["event_id"].is_unique
    # every chunk contributes accounts with events
    assert events["account_id"].str[4:].astype(int).floordiv(CHUNK).nunique() == 3


def test_one_file_per_day_and_every_row_on_its_day(streamed):
    files = day_files(streamed["grain"] / "events")
    assert len(files) == len(set(files))
    for day, path in list(files.items())[:: max(1, len(files) // 10)]:
        rows = pd.read_parquet(path)
        assert (rows["event_time"].dt.floor("D") == day.tz_localize("UTC")).all(), day


def test_clean_streamed_data_passes_the_contract(streamed):
    data = streamed["mixed"]
    validated = {}
    for table in ("accounts", "subscriptions"):
        frame = read_table(data / f"{table}.csv", table, ContractMapping())
        result = check_table(table, frame, source_file=table, now=pd.Timestamp(NOW, tz="UTC"))
        assert result.quarantine.empty, (table, result.quarantine["reason"].head().tolist())
        validated[table] = result.accepted
    known = export_account_ids(validated["accounts"])
    for day, path in list(day_files(data / "events").items())[-5:]:
        frame = read_table(path, "events", ContractMapping())
        result = check_table("events", frame, source_file=path.name,
                                now=pd.Timestamp(NOW, tz="UTC"), known_accounts=known)
        assert result.quarantine.empty, (day, result.quarantine["reason"].head().tolist())


def test_aggregated_exports_carry_the_same_usage(streamed):
    grain = pd.read_parquet(streamed["grain"] / "events")
    mixed = pd.read_parquet(streamed["mixed"] / "events")
    assert "event_count" in mixed and mixed["event_count"].notna().any()
    assert mixed["event_count"].isna().any()  # the event-grain share stays as it was
    assert len(mixed) < len(grain)
    assert mixed["event_count"].fillna(1).sum() == len(grain)
    accounts = pd.Index(sorted(grain["account_id"].unique()))
    first = grain["event_time"].min().tz_localize(None).normalize()
    days = (grain["event_time"].max().tz_localize(None).normalize() - first).days + 1
    rolled = [roll_up(frame, accounts, first, days, EventTaxonomy()) for frame in (grain, mixed)]
    pd.testing.assert_frame_equal(*[rollup.account_days.as_frame()
                                    for rollup in rolled])
    # user keys hash the ids, so the same users give the same keys
    pd.testing.assert_frame_equal(*[
        pd.DataFrame(vars(rollup.user_days)).sort_values(
            ["day", "account", "days_since_previous"], ignore_index=True)
        for rollup in rolled])


def test_worker_processes_write_the_same_files(streamed, tmp_path):
    """The command line, with its two worker processes (in a process of its own, as users
    run it), writes what generating chunk by chunk in one process writes."""
    command = [sys.executable, "-m", "account_health.cli", "demo",
               "--accounts", str(STREAMED.accounts), "--months", str(STREAMED.months),
               "--seed", str(STREAMED.seed), "--end-date", f"{STREAMED.end_date}",
               "--dirty-fraction", "0", "--chunk-accounts", str(CHUNK), "--out", str(tmp_path)]
    subprocess.run(command, check=True, timeout=300, capture_output=True,
                   cwd=Path(__file__).resolve().parents[1])
    for name in ("subscriptions.csv", "invoices.csv"):
        assert (tmp_path / name).read_bytes() == (streamed["grain"] / name).read_bytes()
    day = sorted(day_files(tmp_path / "events"))[-1]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "events" / f"{day:%Y-%m-%d}.parquet"),
                                  pd.read_parquet(streamed["grain"] / "events"
                                                  / f"{day:%Y-%m-%d}.parquet"))


def test_dirty_rows_are_planted_in_every_chunk(tmp_path):
    generate_streamed(tmp_path, replace(STREAMED, dirty_fraction=0.01), chunk_accounts=CHUNK,
                      event_grain_fraction=0.5, processes=1)
    events = pd.read_parquet(tmp_path / "events")
    assert events["event_time"].isna().any()
    assert (events["account_id"] == "acc_unknown").any()
    subscriptions = pd.read_csv(tmp_path / "subscriptions.csv")
    # three malformed subscriptions per chunk
    assert subscriptions["subscription_id"].str.endswith("_bad").sum() == 3 * 3


def test_a_fraction_outside_zero_to_one_is_refused(tmp_path):
    with pytest.raises(ValueError, match="event_grain_fraction"):
        generate_streamed(tmp_path, STREAMED, event_grain_fraction=1.5)
