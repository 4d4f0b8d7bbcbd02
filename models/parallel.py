"""How many worker processes a piece of independent work (folds, signal groups) gets."""

from __future__ import annotations

import os

#: Cells (rows × columns) from which independent tasks run in parallel processes: below
#: it, starting the processes costs more than the tasks.
PARALLEL_MIN_CELLS = 500_000


def worker_processes(cells: int, tasks: int) -> int:
    """One process per core, up to one per task, for work on ``cells`` cells from
    ``PARALLEL_MIN_CELLS`` up; else 1 (run in this process)."""
    if cells < PARALLEL_MIN_CELLS:
        return 1
    return max(1, min(tasks, os.cpu_count() or 1))
