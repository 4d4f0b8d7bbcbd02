"""Self-contained HTML pages (no server, no network): the daily report, leading indicators,
interventions; their charts, and the plots logged to MLflow."""

__all__ = ["charts", "daily", "html", "interventions", "plots", "signals"]
