"""The expansion propensity model and the day's scored opportunities."""

__all__ = ["model", "opportunities"]
