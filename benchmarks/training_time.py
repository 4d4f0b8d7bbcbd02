"""Training + walk-forward validation time of the churn models at several account counts.

Builds the monthly training set straight from demo tables (no Feast; see
features.training_set.training_set_from_tables), then times the 6-fold walk-forward
evaluation (XGBoost, Cox, baselines) and the final fit of the deployable bundle.

    .venv/bin/python benchmarks/training_time.py --accounts 2000 20000
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings
from datetime import date

import pandas as pd

from account_health.demo_data import DemoConfig, generate
from features.training_set import training_set_from_tables
from features.validation import validate_table
from models.bundle import train_bundle
from models.evaluation import evaluate_walk_forward, pooled_summary
from models.validation import walk_forward_folds

END_DATE = date(2026, 10, 31)


def measure(accounts: int, months: int, n_folds: int) -> dict:
    config = DemoConfig(accounts=accounts, months=months, end_date=END_DATE)
    now = pd.Timestamp(END_DATE, tz="UTC") + pd.Timedelta(days=1)
    started = time.perf_counter()
    tables = {}
    for name, frame in generate(config).items():
        frame.insert(0, "source_row", range(1, len(frame) + 1))
        tables[name] = validate_table(name, frame, source_file=name, now=now).accepted
    training = training_set_from_tables(tables, last_data_day=pd.Timestamp(END_DATE),
                                        horizon_days=90)
    del tables
    prepare_s = time.perf_counter() - started
    folds = walk_forward_folds(training["as_of_date"], n_folds=n_folds, horizon_days=90)
    started = time.perf_counter()
    result = evaluate_walk_forward(training, folds)
    validate_s = time.perf_counter() - started
    started = time.perf_counter()
    train_bundle(training, horizon_days=90)
    train_s = time.perf_counter() - started
    pooled = pooled_summary(result.pooled_metrics)
    return {"accounts": accounts, "training_rows": len(training), "folds": len(folds),
            "prepare_data_s": prepare_s, "walk_forward_validation_s": validate_s,
            "final_training_s": train_s, "training_plus_validation_s": validate_s + train_s,
            "xgboost_roc_auc": pooled.loc["xgboost", "roc_auc"],
            "cox_concordance": pooled.loc["cox", "concordance"],
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}


def main() -> None:
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--folds", type=int, default=6)
    args = parser.parse_args()
    rows = []
    for accounts in args.accounts:
        rows.append(measure(accounts, args.months, args.folds))
        print(pd.Series(rows[-1]).to_string(float_format=lambda v: f"{v:,.2f}"), flush=True)
        print()
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=",.2f"))


if __name__ == "__main__":
    main()
