"""Training with 6 walk-forward folds at scale: monthly snapshots, labels, validation, final fit.

Generates the streamed demo export, validates its tables, computes the month-end snapshots
(one date at a time, each from its own 90 days of the export's event files, in bounded
memory), then times ``evaluate_walk_forward`` over 6 rolling-origin folds plus the final
fit of the XGBoost classifier and the Cox model, printing wall seconds and peak memory.

    .venv/bin/python benchmarks/training_walk_forward.py --accounts 200000

Plain figures, no timing asserts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import run as stages  # noqa: E402  (benchmarks/run.py: the shared stages and recorder)


def main() -> None:
    from features.contract import day_files
    from features.snapshot import EVENT_LOOKBACK_DAYS, compute_snapshots, feature_tables
    from features.training_set import label_rows, training_as_of_dates
    from models.churn.bundle import train_bundle
    from models.churn.evaluation import evaluate_walk_forward
    from models.walk_forward import walk_forward_folds

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=200000)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--folds", type=int, default=6)
    parser.add_argument("--readme", action="store_true",
                        help="write the table into benchmarks/README.md")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    recorder = stages.Recorder()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = stages.generate_data(recorder, args.accounts, args.months, Path(tmp), 0.2)
        history = stages.ingest(recorder, data_dir, Path(tmp), event_days=1)
        tables, files = history["tables"], day_files(data_dir / "events")
        last = pd.Timestamp(stages.END_DATE)
        # four-weekly, to bound the cost at scale (the product's default is weekly)
        dates = training_as_of_dates(min(files), last, horizon_days=90, cadence_days=28)
        with recorder.stage(f"four-weekly snapshots ({len(dates)} dates, one at a time)") as stage:
            snapshot = pd.concat([compute_snapshots(
                pd.DatetimeIndex([date]), events=[
                    path for day, path in files.items()
                    if date - pd.Timedelta(days=EVENT_LOOKBACK_DAYS) <= day <= date],
                **feature_tables(tables)) for date in dates], ignore_index=True)
            stage.rows = len(snapshot)
        labels = label_rows(tables["subscriptions"], dates, horizon_days=90,
                            observed_until=last)
        training = labels.drop(columns="event_timestamp").merge(
            snapshot.drop(columns="event_timestamp"), on=["account_id", "as_of_date"])
        del snapshot
        with recorder.stage(f"training + {args.folds}-fold walk-forward validation") as stage:
            folds = walk_forward_folds(training["as_of_date"], n_folds=args.folds,
                                       horizon_days=90)
            result = evaluate_walk_forward(training, folds)
            train_bundle(training, horizon_days=90)
            stage.rows = len(training)
            auc = result.pooled_metrics.set_index("model")["roc_auc"].round(3)
            stage.note = "walk-forward ROC AUC " + ", ".join(f"{m} {v}" for m, v in auc.items())
    table = pd.DataFrame([{"stage": s.name, "wall s": s.seconds, "rows": s.rows,
                           "peak RSS GiB": s.peak_gib, "note": s.note}
                          for s in recorder.stages]).to_markdown(index=False, floatfmt=",.1f")
    print("\n" + table)
    if args.readme:
        from readme import write_section  # benchmarks/readme.py

        write_section(f"Training at {args.accounts:,} accounts × {args.months} months",
                      "benchmarks/training_walk_forward.py " + " ".join(sys.argv[1:]),
                      "Four-weekly training dates, every candidate and baseline on "
                      f"{args.folds} walk-forward folds, then the final bundle.\n\n" + table)


if __name__ == "__main__":
    main()
