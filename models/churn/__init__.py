"""The churn models: candidates (XGBoost, logistic regression), the Cox survival model, the
naive baselines, their walk-forward evaluation and the deployable bundle."""

__all__ = ["baselines", "bundle", "classifier", "evaluation", "logistic", "survival"]
