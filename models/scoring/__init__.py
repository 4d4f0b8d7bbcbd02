"""A day's scores: churn risk, health score and band, reasons and the playbook's action."""

__all__ = ["config", "health_bands", "playbook", "reasons", "scores"]
