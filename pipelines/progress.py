"""The progress lines of a run in a terminal: one per finished step, with elapsed time."""

from __future__ import annotations

import logging
import time

from dagster import logger


@logger(description="One line per finished step, with the time since the run began.")
def progress_logger(_init_context) -> logging.Logger:
    started = time.perf_counter()

    class StepLines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            meta = getattr(record, "dagster_meta", None)
            event = meta.get("dagster_event") if isinstance(meta, dict) else None
            if event is None:
                if record.levelno >= logging.WARNING:
                    print(f"  {'':>7}   warning: {record.getMessage().split(' - ')[-1]}")
                return
            kind = event.event_type_value
            if kind in ("STEP_SUCCESS", "STEP_FAILURE"):
                status = "done" if kind == "STEP_SUCCESS" else "FAILED"
                print(f"  {time.perf_counter() - started:6.1f} s  {event.step_key} {status}",
                      flush=True)

    # Dagster reports step events at DEBUG
    lines = logging.Logger("account_health.progress", level=logging.DEBUG)
    lines.addHandler(StepLines())
    return lines
