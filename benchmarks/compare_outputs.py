"""Compare the stored outputs of two runs, asset by asset: the check that a change meant to
leave behaviour alone did.

    .venv/bin/python benchmarks/compare_outputs.py OUTPUT_A OUTPUT_B

Every Parquet file under ``assets/`` of either directory is read and compared frame for
frame (values, types, order), and so are the CSV exports; columns that record when or by
which run something was made (run ids, creation times, MLflow URIs) are left out. Prints
one line per difference and exits non-zero when there is any.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

#: Columns that say when or in which run a row was made, not what it says.
RUN_COLUMNS = re.compile(r"(^|_)(run_id|created_at|logged_at|model_uri|artifact_uri|"
                         r"mlflow_run|training_run)$")
#: Outputs that hold a run's own bookkeeping rather than results.
SKIPPED = {"event_vocabulary"}


def _frame(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    return frame.drop(columns=[c for c in frame.columns if RUN_COLUMNS.search(str(c))])


def compare(first: Path, second: Path) -> list[str]:
    """The differences between the outputs of two runs, one line each."""
    differences = []
    for kind, pattern in (("assets", "assets/**/*.parquet"), ("exports", "*/*.csv"),
                          ("reports", "reports/*.csv")):
        names = ({p.relative_to(first) for p in first.glob(pattern)}
                 | {p.relative_to(second) for p in second.glob(pattern)})
        for name in sorted(names):
            if name.parts[1 if kind == "assets" else 0].removesuffix(".parquet") in SKIPPED:
                continue
            a, b = first / name, second / name
            if not (a.exists() and b.exists()):
                differences.append(f"{name}: only in {first if a.exists() else second}")
                continue
            try:
                pd.testing.assert_frame_equal(_frame(a), _frame(b), check_like=False)
            except AssertionError as error:
                differences.append(f"{name}: {str(error).splitlines()[0]}")
    return differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    args = parser.parse_args()
    differences = compare(args.first, args.second)
    compared = len(list(args.first.glob("assets/**/*.parquet")))
    for line in differences:
        print(line)
    print(f"{len(differences)} differences over {compared} stored files of {args.first}")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
