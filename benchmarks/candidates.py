"""Walk-forward ROC AUC of every candidate model on two demos of different shape, beside the
textbook method, on the same folds and rows.

The textbook method: 28-day counts per event name, tenure, MRR and seats, standardised, in
a logistic regression. The two demos: the project's own (a B2B analytics product, 18
months) and a team-messaging product with a year of history whose churn follows behaviour
the fixed usage features do not name (account_health.messaging_demo).

    .venv/bin/python benchmarks/candidates.py            # both demos, default sizes
    .venv/bin/python benchmarks/candidates.py --quick    # smaller demos (a few minutes)

Writes its table into benchmarks/README.md (section "Candidate models").
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from readme import write_section  # noqa: E402  (benchmarks/readme.py)

from account_health import demo_data, messaging_demo  # noqa: E402
from features.row_checks import check_table  # noqa: E402
from features.training_set import training_set_from_tables  # noqa: E402
from models.churn.evaluation import CANDIDATES, best_candidate, evaluate_walk_forward  # noqa: E402
from models.inputs import LABEL  # noqa: E402
from pipelines.resources import AccountHealthSettings  # noqa: E402

END = date(2026, 10, 31)
TEXTBOOK_WINDOW_DAYS = 28
SECTION = "Candidate models"


def validated(raw: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The demo's tables as ingestion accepts them."""
    now = pd.Timestamp(END, tz="UTC") + pd.Timedelta(days=1)
    tables = {}
    for name, frame in raw.items():
        frame = frame.copy()
        frame.insert(0, "source_row", range(1, len(frame) + 1))
        tables[name] = check_table(name, frame, source_file=name, now=now).accepted
    return tables


def textbook_features(events: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Per (account, as-of date) of ``rows``: events of each name in the trailing 28 days."""
    connection = duckdb.connect()
    connection.register("events", events)
    connection.register("keys", rows[["account_id", "as_of_date"]])
    count = "coalesce(event_count, 1)" if "event_count" in events else "1"
    connection.execute(f"""
        CREATE TEMP TABLE daily AS
        SELECT account_id, event_name, (event_time AT TIME ZONE 'UTC')::DATE AS day,
               sum({count}) AS n FROM events GROUP BY ALL""")
    counts = connection.sql(f"""
        SELECT k.account_id, k.as_of_date, d.event_name, sum(d.n) AS n
        FROM keys k JOIN daily d ON d.account_id = k.account_id
         AND d.day > k.as_of_date::DATE - {TEXTBOOK_WINDOW_DAYS}
         AND d.day <= k.as_of_date::DATE
        GROUP BY ALL""").df()
    connection.close()
    wide = counts.pivot_table(index=["account_id", "as_of_date"], columns="event_name",
                              values="n", fill_value=0).add_prefix("count_28d_")
    return rows[["account_id", "as_of_date"]].merge(
        wide.reset_index(), on=["account_id", "as_of_date"], how="left").fillna(0)


def textbook_auc(training: pd.DataFrame, events: pd.DataFrame, folds) -> float:
    """Pooled walk-forward ROC AUC of the textbook logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    counts = textbook_features(events, training)
    design = pd.concat([counts.drop(columns=["account_id", "as_of_date"]),
                        training[["tenure_days", "mrr", "seats"]].astype(float)
                        .reset_index(drop=True)], axis=1).fillna(0.0)
    labels, predicted = [], []
    for fold in folds:
        train = fold.train_mask(training["as_of_date"])
        test = fold.test_mask(training["as_of_date"])
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        model.fit(design[train], training.loc[train, LABEL])
        predicted.append(model.predict_proba(design[test])[:, 1])
        labels.append(training.loc[test, LABEL].to_numpy())
    return float(roc_auc_score(np.concatenate(labels), np.concatenate(predicted)))


def measure(name: str, raw: dict[str, pd.DataFrame]) -> dict:
    started = time.perf_counter()
    tables = validated(raw)
    training = training_set_from_tables(tables, last_data_day=pd.Timestamp(END),
                                        horizon_days=90)
    training = training[training["label_complete"]].reset_index(drop=True)
    settings = AccountHealthSettings(data_dir=".", output_dir=".")
    folds = settings.walk_forward_folds(training["as_of_date"])
    result = evaluate_walk_forward(training, folds)
    pooled = result.pooled_metrics.set_index("model")["roc_auc"]
    row = {"demo": name, "accounts": tables["accounts"]["account_id"].nunique(),
           "training rows": len(training), "folds": len(folds),
           **{c: pooled[c] for c in CANDIDATES}, "cox": pooled["cox"],
           "health_score": pooled["health_score"], "base_rate": pooled["base_rate"],
           "textbook": textbook_auc(training, tables["events"], folds)}
    row["champion"] = best_candidate(result.pooled_metrics)
    row["champion - textbook"] = row[row["champion"]] - row["textbook"]
    row["seconds"] = time.perf_counter() - started
    return row


def write_readme(table: str, command: str) -> None:
    write_section(SECTION, command,
                  "Pooled walk-forward ROC AUC (churn within 90 days) on the same folds and "
                  "rows; `textbook`: 28-day counts per event name, tenure, MRR and seats in a "
                  "standardised logistic regression.\n\n" + table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller demos")
    args = parser.parse_args()
    first = demo_data.DemoConfig(accounts=800 if args.quick else 2000,
                                 months=18, seed=7, end_date=END)
    second = messaging_demo.MessagingDemoConfig(accounts=400 if args.quick else 800,
                                                months=12, end_date=END)
    rows = [measure("analytics (own demo, 18 months)", demo_data.generate(first)),
            measure("messaging (12 months)", messaging_demo.generate(second))]
    table = pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f")
    print(table)
    write_readme(table, "benchmarks/candidates.py" + (" --quick" if args.quick else ""))


if __name__ == "__main__":
    main()
