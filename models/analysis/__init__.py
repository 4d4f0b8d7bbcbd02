"""How the models and the team are doing: drift, realised outcomes, model quality, leading
indicators and the effect of interventions."""

__all__ = ["drift", "interventions", "leading_indicators", "model_quality", "outcomes"]
