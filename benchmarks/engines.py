"""The local and the spark engine side by side, on the same export in the same run: the
feature build of the whole history (ingestion of every event day file, daily rollups,
every daily snapshot, through the Dagster assets) and the morning run (the daily job of the
last day), each in a process of its own.

    .venv/bin/python benchmarks/engines.py --accounts 20000 [--readme]
    .venv/bin/python benchmarks/engines.py --accounts 200000 --engines spark --daily-only

Spark runs in ``local[2]`` (``--spark-master``): the same two cores as the local engine, so
the figures show what Spark's distribution costs on one machine, and its slope the cost
per account a cluster spreads over its executors (docs/scaling.md). Writes its table into
benchmarks/README.md (section "Engines at N accounts × M months").
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import run as stages  # noqa: E402  (benchmarks/run.py: data, champion and daily run)
from readme import write_section  # noqa: E402  (benchmarks/readme.py)

FEATURE_ASSETS = ("event_vocabulary", "usage_rollup", "account_snapshot")


def _feature_build(data_dir: str, output_dir: str, first_day: str, last_day: str,
                   engine: str, master: str, result) -> None:
    """The feature assets over the whole history, in this (spawned) process."""
    os.environ["ACCOUNT_HEALTH_ENGINE"] = engine
    os.environ["ACCOUNT_HEALTH_SPARK_MASTER"] = master
    warnings.simplefilter("ignore")
    from dagster import AssetSelection, DagsterInstance

    from pipelines.run import run_pipeline

    outcome = run_pipeline(stages._settings(Path(data_dir), Path(output_dir)),
                           DagsterInstance.ephemeral(), first_day=first_day, last_day=last_day,
                           selection=AssetSelection.groups("raw")
                           | AssetSelection.assets(*FEATURE_ASSETS))
    steps = {event.step_key: event.event_specific_data.duration_ms / 1000
             for event in outcome.get_step_success_events()}
    result.put((steps, outcome.success))


def feature_build(recorder: stages.Recorder, data_dir: Path, output_dir: Path, first_day: str,
                  engine: str, master: str) -> None:
    context = multiprocessing.get_context("spawn")
    result = context.Queue()
    with recorder.stage(f"feature build, {engine} engine") as stage:
        process = context.Process(target=_feature_build, args=(
            str(data_dir), str(output_dir), first_day, f"{stages.END_DATE}", engine, master,
            result))
        process.start()
        stage.tree_pid = process.pid  # the peak is the build's, Spark's JVM included
        while True:  # a build killed for memory never answers: stop instead of waiting
            try:
                steps, success = result.get(timeout=5)
                break
            except queue.Empty:
                if not process.is_alive():
                    raise RuntimeError(f"the feature build on the {engine} engine died "
                                       f"(exit code {process.exitcode})") from None
        process.join()
        if not success:
            raise RuntimeError(f"the feature build on the {engine} engine failed")
        stage.rows = len(stages._storage(output_dir).stored_days("account_snapshot"))
        stage.note = "(rows: snapshot days) " + ", ".join(
            f"{step} {steps[step]:.0f} s" for step in ("events", "usage_rollup",
                                                        "account_snapshot") if step in steps)


def champion(recorder: stages.Recorder, data_dir: Path, output_dir: Path) -> None:
    """A champion from five month-end snapshots (run.py's stand-in: the morning run's cost
    does not depend on how the model was trained)."""
    import pandas as pd

    from features.contract import CONTRACT, read_table
    from features.row_checks import check_table

    settings = stages._settings(data_dir, output_dir)
    tables = {}
    for table in CONTRACT:
        path = settings.table_file(table)
        if table != "events" and path is not None:
            tables[table] = check_table(table, read_table(path, table, settings.mapping()),
                                        source_file=path.name,
                                        now=settings.data.current_time()).accepted
    stages.recent_champion(recorder, {"settings": settings, "tables": tables,
                                      "first_day": pd.Timestamp("2025-05-01")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--engines", nargs="+", default=["local", "spark"],
                        choices=["local", "spark"])
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--daily-only", action="store_true",
                        help="only the morning run, on the last 91 event days")
    parser.add_argument("--readme", action="store_true")
    args = parser.parse_args()
    recorder = stages.Recorder()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        data_dir = stages.generate_data(recorder, args.accounts, args.months, workdir,
                                        event_grain_fraction=0.2)
        days = sorted(p.stem for p in (data_dir / "events").glob("*.parquet"))
        first_day = days[-91] if args.daily_only else days[0]
        for engine in args.engines:
            output_dir = workdir / f"out_{engine}"
            feature_build(recorder, data_dir, output_dir, first_day, engine,
                          args.spark_master)
            champion(recorder, data_dir, output_dir)
            os.environ["ACCOUNT_HEALTH_ENGINE"] = engine  # the daily run's process inherits it
            os.environ["ACCOUNT_HEALTH_SPARK_MASTER"] = args.spark_master
            stages.daily_run(recorder, stages._settings(data_dir, output_dir),
                             f"{engine} engine")
    rows = [f"| {s.name} | {s.seconds:,.1f} | {s.rows:,} | {s.peak_gib:.2f} | {s.note} |"
            for s in recorder.stages]
    slowest = [f"- slowest steps of the morning run ({label}): " + ", ".join(
        f"{step} {seconds:.1f} s" for step, seconds in
        sorted(steps.items(), key=lambda item: -item[1])[:8])
        for label, steps in recorder.steps.items()]
    scope = "the last 91 days" if args.daily_only else f"{args.months} months"
    body = (f"{args.accounts:,} accounts, {scope} of event day files; Spark in "
            f"`{args.spark_master}`. Each engine builds the features of {scope} through the "
            "Dagster assets (ingestion, rollups, snapshots) into its own output, then runs "
            "the morning's daily job for the last day, each in a process of its own.\n\n"
            "| stage | wall s | rows | peak RSS GiB | note |\n|:--|--:|--:|--:|:--|\n"
            + "\n".join(rows) + "\n\n" + "\n".join(slowest))
    print("\n" + body)
    if args.readme:
        write_section(f"Engines at {args.accounts:,} accounts × {args.months} months"
                      + (" (morning run)" if args.daily_only else ""),
                      "benchmarks/engines.py " + " ".join(sys.argv[1:]), body)


if __name__ == "__main__":
    main()
