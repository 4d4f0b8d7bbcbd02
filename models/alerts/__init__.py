"""What customer success is told: alerts on score changes and each CSM's work queue."""

__all__ = ["score_changes", "work_queue"]
