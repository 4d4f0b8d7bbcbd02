"""What fitting on a stratified sample of accounts costs in walk-forward accuracy and saves
in time (models/training_sample.py): the same folds scored on every account, with the models
fitted on every training row and on samples of half and a quarter of them.

    .venv/bin/python benchmarks/training_sample.py [--accounts 4000] [--readme]

Writes its table into benchmarks/README.md (section "Training on a sample of accounts").
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from candidates import validated  # noqa: E402  (benchmarks/candidates.py)
from readme import write_section  # noqa: E402  (benchmarks/readme.py)

from account_health import demo_data  # noqa: E402
from features.training_set import training_set_from_tables  # noqa: E402
from models.churn.evaluation import evaluate_walk_forward  # noqa: E402
from models.walk_forward import walk_forward_folds  # noqa: E402

SECTION = "Training on a sample of accounts"
END = date(2026, 10, 31)
SHARES = (1.0, 0.5, 0.25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=4000)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--readme", action="store_true", help="write benchmarks/README.md")
    args = parser.parse_args()
    config = demo_data.DemoConfig(accounts=args.accounts, months=args.months, seed=1,
                                  end_date=END)
    training = training_set_from_tables(validated(demo_data.generate(config)),
                                        last_data_day=END, horizon_days=90)
    folds = walk_forward_folds(training["as_of_date"], n_folds=args.folds, horizon_days=90)
    rows = []
    for share in SHARES:
        limit = None if share == 1.0 else int(share * len(training))
        started = time.perf_counter()
        result = evaluate_walk_forward(training, folds, max_training_rows=limit)
        seconds = time.perf_counter() - started
        metrics = result.pooled_metrics.set_index("model")
        rows.append(f"| {share:.0%} | {limit or len(training):,} | "
                    f"{metrics.loc['xgboost', 'roc_auc']:.3f} | "
                    f"{metrics.loc['logistic', 'roc_auc']:.3f} | "
                    f"{metrics.loc['cox', 'concordance']:.3f} | "
                    f"{metrics.loc['health_score', 'roc_auc']:.3f} | {seconds:.1f} s |")
        print(rows[-1], flush=True)
    body = (f"Own demo, {args.accounts:,} accounts × {args.months} months, "
            f"{len(training):,} training rows, {len(folds)} walk-forward folds scored on every "
            "account of their origin date; only fitting is sampled.\n\n"
            "| fitted on | rows at most | XGBoost AUC | logistic AUC | Cox concordance | "
            "health-score baseline AUC | walk-forward time |\n"
            "|:--|--:|--:|--:|--:|--:|--:|\n" + "\n".join(rows))
    print(body)
    if args.readme:
        write_section(SECTION, "benchmarks/training_sample.py --readme", body)


if __name__ == "__main__":
    main()
