"""benchmarks/compare_outputs.py finds what differs between two runs' outputs."""

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from compare_outputs import compare  # noqa: E402


def write(root: Path, name: str, frame: pd.DataFrame) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path) if path.suffix == ".parquet" else frame.to_csv(path, index=False)


def test_same_results_match_whatever_run_made_them_and_a_changed_value_does_not(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for root, run in ((first, "r1"), (second, "r2")):
        write(root, "assets/account_scores/2026-01-01.parquet",
              pd.DataFrame({"account_id": ["x", "y"], "risk": [0.1, 0.2], "run_id": run}))
        write(root, "scores/2026-01-01.csv", pd.DataFrame({"account_id": ["x"], "risk": [0.1]}))
    assert compare(first, second) == []
    write(second, "scores/2026-01-01.csv", pd.DataFrame({"account_id": ["x"], "risk": [0.3]}))
    write(second, "assets/churn_by_kind.parquet", pd.DataFrame({"n": [1]}))
    differences = compare(first, second)
    assert len(differences) == 2
    assert differences[0].startswith("assets/churn_by_kind.parquet: only in")
    assert differences[1].startswith("scores/2026-01-01.csv")
