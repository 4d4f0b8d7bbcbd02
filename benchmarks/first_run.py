"""The first run a new user sees: `make run` on the default demo, from an empty output folder
with the demo data already generated. Prints each stage's wall time, the part of each job
that is Dagster's outside the steps (the job's wall time less the time to its last step),
and the run's peak memory; then `account-health check-data` on an export of about 5 million
events (wall time, peak memory) and, with --setup, `make`'s setup on a clean clone.

    .venv/bin/python benchmarks/first_run.py [--setup] [--readme]

Writes its table into benchmarks/README.md (section "The first run") with --readme.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from readme import write_section  # noqa: E402  (benchmarks/readme.py)

from account_health.demo_data import DemoConfig  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SECTION = "The first run"
STAGE = re.compile(r"^\[(\d)/5\] (.+?)  \((\d+) s since start\)$")
STEP_DONE = re.compile(r"^\s+([\d.]+) s  (\S+) done$")
FINISHED = re.compile(r"^finished in (\d+) s$")
#: Demo accounts giving an export of about five million events (18 months).
CHECK_ACCOUNTS = 2200


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak memory of the command's process in GiB, its output)."""
    with tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=output,
                                   stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak, not the largest
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{text[-5000:]}")
    return wall, usage.ru_maxrss / 1024**2, text  # ru_maxrss: KiB on Linux


def stages(output: str) -> list[dict]:
    """Per stage of the run's output: its title, wall seconds and the seconds to the last
    finished step of each of its jobs, summed (0 for a stage without job steps). A job's
    progress lines count from its own start, so a time lower than the one before begins
    the stage's next job."""
    rows, current, last = [], None, 0.0
    for line in output.splitlines():
        if (match := STAGE.match(line)) or (match := FINISHED.match(line)):
            at = int(match.groups()[-1])
            if current is not None:
                current["wall_s"] = at - current["start"]
                rows.append(current)
            current = (None if FINISHED.match(line) else
                       {"stage": match.group(2), "start": at, "steps_s": 0.0})
            last = 0.0
        elif current is not None and (match := STEP_DONE.match(line)):
            at_step = float(match.group(1))
            current["steps_s"] += at_step - last if at_step >= last else at_step
            last = at_step
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", action="store_true",
                        help="also time make's setup (uv sync) on a clean clone")
    parser.add_argument("--readme", action="store_true", help="write benchmarks/README.md")
    args = parser.parse_args()
    python = str(ROOT / ".venv" / "bin" / "python")
    demo = ROOT / "output" / "demo_data"
    _demo(demo, DemoConfig().accounts)
    lines = []
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "ACCOUNT_HEALTH_DATA_DIR": str(demo),
               "ACCOUNT_HEALTH_OUTPUT_DIR": str(Path(scratch) / "output")}
        env.pop("DAGSTER_HOME", None)
        wall, peak, output = _run([python, "-m", "account_health.run"], env)
        rows = stages(output)
        bookkeeping = sum(max(r["wall_s"] - r["steps_s"], 0) for r in rows if r["steps_s"])
        lines.append("| what | wall time | of it Dagster outside the steps | peak memory |")
        lines.append("|---|--:|--:|--:|")
        lines.append(f"| **`make run` on the demo, data present** | **{wall:.0f} s** | "
                     f"{bookkeeping:.0f} s | {peak:.1f} GiB |")
        for row in rows:
            own = f"{max(row['wall_s'] - row['steps_s'], 0):.0f} s" if row["steps_s"] else ""
            stage = row["stage"].replace(str(demo), "the demo export")
            lines.append(f"| &nbsp;&nbsp;{stage} | {row['wall_s']} s | {own} | |")
        export = Path(scratch) / "check_export"
        _demo(export, CHECK_ACCOUNTS)
        events = _parquet_rows(export / "events.parquet")
        wall, peak, _ = _run([python, "-m", "account_health.cli", "check-data", str(export)],
                             {**env, "ACCOUNT_HEALTH_OUTPUT_DIR": str(Path(scratch) / "o")})
        lines.append(f"| `account-health check-data`, {events / 1e6:.1f}M events | "
                     f"{wall:.0f} s | | {peak:.2f} GiB |")
    if args.setup:
        lines.append(_setup_line())
    table = "\n".join(lines)
    print(table)
    if args.readme:
        write_section(SECTION, "benchmarks/first_run.py" + (" --setup" if args.setup else "")
                      + " --readme",
                      "`make run` from an empty output folder with the demo data generated "
                      "(2,000 accounts, 18 months, 4.6M events); the stages are the run's "
                      "own progress lines. \"Dagster outside the steps\" is each job's wall "
                      "time less the time to its last step (run start and end); the "
                      "per-day materialisation records are written inside the steps and "
                      "count in their time. Peak memory is the largest single process's.\n\n"
                      + table)


def _demo(path: Path, accounts: int) -> None:
    """The demo export at ``path`` (generated unless there), in a child process: a child's
    peak memory would count what this process held when it started the child."""
    subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c",
                    "import sys; from pathlib import Path; from account_health.demo_data "
                    "import DemoConfig, default_end_date; from account_health.run import "
                    "ensure_demo_data; ensure_demo_data(Path(sys.argv[1]), DemoConfig("
                    "accounts=int(sys.argv[2]), end_date=default_end_date()))",
                    str(path), str(accounts)], cwd=ROOT, check=True, capture_output=True)


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def _setup_line() -> str:
    """`make .venv/.synced` (pip installs uv, uv syncs the lock) in a clean clone."""
    with tempfile.TemporaryDirectory() as scratch:
        clone = Path(scratch) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        started = time.perf_counter()
        subprocess.run(["make", ".venv/.synced"], cwd=clone, check=True,
                       capture_output=True)
        wall = time.perf_counter() - started
    return (f"| setup on a clean clone (`make`'s venv, uv sync from the lock; package "
            f"cache warm) | {wall:.0f} s | | |")


if __name__ == "__main__":
    main()
