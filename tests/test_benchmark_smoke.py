"""The scale benchmark still runs end to end (on tiny data; figures are not checked here)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import run as benchmark  # noqa: E402


def test_the_daily_only_benchmark_runs_every_stage_and_the_real_daily_job():
    recorder, ratios = benchmark.measure(
        accounts=400, months=12, feast_file_limit=0, feast_file_timeout=0,
        history_ratio=True, event_grain_fraction=0.5, daily_only=True)
    stages = {stage.name: stage for stage in recorder.stages}
    assert "generation" in stages
    daily = stages["end-to-end daily run (12 months of history)"]
    assert daily.rows > 0  # accounts scored by the Dagster job
    assert daily.own_peak_gib > 0  # measured in the run's own process
    assert set(ratios) == {"daily run: 12 ÷ 6 months of history"}
