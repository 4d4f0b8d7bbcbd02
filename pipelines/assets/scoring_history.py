"""Scoring layer, score history: the few columns of each day's scores that later days read
over weeks (slides in health, an account page's trend), small enough to load by the month."""

import pandas as pd
from dagster import AssetIn, asset

from pipelines.partitions import daily_asset

#: The columns kept, with every component score (``health_<component>``): what a trend or
#: a slide reads.
HISTORY_COLUMNS = ["account_id", "as_of", "health_score", "churn_probability", "band"]


@asset(
    ins={"account_scores": AssetIn()},
    **daily_asset("scoring"),
)
def score_history(account_scores: pd.DataFrame) -> pd.DataFrame:
    """Each day's health, risk, band and component scores per account: the columns of
    ``account_scores`` that the alerts (a slide over three weeks) and the account pages
    (90 days of trend) read."""
    components = [c for c in account_scores if c.startswith("health_") and c != "health_score"]
    return account_scores[[*HISTORY_COLUMNS, *components]]
