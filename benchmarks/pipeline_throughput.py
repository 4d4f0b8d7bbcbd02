"""Throughput of the foundation's three heavy steps, at several account counts.

Prints rows/s for: ingestion (read + validate every contract table), feature computation
(daily snapshots over the whole history) and the point-in-time join of a training set
through Feast's DuckDB offline store. Runs the pure functions the Dagster assets call, so
the figures exclude Dagster's bookkeeping (reported separately by `make run`).

    .venv/bin/python benchmarks/pipeline_throughput.py --accounts 2000 20000
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

from account_health.demo_data import DemoConfig, generate, write
from feature_repo.definitions import CHURN_FEATURE_SERVICE
from feature_repo.store import apply_definitions, open_store
from features.contract import CONTRACT, ContractMapping, find_table_file, read_table
from features.snapshot import FEATURE_GROUPS, compute_snapshots
from features.training_set import build_training_set, label_rows, monthly_as_of_dates
from features.validation import validate_table

END_DATE = date(2026, 10, 31)


def peak_memory_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def measure(accounts: int, months: int, workdir: Path) -> dict:
    data_dir, out_dir = workdir / "data", workdir / "out"
    started = time.perf_counter()
    write(generate(DemoConfig(accounts=accounts, months=months, end_date=END_DATE)), data_dir)
    generate_s = time.perf_counter() - started

    now = pd.Timestamp(END_DATE, tz="UTC") + pd.Timedelta(days=1)
    started = time.perf_counter()
    tables, input_rows = {}, 0
    for table in CONTRACT:
        path = find_table_file(data_dir, table)
        frame = read_table(path, table, ContractMapping())
        input_rows += len(frame)
        tables[table] = validate_table(table, frame, source_file=path.name, now=now).accepted
    ingest_s = time.perf_counter() - started

    first_day = tables["events"]["event_time"].min().tz_localize(None).normalize()
    days = pd.date_range(first_day, pd.Timestamp(END_DATE))
    started = time.perf_counter()
    snapshot = compute_snapshots(days, **tables)
    features_s = time.perf_counter() - started

    snapshot_dir = out_dir / "snapshot"
    snapshot_dir.mkdir(parents=True)
    snapshot.to_parquet(snapshot_dir / "snapshot.parquet", index=False)
    store = open_store(out_dir)
    apply_definitions(store, str(snapshot_dir / "*.parquet"), list(FEATURE_GROUPS))
    labels = label_rows(tables["subscriptions"],
                        monthly_as_of_dates(first_day, pd.Timestamp(END_DATE), horizon_days=90),
                        horizon_days=90, observed_until=pd.Timestamp(END_DATE))
    started = time.perf_counter()
    training = build_training_set(store, labels, feature_service=CHURN_FEATURE_SERVICE)
    join_s = time.perf_counter() - started
    return {
        "accounts": accounts, "events": len(tables["events"]), "generate_s": generate_s,
        "input_rows": input_rows, "ingest_s": ingest_s,
        "ingest_rows_per_s": input_rows / ingest_s,
        "snapshot_rows": len(snapshot), "features_s": features_s,
        "snapshot_rows_per_s": len(snapshot) / features_s,
        "events_per_s_in_features": len(tables["events"]) / features_s,
        "entity_rows": len(training), "join_s": join_s,
        "join_entity_rows_per_s": len(training) / join_s,
        "peak_rss_gib": peak_memory_gib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--months", type=int, default=18)
    args = parser.parse_args()
    results = []
    for accounts in args.accounts:
        with tempfile.TemporaryDirectory() as workdir:
            result = measure(accounts, args.months, Path(workdir))
        results.append(result)
        print(pd.Series(result).to_string(float_format=lambda v: f"{v:,.1f}"), flush=True)
        print()
    table = pd.DataFrame(results)[[
        "accounts", "events", "ingest_rows_per_s", "snapshot_rows", "snapshot_rows_per_s",
        "entity_rows", "join_entity_rows_per_s", "peak_rss_gib"]]
    print(table.to_markdown(index=False, floatfmt=",.0f"))


if __name__ == "__main__":
    main()
