"""The scale benchmark still runs end to end (on tiny data; figures are not checked here)."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def benchmark(*args: str) -> subprocess.CompletedProcess:
    # in a process of its own, as people run it (it starts worker processes of its own)
    return subprocess.run([sys.executable, "benchmarks/run.py", "--accounts", "400",
                           "--months", "12", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def step_table(printed: str, label: str) -> dict[str, list[float]]:
    """``{step: [seconds, peak GiB]}`` from the benchmark's table of a daily run's steps."""
    after = printed.split(f"The slowest steps of the daily run ({label}):\n\n")[1]
    lines = after.split("\n\n")[0].splitlines()  # the table ends at the first blank line
    rows = [line.split("|")[1:-1] for line in lines if line.startswith("| ")]
    return {row[0].strip(): [float(v) for v in row[1:]] for row in rows[1:]}


def test_the_daily_only_benchmark_runs_every_stage_and_the_real_daily_job(tmp_path):
    result = benchmark("--daily-only", "--history-ratio", "--event-grain-fraction", "0.5",
                       "--workdir", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    stages = {line.split("|")[1].strip(): line.split("|")[2:] for line in table}
    assert "generation" in stages
    daily = stages["end-to-end daily run (12 months of history)"]
    assert int(daily[1]) > 0  # accounts scored by the Dagster job
    assert float(daily[3]) > 0  # peak memory of the run's own process
    assert "daily run: 12 ÷ 6 months of history" in result.stdout
    steps = step_table(result.stdout, "12 months of history")
    assert steps["account_scores"][0] > 0 and steps["account_scores"][1] > 0  # s, GiB
    # as quiet as make run: no library deprecation notes, no MLflow upload progress bars
    printed = result.stdout + result.stderr
    assert "DeprecationWarning" not in printed
    assert "Downloading artifacts" not in printed and "Uploading artifacts" not in printed
    assert "remaining)" not in printed  # DuckDB's progress bar
    assert "Successfully registered model" not in printed  # the run's summary says it
    # the kept workdir runs the morning again, alone, with its slowest steps
    again = benchmark("--workdir", str(tmp_path), "--daily-again")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "end-to-end daily run (12 months of history)" in again.stdout
    assert "account_scores" in step_table(again.stdout, "12 months of history")
