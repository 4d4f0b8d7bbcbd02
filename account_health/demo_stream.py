"""Demo data at scale (10^5 accounts and more), generated in account chunks with bounded memory.

Each chunk of accounts is an independent population drawn by ``demo_data.generate`` from its
own random stream (``DemoConfig.account_offset``); its small tables are appended to the CSV
exports and its events to one Parquet file per UTC day, which stay open across chunks (one
row group per chunk). Memory therefore follows the chunk size, not the population.

Events of a configurable share of accounts stay at event grain; the others are exported as
daily per-user aggregates (one row per user, day and event name with ``event_count``), the
other shape docs/data-contract.md accepts. Features are the same either way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from account_health.demo_data import DemoConfig, _add_dirty_rows, generate, write_planted_drivers

#: Column types of the event day files (strings, not per-chunk dictionaries, so every chunk's
#: row group has the same schema).
EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("account_id", pa.string()), ("user_id", pa.string()),
    ("event_time", pa.timestamp("ns", tz="UTC")), ("event_name", pa.string()),
    ("event_count", pa.int64()),
])


def aggregate_daily(events: pd.DataFrame, accounts: np.ndarray) -> pd.DataFrame:
    """Events of ``accounts`` rolled up to one row per user, UTC day and event name, with
    ``event_count``; other accounts' rows are kept as they are (``event_count`` missing).

    An aggregate's ``event_time`` is the first event of its group and its ``event_id`` names
    the group, so re-running gives the same ids.
    """
    rolled_up = events["account_id"].isin(accounts).to_numpy()
    kept = events.loc[~rolled_up].assign(
        event_count=pd.array(np.full(int((~rolled_up).sum()), pd.NA), dtype="Int64"))
    if not rolled_up.any():
        return kept.reset_index(drop=True)
    grouped = (events.loc[rolled_up]
               .assign(day=lambda f: f["event_time"].dt.floor("D"))
               .groupby(["account_id", "user_id", "day", "event_name"], observed=True,
                        sort=False)
               .agg(event_time=("event_time", "min"), event_count=("event_time", "size"))
               .reset_index())
    day = pd.Categorical(grouped["day"])
    grouped["day"] = day.rename_categories(day.categories.strftime("%Y%m%d"))
    parts = [pc.cast(pa.array(grouped[c]), pa.string()) for c in ("user_id", "day", "event_name")]
    grouped["event_id"] = pd.Series(pc.binary_join_element_wise("agg", *parts, "_"),
                                    dtype=pd.ArrowDtype(pa.string()))
    grouped["event_count"] = grouped["event_count"].astype("Int64")
    return pd.concat([kept, grouped[kept.columns]], ignore_index=True)


def _sorted_by_day(events: pd.DataFrame, last_day: pd.Timestamp
                   ) -> tuple[pa.Table, list[tuple[str, int, int]]]:
    """Events as an Arrow table in day order, with (day, first row, row count) per day.

    Rows without a usable day (missing or future times) go to the last day's file, where
    validation quarantines them, as ``demo_data.write`` does.
    """
    day = events["event_time"].dt.floor("D")
    day = day.where(day.notna() & (day <= last_day), last_day)
    codes = (day - last_day).dt.days.to_numpy()
    order = np.argsort(codes, kind="stable")
    # sorted while ids are still dictionary codes: taking strings costs far more
    table = pa.Table.from_pandas(events, preserve_index=False).take(pa.array(order))
    codes = codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if codes.size else codes
    ends = np.r_[starts[1:], codes.size]
    spans = [(f"{last_day + pd.Timedelta(days=int(codes[start])):%Y-%m-%d}", int(start),
              int(end - start)) for start, end in zip(starts, ends, strict=True)]
    return table.cast(EVENT_SCHEMA), spans


def _chunk(config: DemoConfig, event_grain_fraction: float
           ) -> tuple[dict[str, pd.DataFrame], pa.Table, list[tuple[str, int, int]]]:
    """One chunk's tables, its events already in day order (runs in a worker process)."""
    tables = generate(dataclasses.replace(config, dirty_fraction=0.0))
    grain = int(round(config.accounts * event_grain_fraction))
    tables["events"] = aggregate_daily(tables["events"],
                                       tables["accounts"]["account_id"].to_numpy()[grain:])
    if config.dirty_fraction > 0:
        _add_dirty_rows(tables, config.rng(), config.dirty_fraction)
    table, spans = _sorted_by_day(tables.pop("events"),
                                  pd.Timestamp(config.end_date, tz="UTC"))
    return tables, table, spans


def generate_streamed(data_dir: Path, config: DemoConfig, *, chunk_accounts: int = 5000,
                      event_grain_fraction: float = 1.0, processes: int = 2) -> dict[str, int]:
    """Write ``config.accounts`` accounts chunk by chunk: CSV tables and ``events/<day>.parquet``.

    ``event_grain_fraction`` of each chunk's accounts (the first ones) keep individual
    events; the rest are exported as daily per-user aggregates. Chunks are generated by
    ``processes`` worker processes while this one writes (in this process when 1), one
    Parquet row group per chunk and day. Returns rows per table. Deterministic for a
    configuration and chunk size, whatever the number of processes.
    """
    if not 0.0 <= event_grain_fraction <= 1.0:
        raise ValueError(f"event_grain_fraction must be within [0, 1], not {event_grain_fraction}")
    data_dir = Path(data_dir)
    (data_dir / "events").mkdir(parents=True, exist_ok=True)
    chunks = [dataclasses.replace(config, accounts=min(chunk_accounts, config.accounts - offset),
                                  account_offset=offset)
              for offset in range(0, config.accounts, chunk_accounts)]
    writers: dict[str, pq.ParquetWriter] = {}
    counts: dict[str, int] = {"events": 0}
    make_chunk = functools.partial(_chunk, event_grain_fraction=event_grain_fraction)
    with contextlib.ExitStack() as stack:
        if processes > 1:
            # a worker that dies fails the run (BrokenProcessPool) instead of hanging it
            pool = stack.enter_context(ProcessPoolExecutor(
                processes, mp_context=multiprocessing.get_context("forkserver")))
            results = pool.map(make_chunk, chunks)
        else:
            results = map(make_chunk, chunks)
        try:
            for index, (tables, events, spans) in enumerate(results):
                first = index == 0
                for day, start, length in spans:
                    if day not in writers:
                        writers[day] = pq.ParquetWriter(data_dir / "events" / f"{day}.parquet",
                                                        EVENT_SCHEMA)
                    writers[day].write_table(events.slice(start, length))
                counts["events"] += len(events)
                for name, frame in tables.items():
                    frame.to_csv(data_dir / f"{name}.csv", index=False,
                                 mode="w" if first else "a", header=first)
                    counts[name] = counts.get(name, 0) + len(frame)
        finally:
            for writer in writers.values():
                writer.close()
    write_planted_drivers(data_dir, config)
    return counts
