"""Model code without Dagster: churn and expansion models, scoring, alerts, analysis and
reports, and what they share (model inputs, walk-forward folds, metrics, promotion, MLflow)."""

__all__ = ["alerts", "analysis", "churn", "expansion", "inputs", "metrics", "promotion",
           "reports", "scoring", "tracking", "walk_forward"]
