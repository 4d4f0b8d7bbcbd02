"""The scale benchmark: every stage of the pipeline at 20k (and 200k) accounts, with floors.

For each size it builds the embedded default's output layout stage by stage with the same
functions the Dagster assets call, timing each (wall seconds, rows/s, peak RSS of the stage),
then runs the real Dagster daily job for the last day on top of that history. Printed after
the table, measured in the same run:

- feature computation ÷ DuckDB scanning the same event files once, grouped by account and day,
  for every daily snapshot of the history computed from the raw events and from the stored
  daily rollups (what the pipeline's backfill reads);
- point-in-time training-set build ÷ a bare DuckDB ASOF JOIN of the same entity rows against
  the same snapshot files, and ÷ Feast's file offline store on the same rows;
- daily run with the full history ÷ with 6 months of it (``--history-ratio``).

    .venv/bin/python benchmarks/run.py --accounts 20000
    .venv/bin/python benchmarks/run.py --accounts 20000 200000 --history-ratio

Plain figures, no timing asserts (tests never depend on speed).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

END_DATE = date(2026, 10, 31)
#: What the written table shows, above it in benchmarks/README.md.
STAGE_NOTES = ("Wall seconds, rows and peak resident memory per stage, built with the "
               "functions the Dagster assets call; the end-to-end daily run is the real "
               "Dagster daily job for the last day, in a process of its own. Below the "
               "table: the ratios to the DuckDB floors measured in the same run, and the "
               "slowest steps of the daily run.")
NOW = "2026-11-01T06:00:00"


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096


def _tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (Spark's JVM and Python
    workers included); 0 once it has exited."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total


@dataclass
class Stage:
    name: str
    seconds: float = 0.0
    rows: int = 0
    peak_gib: float = 0.0
    note: str = ""
    #: set by a stage that runs in a process of its own
    own_peak_gib: float = 0.0
    #: a process whose tree's memory the stage's peak is (its own work runs there)
    tree_pid: int | None = None


@dataclass
class Recorder:
    """Times stages and samples the process's resident memory while each runs."""

    stages: list[Stage] = field(default_factory=list)
    #: seconds per step of each Dagster daily run, by its label
    steps: dict[str, dict[str, float]] = field(default_factory=dict)
    #: the run process's peak resident GiB while each step ran, by the run's label
    step_peaks: dict[str, dict[str, float]] = field(default_factory=dict)

    @contextlib.contextmanager
    def stage(self, name: str):
        record = Stage(name)
        peak, tree_peak = [_rss_bytes()], [0]
        done = threading.Event()

        def sample() -> None:
            ticks = 0
            while not done.wait(0.05):
                peak[0] = max(peak[0], _rss_bytes())
                ticks += 1
                # a process tree costs more to read: every half second
                if record.tree_pid is not None and ticks % 10 == 0:
                    tree_peak[0] = max(tree_peak[0], _tree_rss_bytes(record.tree_pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        try:
            yield record
        finally:
            record.seconds = time.perf_counter() - started
            done.set()
            sampler.join()
            if record.tree_pid is not None:
                record.peak_gib = max(record.own_peak_gib * 1024**3, tree_peak[0]) / 1024**3
            else:
                record.peak_gib = (record.own_peak_gib
                                   or max(peak[0], _rss_bytes()) / 1024**3)
            self.stages.append(record)
            print(f"  {name}: {record.seconds:,.1f} s, {record.rows:,} rows, "
                  f"peak {record.peak_gib:.2f} GiB {record.note}", flush=True)


def _storage(out_dir: str | Path):
    """Where the IO manager keeps the assets of a run writing to ``out_dir``."""
    from pipelines.storage import AssetStorage

    return AssetStorage.under(out_dir)


def _settings(data_dir: Path, out_dir: Path):
    from pipelines.resources import AccountHealthSettings

    return AccountHealthSettings.of(data_dir, out_dir, now=NOW)


def generate_data(recorder: Recorder, accounts: int, months: int, workdir: Path,
                  event_grain_fraction: float) -> Path:
    """Demo exports streamed in account chunks, events as ``events/<day>.parquet``."""
    from account_health.demo_data import DemoConfig
    from account_health.demo_stream import generate_streamed

    data_dir = workdir / "data"
    with recorder.stage("generation") as stage:
        counts = generate_streamed(data_dir, DemoConfig(accounts=accounts, months=months,
                                                        end_date=END_DATE),
                                   event_grain_fraction=event_grain_fraction)
        stage.rows = counts["events"]
        stage.note = f"({event_grain_fraction:.0%} of accounts at event grain)"
    return data_dir


def ingest(recorder: Recorder, data_dir: Path, workdir: Path, *,
           event_days: int | None = None) -> dict:
    """Validate the tables and the event day files (the last ``event_days`` of them, or all)
    one day at a time, as daily runs would, into the output layout the daily job expects."""
    from features.contract import CONTRACT, day_files, read_table
    from features.event_vocabulary import top_event_names
    from features.row_checks import check_event_day, check_table, export_account_ids
    from features.usage_rollup import daily_rollup

    out_dir = workdir / "out"
    settings = _settings(data_dir, out_dir)
    storage = _storage(out_dir)
    files = day_files(settings.table_file("events"))
    days = sorted(files)[-event_days:] if event_days else sorted(files)
    label = f"the last {event_days} event days" if event_days else "every event day"
    with recorder.stage(f"ingestion (read, validate, write, roll up {label})") as stage:
        validated = {}
        for table in CONTRACT:
            if table == "events":
                continue
            path = settings.table_file(table)
            frame = read_table(path, table, settings.mapping())
            stage.rows += len(frame)
            validated[table] = check_table(table, frame, source_file=path.name,
                                              now=settings.data.current_time()).accepted
            if table == "accounts":
                known = export_account_ids(frame)
        storage.partition_dir("events").mkdir(parents=True)
        storage.partition_dir("usage_rollup").mkdir(parents=True)
        storage.partition_dir("events_quarantine").mkdir(parents=True)
        for day in days:
            frame = read_table(files[day], "events", settings.mapping())
            stage.rows += len(frame)
            # what the events asset does per day file, and what its IO manager writes
            checked = check_event_day(frame, day, source_file=f"events/{files[day].name}",
                                      pipeline_start=settings.data.start_timestamp(),
                                      now=settings.data.current_time(), known_accounts=known)
            for asset, rows in (("events", checked.accepted),
                                ("events_quarantine", checked.quarantine)):
                pq.write_table(pa.Table.from_pandas(rows, preserve_index=False),
                               storage.asset_file(asset, day))
        # the event_vocabulary asset's choice, then the usage_rollup asset's state per day
        written = sorted(storage.partition_dir("events").glob("*.parquet"))
        names = top_event_names(written)
        vocabulary = pd.DataFrame({"slot": [f"event_{k}" for k in range(1, len(names) + 1)],
                                   "event_name": names, "data_dir": settings.data_dir})
        vocabulary.to_parquet(storage.asset_file("event_vocabulary"), index=False)
        taxonomy = settings.event_taxonomy(vocabulary)
        for path in written:
            daily_rollup([path], taxonomy).to_parquet(
                storage.asset_file("usage_rollup", path.stem), index=False)
        for table, frame in validated.items():
            frame.to_parquet(storage.asset_file(table), index=False)
    history = {"settings": settings, "tables": validated, "first_day": min(files),
               "workdir": workdir, "taxonomy": taxonomy}
    if event_days is None:
        history["ingestion_floor_ratio"] = stage.seconds / ingestion_floor(
            recorder, [files[day] for day in days], known, settings, workdir)
    return history


def ingestion_floor(recorder: Recorder, files: list[Path], known: pd.Index, settings,
                    workdir: Path) -> float:
    """DuckDB reading, checking and writing the same event day files: rows with the
    mandatory values, a time on the file's own day, not in the future, of a known account,
    the first copy of each event id, written as one Parquet file per day. No reasons are
    recorded for the rows left out, which is what ingestion adds. Returns its seconds."""
    connection = duckdb.connect()
    connection.register("known", pd.DataFrame({"account_id": known.astype(str)}))
    listing = ", ".join(f"'{path}'" for path in files)
    now = settings.data.current_time().isoformat()
    with recorder.stage("DuckDB floor: read, check, write the event day files") as stage:
        stage.rows = connection.execute(f"""
            COPY (
                SELECT * EXCLUDE (filename), strftime(event_time, '%Y-%m-%d') AS day
                FROM read_parquet([{listing}], filename = true, union_by_name = true)
                WHERE event_id IS NOT NULL AND account_id IS NOT NULL AND user_id IS NOT NULL
                  AND event_name IS NOT NULL AND event_time IS NOT NULL
                  AND event_time <= TIMESTAMPTZ '{now}'
                  AND strftime(event_time, '%Y-%m-%d') = regexp_extract(
                      filename, '([0-9-]+)[.]parquet$', 1)
                  AND account_id::VARCHAR IN (SELECT account_id FROM known)
                QUALIFY row_number() OVER (PARTITION BY day, event_id) = 1
            ) TO '{workdir / "floor_events"}' (FORMAT parquet, PARTITION_BY (day))
            """).fetchone()[0]
    connection.close()
    return stage.seconds


def build_history(recorder: Recorder, accounts: int, months: int, workdir: Path,
                  event_grain_fraction: float) -> dict:
    """Generation and ingestion of the whole history."""
    data_dir = generate_data(recorder, accounts, months, workdir, event_grain_fraction)
    return ingest(recorder, data_dir, workdir)


#: Month-end as-of dates of the stand-in champion in ``--daily-only`` runs: the last five
#: whose 90-day labels have closed, which make one walk-forward fold with two training dates.
RECENT_TRAINING_DATES = pd.DatetimeIndex(["2026-03-31", "2026-04-30", "2026-05-31",
                                          "2026-06-30", "2026-07-31"])


def recent_champion(recorder: Recorder, history: dict) -> None:
    """A champion trained on five month-end snapshots, computed from the export's own day
    files (the daily run's cost does not depend on how the model was trained)."""
    from features.contract import day_files
    from features.event_vocabulary import readable_event_columns
    from features.snapshot import EVENT_LOOKBACK_DAYS, compute_snapshots, feature_tables
    from features.training_set import label_rows

    settings, tables = history["settings"], history["tables"]
    dates = RECENT_TRAINING_DATES
    files = day_files(settings.table_file("events"))
    with recorder.stage(f"training snapshots ({len(dates)} month-ends)") as stage:
        # one date at a time: each reads its own 90 days of events, in bounded memory
        snapshot = pd.concat([compute_snapshots(
            pd.DatetimeIndex([date]), events=[path for day, path in files.items()
                                              if date - pd.Timedelta(days=EVENT_LOOKBACK_DAYS)
                                              <= day <= date],
            **feature_tables(tables), taxonomy=history["taxonomy"])
            for date in dates],
            ignore_index=True)
        stage.rows = len(snapshot)
    labels = label_rows(tables["subscriptions"], dates, horizon_days=90,
                        observed_until=pd.Timestamp(END_DATE))
    training = labels.drop(columns="event_timestamp").merge(
        readable_event_columns(snapshot.drop(columns="event_timestamp"),
                               history["taxonomy"].tracked_events),
        on=["account_id", "as_of_date"])
    training.to_parquet(_storage(settings.output_dir).asset_file("training_set"), index=False)
    train_and_register(recorder, history, training, n_folds=1)


def features_and_floor(recorder: Recorder, history: dict) -> dict[str, float]:
    """Every daily snapshot of the history, from the event files and from the stored daily
    rollups (what a backfill of the pipeline reads); returns both ratios to the DuckDB scan
    floor."""
    from features.snapshot import compute_snapshots, feature_tables
    from pipelines.io_manager import write_partitions

    settings, tables = history["settings"], history["tables"]
    storage = _storage(settings.output_dir)
    event_files = sorted(storage.partition_dir("events").glob("*.parquet"))
    rollup_files = sorted(storage.partition_dir("usage_rollup").glob("*.parquet"))
    days = pd.date_range(history["first_day"], pd.Timestamp(END_DATE))
    taxonomy = history["taxonomy"]
    with recorder.stage("DuckDB floor: scan events, group by account and day") as floor:
        scanned = duckdb.sql(
            "SELECT account_id, floor(epoch(event_time) / 86400) AS day, count(*) AS events "
            f"FROM read_parquet({[str(f) for f in event_files]}) GROUP BY ALL").fetchnumpy()
        floor.rows = len(scanned["day"])
    del scanned
    with recorder.stage("feature computation (all daily snapshots, from raw events)") as stage:
        snapshot = compute_snapshots(days, events=event_files, **feature_tables(tables),
                                     taxonomy=taxonomy)
        stage.rows = len(snapshot)
    del snapshot
    with recorder.stage("feature computation (all daily snapshots, from daily rollups)"
                        ) as stage:
        snapshot = compute_snapshots(days, events=[], usage_rollups=rollup_files,
                                     **feature_tables(tables), taxonomy=taxonomy)
        stage.rows = len(snapshot)
    storage = _storage(settings.output_dir)
    storage.partition_dir("account_snapshot").mkdir(parents=True)
    with recorder.stage("write snapshot day files (the IO manager's writer)") as stage:
        write_partitions(snapshot, "as_of_date", [f"{day:%Y-%m-%d}" for day in days],
                         lambda day: storage.asset_file("account_snapshot", day))
        stage.rows = len(snapshot)
    ratios = {f"features {source} ÷ DuckDB scan":
              stage_seconds(recorder, f"feature computation (all daily snapshots, {source}")
              / floor.seconds for source in ("from raw events", "from daily rollups")}
    ratios["snapshot writing ÷ its computation from rollups (target below 1)"] = (
        stage.seconds / stage_seconds(recorder, "feature computation (all daily snapshots, "
                                                "from daily rollups"))
    return ratios


def stage_seconds(recorder: Recorder, prefix: str) -> float:
    return next(s.seconds for s in recorder.stages if s.name.startswith(prefix))


def feast_and_training_set(recorder: Recorder, history: dict, feast_file_limit: int,
                           feast_file_timeout: float) -> dict:
    """Feast apply + online materialisation, then the point-in-time training set three ways."""
    from feature_repo.definitions import CHURN_FEATURE_SERVICE
    from feature_repo.store import apply_definitions, open_store
    from features.snapshot import FEATURE_GROUPS
    from features.training_set import build_training_set, label_rows, training_as_of_dates

    settings, tables = history["settings"], history["tables"]
    storage = _storage(settings.output_dir)
    snapshot_glob = str(storage.partition_dir("account_snapshot") / "*.parquet")
    store = open_store(settings.output_path)
    last = pd.Timestamp(END_DATE)
    with recorder.stage("Feast apply + materialise the last day online") as stage:
        apply_definitions(store, snapshot_glob, list(FEATURE_GROUPS))
        feature_time = last.tz_localize("UTC") + pd.Timedelta(days=1)
        with contextlib.redirect_stdout(io.StringIO()):  # Feast's progress line per view
            store.materialize(
                start_date=(feature_time - pd.Timedelta(days=1)).to_pydatetime(),
                end_date=(feature_time + pd.Timedelta(seconds=1)).to_pydatetime())
        stage.rows = len(pd.read_parquet(storage.asset_file("account_snapshot", last),
                                         columns=["account_id"]))
    labels = label_rows(tables["subscriptions"],
                        # four-weekly, to bound the cost at 200k (the product's default is weekly)
                        training_as_of_dates(history["first_day"], last, horizon_days=90,
                                             cadence_days=28),
                        horizon_days=90, observed_until=last)
    with recorder.stage("point-in-time training set (Feast DuckDB store)") as stage:
        training = build_training_set(store, labels, feature_service=CHURN_FEATURE_SERVICE,
                                      event_names=history["taxonomy"].tracked_events)
        stage.rows = len(training)
    training.to_parquet(_storage(settings.output_dir).asset_file("training_set"), index=False)
    with recorder.stage("DuckDB floor: bare ASOF JOIN, same rows and files") as stage:
        connection = duckdb.connect()
        connection.register("entities", labels[["account_id", "event_timestamp"]])
        joined = connection.sql(
            "SELECT e.*, s.* EXCLUDE (account_id, event_timestamp) FROM entities e "
            f"ASOF LEFT JOIN read_parquet('{snapshot_glob}') s "
            "ON e.account_id = s.account_id AND e.event_timestamp >= s.event_timestamp"
        ).fetchnumpy()
        stage.rows = len(joined["account_id"])
        connection.close()
    result = {"training": training,
              "pit_ratio_floor": stage_seconds(recorder, "point-in-time")
              / stage_seconds(recorder, "DuckDB floor: bare ASOF")}
    rows = labels.head(feast_file_limit)
    with recorder.stage("Feast file offline store, same files") as stage:
        finished = _in_subprocess(_feast_file_join, (settings.output_path, snapshot_glob, rows),
                                  timeout=feast_file_timeout)
        stage.rows = len(rows)
        stage.note = (f"({len(rows):,} of {len(labels):,} entity rows)"
                      + ("" if finished else f"; stopped after {feast_file_timeout} s"))
    ours_per_row = stage_seconds(recorder, "point-in-time") / len(labels)
    # when it was stopped, the figure is a lower bound
    result["feast_file_ratio"] = (stage_seconds(recorder, "Feast file") / len(rows)) / ours_per_row
    result["feast_file_finished"] = finished
    return result


def _in_subprocess(target, args: tuple, timeout: float) -> bool:
    """Run ``target(*args)`` in a forked process; False when it ran out of time."""
    process = multiprocessing.get_context("fork").Process(target=target, args=args)
    process.start()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
        return False
    if process.exitcode != 0:
        raise RuntimeError(f"{target.__name__} failed (exit code {process.exitcode})")
    return True


def _feast_file_join(output_dir: Path, snapshot_glob: str, rows: pd.DataFrame) -> None:
    from feature_repo.definitions import CHURN_FEATURE_SERVICE
    from feature_repo.store import apply_definitions
    from features.snapshot import FEATURE_GROUPS
    from features.training_set import build_training_set

    store = _file_store(output_dir)
    apply_definitions(store, snapshot_glob, list(FEATURE_GROUPS))
    build_training_set(store, rows, feature_service=CHURN_FEATURE_SERVICE)


def _file_store(output_dir: Path):
    """A Feast store like the embedded one but with the file offline store."""
    from feast import FeatureStore, RepoConfig

    from feature_repo.store import REPO_DIR

    directory = output_dir / "feast_file"
    directory.mkdir(parents=True, exist_ok=True)
    return FeatureStore(config=RepoConfig(
        repo_path=REPO_DIR, project="account_health_file", provider="local",
        registry=str(directory / "registry.db"), offline_store={"type": "file"},
        online_store={"type": "sqlite", "path": str(directory / "online.db")},
        entity_key_serialization_version=3))


def train_and_register(recorder: Recorder, history: dict, training: pd.DataFrame,
                       n_folds: int = 6) -> None:
    """Walk-forward validation and the final fit, registered as champion."""
    from models.analysis.model_quality import reference_predictions
    from models.churn.bundle import train_bundle
    from models.churn.evaluation import evaluate_walk_forward
    from models.promotion import PromotionDecision
    from models.tracking import apply_decision, log_bundle, log_walk_forward
    from models.walk_forward import walk_forward_folds
    from pipelines.resources import MlflowTracking

    with recorder.stage(f"training + {n_folds}-fold walk-forward validation") as stage:
        folds = walk_forward_folds(training["as_of_date"], n_folds=n_folds, horizon_days=90)
        result = evaluate_walk_forward(training, folds)
        bundle = train_bundle(
            training, horizon_days=90,
            event_names=history["taxonomy"].tracked_events)
        stage.rows = len(training)
        auc = result.pooled_metrics.set_index("model").loc["xgboost", "roc_auc"]
        stage.note = f"(XGBoost walk-forward AUC {auc:.3f})"
    MlflowTracking.local(history["settings"].output_dir).activate()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_id = log_walk_forward(result, folds, {"benchmark": True}, run_name="benchmark")
        _, version = log_bundle(run_id, bundle, training,
                                reference=reference_predictions(bundle, training))
    apply_decision(version, PromotionDecision(promote=True, reason="benchmark"))
    history["bundle"] = bundle
    register_expansion_champion(recorder, history, training)


def register_expansion_champion(recorder: Recorder, history: dict,
                                training: pd.DataFrame) -> None:
    """The expansion model on the same rows, registered as its champion, so the daily run
    scores opportunities as it would in production."""
    from features.expansion_events import expansion_events, expansion_labels
    from models.expansion.model import train_expansion_model
    from models.promotion import PromotionDecision
    from models.tracking import EXPANSION_MODEL, apply_decision, log_bundle

    with recorder.stage("expansion model fit") as stage:
        training = training.reset_index(drop=True)
        training = pd.concat([training, expansion_labels(
            training, expansion_events(history["tables"]["subscriptions"]), horizon_days=90,
            observed_until=pd.Timestamp(END_DATE))], axis=1)
        model = train_expansion_model(training, horizon_days=90)
        stage.rows = len(training)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow

        with mlflow.start_run(run_name="benchmark expansion") as run:
            run_id = run.info.run_id
        _, version = log_bundle(run_id, model, training, name="expansion_model",
                                registered_model=EXPANSION_MODEL)
    apply_decision(version, PromotionDecision(promote=True, reason="benchmark"),
                   registered_model=EXPANSION_MODEL)


def daily_scoring(recorder: Recorder, history: dict) -> None:
    """Scoring with explanations for every account of the last day (pure function)."""
    from models.scoring.scores import score_accounts

    snapshot = pd.read_parquet(_storage(history["settings"].output_dir).asset_file(
        "account_snapshot", END_DATE))
    with recorder.stage("daily scoring with explanations") as stage:
        scores = score_accounts(snapshot, history["bundle"], model_version="1")
        stage.rows = len(scores)


def daily_run(recorder: Recorder, settings, label: str) -> float:
    """The Dagster daily job for the last day on top of the history, in a fresh process so
    its peak memory is its own; returns its seconds."""
    context = multiprocessing.get_context("spawn")
    peak = context.Queue()
    day = f"{END_DATE}"
    with recorder.stage(f"end-to-end daily run ({label})") as stage:
        process = context.Process(target=_daily_job, args=(settings.data_dir,
                                                           settings.output_dir, day, peak))
        process.start()
        stage.tree_pid = process.pid
        process.join()
        if process.exitcode != 0:
            raise RuntimeError("the daily run failed")
        stage.rows = len(pd.read_parquet(_storage(settings.output_dir).asset_file(
            "account_scores", day), columns=["account_id"]))
        own_peak, steps, step_peaks = peak.get()
        stage.own_peak_gib = own_peak / 1024**3  # the run's process, not this one
        stage.note = "(peak RSS of the run's processes, Spark's JVM included)"
    recorder.steps[label] = steps
    recorder.step_peaks[label] = step_peaks
    return stage.seconds


def _daily_job(data_dir: str, output_dir: str, day: str, peak) -> None:
    from dagster import DagsterInstance

    from pipelines.run import run_pipeline
    from pipelines.selections import DAILY_SCORING

    warnings.simplefilter("ignore")
    samples: list[tuple[float, int]] = []  # (time, resident bytes) every 20 ms
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            samples.append((time.time(), _rss_bytes()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    instance = DagsterInstance.ephemeral()
    result = run_pipeline(_settings(Path(data_dir), Path(output_dir)), instance,
                          first_day=day, last_day=day, selection=DAILY_SCORING)
    done.set()
    sampler.join()
    # VmHWM belongs to this process's own memory map; getrusage's maxrss would also count
    # the parent's resident memory at the fork that preceded the exec
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    steps = {event.step_key: event.event_specific_data.duration_ms / 1000
             for event in result.get_step_success_events()}
    spans: dict[str, list[float]] = {}
    for entry in instance.all_logs(result.run_id):
        kind = entry.dagster_event.event_type_value if entry.dagster_event else None
        if kind in ("STEP_START", "STEP_SUCCESS"):
            spans.setdefault(entry.step_key, []).append(entry.timestamp)
    step_peaks = {step: max((rss for moment, rss in samples
                             if min(times) <= moment <= max(times)), default=0) / 1024**3
                  for step, times in spans.items()}
    peak.put((kib * 1024, steps, step_peaks))
    if not result.success:
        raise SystemExit(1)


def shorten_history(history: dict, months: int):
    """The same accounts, model and day with only the last ``months`` of history: the export's
    older day files left out and the older partitions removed. Returns settings for it."""
    import shutil

    settings = history["settings"]
    cut = pd.Timestamp(END_DATE) - pd.DateOffset(months=months) + pd.Timedelta(days=1)
    data_dir = history["workdir"] / f"data_{months}m"
    data_dir.mkdir()
    for path in settings.data_path.iterdir():
        if path.is_file():
            shutil.copy(path, data_dir / path.name)
    (data_dir / "events").mkdir()
    for path in (settings.data_path / "events").iterdir():
        if pd.Timestamp(path.stem) >= cut:
            (data_dir / "events" / path.name).symlink_to(path)
    for asset in ("events", "usage_rollup", "account_snapshot"):
        for path in _storage(settings.output_dir).partition_dir(asset).glob("*.parquet"):
            if pd.Timestamp(path.stem) < cut:
                path.unlink()
    return _settings(data_dir, settings.output_path)


def measure(accounts: int, months: int, feast_file_limit: int, feast_file_timeout: float,
            history_ratio: bool, event_grain_fraction: float, daily_only: bool,
            workdir: str | None = None, daily_again: bool = False) -> tuple[Recorder, dict]:
    from features.snapshot import EVENT_LOOKBACK_DAYS

    recorder = Recorder()
    ratios = {}
    with contextlib.ExitStack() as stack:
        tmp = (Path(workdir) if workdir is not None
               else stack.enter_context(tempfile.TemporaryDirectory()))
        if daily_again:
            history = {"settings": _settings(Path(tmp) / "data", Path(tmp) / "out")}
        elif daily_only:
            data_dir = generate_data(recorder, accounts, months, Path(tmp), event_grain_fraction)
            history = ingest(recorder, data_dir, Path(tmp), event_days=EVENT_LOOKBACK_DAYS + 1)
            recent_champion(recorder, history)
        else:
            history = build_history(recorder, accounts, months, Path(tmp), event_grain_fraction)
            ratios["ingestion ÷ DuckDB read-check-write floor (target below 5)"] = history[
                "ingestion_floor_ratio"]
            ratios.update(features_and_floor(recorder, history))
            pit = feast_and_training_set(recorder, history, feast_file_limit,
                                         feast_file_timeout)
            ratios["PIT build ÷ bare ASOF join"] = pit["pit_ratio_floor"]
            bound = "" if pit["feast_file_finished"] else " (at least: it did not finish)"
            ratios[f"Feast file store ÷ PIT build, per entity row{bound}"] = pit[
                "feast_file_ratio"]
            train_and_register(recorder, history, pit["training"])
            daily_scoring(recorder, history)
        full = daily_run(recorder, history["settings"], f"{months} months of history")
        if history_ratio:
            short = daily_run(recorder, shorten_history(history, 6), "6 months of history")
            ratios[f"daily run: {months} ÷ 6 months of history"] = full / short
    return recorder, ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[20000])
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--feast-file-rows", type=int, default=20000,
                        help="entity rows given to Feast's file offline store (it is slow)")
    parser.add_argument("--feast-file-timeout", type=float, default=600,
                        help="seconds Feast's file offline store may take")
    parser.add_argument("--history-ratio", action="store_true",
                        help="also time the daily run with 6 months of history")
    parser.add_argument("--event-grain-fraction", type=float, default=0.2,
                        help="share of accounts whose events are exported one by one (the "
                             "others as daily per-user aggregates)")
    parser.add_argument("--daily-only", action="store_true",
                        help="only what the daily run needs: the export, its last 91 event "
                             "days ingested and a champion from four month-ends; then the "
                             "daily run")
    parser.add_argument("--workdir", help="build in this directory and keep it (one size "
                                          "only) instead of a temporary one")
    parser.add_argument("--readme", action="store_true",
                        help="write the table into benchmarks/README.md (make bench does)")
    parser.add_argument("--daily-again", action="store_true",
                        help="with --workdir of an earlier --daily-only run: only the daily run "
                             "again, on what is there")
    args = parser.parse_args()
    from account_health.run import quiet_libraries

    quiet_libraries()  # as quiet as make run: no library notes, no upload progress bars
    if args.workdir and len(args.accounts) > 1:
        parser.error("--workdir keeps one size: give one --accounts")
    if args.daily_again and not args.workdir:
        parser.error("--daily-again needs the --workdir of an earlier --daily-only run")
    for accounts in args.accounts:
        print(f"\n== {accounts:,} accounts × {args.months} months ==", flush=True)
        recorder, ratios = measure(accounts, args.months, args.feast_file_rows,
                                   args.feast_file_timeout, args.history_ratio,
                                   args.event_grain_fraction, args.daily_only,
                                   args.workdir, args.daily_again)
        table = pd.DataFrame([{
            "stage": s.name, "wall s": s.seconds, "rows": s.rows,
            "rows/s": s.rows / s.seconds if s.seconds else float("nan"),
            "peak RSS GiB": s.peak_gib, "note": s.note} for s in recorder.stages])
        figures = [f"- {name}: {value:,.2f}" for name, value in ratios.items()]
        step_tables = []
        for label, steps in recorder.steps.items():
            peaks = recorder.step_peaks.get(label, {})
            slowest = pd.DataFrame([
                {"step": step, "wall s": seconds, "peak RSS GiB": peaks.get(step, float("nan"))}
                for step, seconds in sorted(steps.items(), key=lambda item: -item[1])[:15]])
            step_tables.append(f"The slowest steps of the daily run ({label}):"
                               "\n\n" + slowest.to_markdown(index=False, floatfmt=",.1f"))
        body = "\n\n".join([table.to_markdown(index=False, floatfmt=",.1f"),
                             *(["\n".join(figures)] if figures else []), *step_tables])
        print("\n" + body)
        if args.readme:
            from readme import write_section  # benchmarks/readme.py

            kind = "The morning run" if args.daily_only or args.daily_again else "Every stage"
            write_section(f"{kind} at {accounts:,} accounts × {args.months} months",
                          "benchmarks/run.py " + " ".join(sys.argv[1:]),
                          STAGE_NOTES + "\n\n" + body)


if __name__ == "__main__":
    main()
