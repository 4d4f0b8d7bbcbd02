"""Walk-forward ROC AUC of every candidate model across many exports, beside the textbook
method, on the same folds and rows.

The textbook method: 28-day counts of every event name (from the raw events), tenure, MRR
and seats, log-scaled and standardised, in an L2 logistic regression. The exports: the
project's own demo (a B2B analytics product, 18 months) and a team-messaging product (a
year, churn led by behaviour the fixed usage features do not name), each at three sizes
and three seeds. One export's AUC moves by a few hundredths by chance; a modelling choice
is judged by the whole table.

    .venv/bin/python benchmarks/candidates.py --readme          # 18 exports (~10 minutes)
    .venv/bin/python benchmarks/candidates.py --sizes 300 --seeds 1   # a quick look

Writes its table into benchmarks/README.md (section "Candidate models") with --readme.
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
from models.churn.evaluation import CANDIDATES, evaluate_walk_forward  # noqa: E402
from models.inputs import LABEL  # noqa: E402
from models.metrics import SURVIVAL_HORIZONS, status_at  # noqa: E402
from pipelines.resources import AccountHealthSettings  # noqa: E402

END = date(2026, 10, 31)
TEXTBOOK_WINDOW_DAYS = 28
SECTION = "Candidate models"
DEMOS = {"analytics": 7, "messaging": 11}  # demo -> first seed


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


def textbook_predictions(training: pd.DataFrame, counts: pd.DataFrame, folds) -> np.ndarray:
    """Out-of-fold probabilities of the textbook logistic regression, fold by fold in the
    order of ``folds`` (the order ``evaluate_walk_forward`` scores them)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    design = np.log1p(pd.concat(
        [counts.drop(columns=["account_id", "as_of_date"]),
         training[["tenure_days", "mrr", "seats"]].astype(float).reset_index(drop=True)],
        axis=1).fillna(0.0).clip(lower=0))
    predicted = []
    for fold in folds:
        train = fold.train_mask(training["as_of_date"])
        test = fold.test_mask(training["as_of_date"])
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        model.fit(design[train], training.loc[train, LABEL])
        predicted.append(model.predict_proba(design[test])[:, 1])
    return np.concatenate(predicted)


def horizon_aucs(predictions: pd.DataFrame, score: str) -> dict[int, float]:
    """ROC AUC of ``score`` for churn within each horizon, on rows whose status is known
    (a ranking's AUC does not depend on how its risk is spread over time)."""
    from sklearn.metrics import roc_auc_score

    aucs = {}
    for horizon in SURVIVAL_HORIZONS:
        status = status_at(predictions["duration_days"], predictions["churn_observed"],
                           horizon)
        known = ~np.isnan(status)
        aucs[horizon] = float(roc_auc_score(status[known], predictions[score][known]))
    return aucs


def training_rows(demo: str, accounts: int, seed: int,
                  cache: Path | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The export's closed-label training rows and their textbook counts (cached)."""
    name = f"{demo}_{accounts}_{seed}"
    if cache and (cache / f"{name}.parquet").exists():
        return (pd.read_parquet(cache / f"{name}.parquet"),
                pd.read_parquet(cache / f"{name}_textbook.parquet"))
    raw = (demo_data.generate(demo_data.DemoConfig(accounts=accounts, months=18, seed=seed,
                                                   end_date=END))
           if demo == "analytics" else
           messaging_demo.generate(messaging_demo.MessagingDemoConfig(
               accounts=accounts, months=12, seed=seed, end_date=END)))
    tables = validated(raw)
    training = training_set_from_tables(tables, last_data_day=pd.Timestamp(END),
                                        horizon_days=90)
    training = training[training["label_complete"]].reset_index(drop=True)
    counts = textbook_features(tables["events"], training)
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
        training.to_parquet(cache / f"{name}.parquet")
        counts.to_parquet(cache / f"{name}_textbook.parquet")
    return training, counts


def measure(demo: str, accounts: int, seed: int, cache: Path | None) -> dict:
    started = time.perf_counter()
    training, counts = training_rows(demo, accounts, seed, cache)
    settings = AccountHealthSettings(data_dir=".", output_dir=".")
    folds = settings.training.walk_forward_folds(training["as_of_date"])
    result = evaluate_walk_forward(training, folds)
    predictions = result.predictions.assign(
        p_textbook_raw=textbook_predictions(training, counts, folds))
    row = {"demo": demo, "accounts": accounts, "seed": seed, "folds": len(folds),
           "churners": int(predictions[LABEL].sum())}
    for model in (*CANDIDATES, "textbook_raw"):
        for horizon, auc in horizon_aucs(predictions, f"p_{model}").items():
            row[f"{model} {horizon}d"] = auc
    row["champion"] = result.chosen
    row["champion 90d"] = row[f"{result.chosen} 90d"]
    row["champion - textbook"] = row["champion 90d"] - row["textbook_raw 90d"]
    row["seconds"] = time.perf_counter() - started
    return row


def summary(table: pd.DataFrame) -> list[str]:
    margin = table["champion - textbook"]
    worst = table.loc[margin.idxmin()]
    return [f"- mean margin of the champion over the textbook method at 90 days: "
            f"{margin.mean():+.3f} over {len(table)} exports (target at least +0.020)",
            f"- smallest margin: {margin.min():+.3f} ({worst['demo']}, {worst['accounts']} "
            f"accounts, seed {worst['seed']}; target at least -0.005)",
            "- champions chosen: " + ", ".join(f"{name} {count}" for name, count in
                                              table["champion"].value_counts().items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 800, 2000])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per demo and size")
    parser.add_argument("--cache", type=Path, help="keep generated training rows here")
    parser.add_argument("--readme", action="store_true")
    args = parser.parse_args()
    rows = []
    for accounts in args.sizes:
        for offset in range(args.seeds):
            for demo, first_seed in DEMOS.items():
                rows.append(measure(demo, accounts, first_seed + offset, args.cache))
                print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format="%.3f"),
                      flush=True)
    table = pd.DataFrame(rows)
    markdown = table.to_markdown(index=False, floatfmt=".3f")
    lines = summary(table)
    print(markdown, *lines, sep="\n")
    if args.readme:
        command = ("benchmarks/candidates.py --readme" if args.sizes == [300, 800, 2000]
                   and args.seeds == 3 else
                   f"benchmarks/candidates.py --sizes {' '.join(map(str, args.sizes))} "
                   f"--seeds {args.seeds} --readme")
        write_section(SECTION, command,
                      "Pooled walk-forward ROC AUC of churn within 30, 60 and 90 days, every "
                      "candidate on the same folds and rows; `textbook_raw`: the textbook "
                      "method on 28-day counts of every event name from the raw events; "
                      "`champion`: the candidate the product chose (the simplest within "
                      "one standard error of the best mean per-origin AUC).\n\n"
                      + markdown + "\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
