"""The first-run benchmark reads the run's own progress lines: a stage's steps summed over
each of its jobs, whose times count from their own start."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from first_run import stages  # noqa: E402

OUTPUT = """
[3/5] walk-forward validation (job train_churn_models)  (35 s since start)
     0.2 s  activation done
    72.1 s  churn_model done

[4/5] scores and alerts (job daily_scoring)  (110 s since start)
     8.8 s  account_scores done
    19.1 s  work_items done
     0.5 s  account_scores done
    11.3 s  daily_report done

finished in 143 s
"""


def test_a_stage_of_two_jobs_adds_both_jobs_steps():
    rows = {row["stage"]: row for row in stages(OUTPUT)}
    training = rows["walk-forward validation (job train_churn_models)"]
    assert (training["wall_s"], training["steps_s"]) == (75, pytest.approx(72.1))
    scoring = rows["scores and alerts (job daily_scoring)"]
    assert scoring["wall_s"] == 33
    assert scoring["steps_s"] == pytest.approx(19.1 + 11.3)
