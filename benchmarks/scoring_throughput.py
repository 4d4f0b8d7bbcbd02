"""Daily scoring throughput: accounts/s for risk + SHAP reasons + Cox time-to-churn.

Trains the model bundle once on a demo training set, then scores N accounts in a fresh
child process per size, so each size reports its own peak memory. The N feature rows are
real demo snapshot rows drawn with replacement under new account ids (the models' cost does
not depend on where rows came from). Timed: the whole of ``score_accounts`` (calibrated
risk, Cox survival curve, health and bands, SHAP values for every account, top reasons with
sentences, playbook), and its parts.

    .venv/bin/python benchmarks/scoring_throughput.py --accounts 20000 200000
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

END_DATE = date(2026, 10, 31)


def _rss_gib(field: str) -> float:
    """VmHWM (peak) or VmRSS (now) of this process. Not ru_maxrss: a child spawned by a big
    parent inherits the parent's ru_maxrss, while VmHWM starts afresh at exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # not Linux


def prepare(workdir: Path, training_accounts: int) -> None:
    """Train the bundle and keep a pool of feature rows to draw accounts from."""
    from account_health.demo_data import DemoConfig, generate
    from features.row_checks import check_table
    from features.training_set import training_set_from_tables
    from models.churn.bundle import train_bundle

    config = DemoConfig(accounts=training_accounts, months=18, end_date=END_DATE)
    now = pd.Timestamp(END_DATE, tz="UTC") + pd.Timedelta(days=1)
    tables = {}
    for name, frame in generate(config).items():
        frame.insert(0, "source_row", range(1, len(frame) + 1))
        tables[name] = check_table(name, frame, source_file=name, now=now).accepted
    training = training_set_from_tables(tables, last_data_day=pd.Timestamp(END_DATE),
                                        horizon_days=90)
    bundle = train_bundle(training, horizon_days=90)
    (workdir / "bundle.pkl").write_bytes(pickle.dumps(bundle))
    training.to_parquet(workdir / "pool.parquet")


def measure(workdir: Path, accounts: int) -> dict:
    """Runs in the child: score ``accounts`` rows and time the parts."""
    from models.inputs import model_input
    from models.scoring.reasons import top_reasons
    from models.scoring.scores import score_accounts

    bundle = pickle.loads((workdir / "bundle.pkl").read_bytes())
    pool = pd.read_parquet(workdir / "pool.parquet")
    rows = np.random.default_rng(0).integers(0, len(pool), accounts)
    frame = pool.iloc[rows].reset_index(drop=True)
    frame["account_id"] = [f"B{i:07d}" for i in range(accounts)]
    frame["as_of_date"] = pd.Timestamp(END_DATE)
    frame["event_timestamp"] = pd.Timestamp(END_DATE, tz="UTC") + pd.Timedelta(days=1)
    baseline_gib = _rss_gib("VmRSS")

    started = time.perf_counter()
    scores = score_accounts(frame, bundle, model_version="bench")
    total_s = time.perf_counter() - started
    peak_gib = _rss_gib("VmHWM")
    assert len(scores) == accounts and scores["reasons"].notna().all()

    started = time.perf_counter()
    bundle.predict(None, model_input(frame))
    predict_s = time.perf_counter() - started
    started = time.perf_counter()
    contributions = bundle.classifier.shap_values(frame)
    shap_s = time.perf_counter() - started
    started = time.perf_counter()
    top_reasons(contributions, frame, k=3)
    reasons_s = time.perf_counter() - started
    return {"accounts": accounts, "scoring_total_s": total_s,
            "accounts_per_s": accounts / total_s,
            "risk_and_survival_s": predict_s, "shap_values_s": shap_s,
            "reasons_s": reasons_s, "rss_before_scoring_gib": baseline_gib,
            "peak_rss_gib": peak_gib}


def main() -> None:
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[20000, 200000])
    parser.add_argument("--training-accounts", type=int, default=2000)
    parser.add_argument("--readme", action="store_true",
                        help="write the table into benchmarks/README.md (make bench does)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.accounts[0])))
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        prepare(workdir, args.training_accounts)
        print(f"trained on a {args.training_accounts}-account demo in "
              f"{time.perf_counter() - started:.0f}s", flush=True)
        rows = []
        for accounts in args.accounts:
            child = subprocess.run(
                [sys.executable, __file__, "--child", str(workdir), "--accounts",
                 str(accounts)], check=True, capture_output=True, text=True)
            rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
            print(pd.Series(rows[-1]).to_string(float_format=lambda v: f"{v:,.2f}"),
                  flush=True)
            print()
    # as text: a numeric column would be printed with the floats' two decimals
    frame = pd.DataFrame(rows).assign(accounts=lambda f: f["accounts"].map("{:,}".format))
    table = frame.to_markdown(index=False, floatfmt=",.2f", colalign=["right"] * len(
        frame.columns))
    print(table)
    if args.readme:
        from readme import write_section  # benchmarks/readme.py

        write_section("Daily scoring", "benchmarks/scoring_throughput.py "
                      + " ".join(sys.argv[1:]),
                      "Everything `score_accounts` does (calibrated risk, Cox survival, health "
                      "and bands, SHAP values for every account, reasons, playbook), one fresh "
                      "process per size; seconds and peak resident memory.\n\n" + table)


if __name__ == "__main__":
    main()
