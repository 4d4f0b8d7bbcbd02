"""What customer success is told: alerts on score changes and early-warning signals, routed
to owners by severity and escalated when unanswered; each CSM's work queue."""

__all__ = ["engine", "routing", "signals", "work_queue"]
