"""Models layer, playbook effectiveness: which playbook keeps customers, and what it is
worth."""

import pandas as pd
from dagster import AssetIn, MetadataValue, Output, asset

from models.analysis.playbooks import EFFECT_COLUMNS, playbook_effectiveness
from pipelines.resources import AccountHealthSettings


@asset(group_name="models",
       ins={"intervention_effects": AssetIn(), "cs_activities": AssetIn(),
            "subscriptions": AssetIn()})
def playbook_effects(settings: AccountHealthSettings, intervention_effects: pd.DataFrame,
                     cs_activities: pd.DataFrame | None,
                     subscriptions: pd.DataFrame) -> Output[pd.DataFrame]:
    """Per playbook: churn of its treated episodes against the holdout's, the uplift with a
    95 % interval, the ARR it keeps and, with the playbook's ``activity_costs``, the cost
    per retained dollar of ARR (models.analysis.playbooks). Empty, saying why, without
    flagged cs_activities."""
    if cs_activities is None or "arm" not in intervention_effects:
        return Output(pd.DataFrame(columns=EFFECT_COLUMNS), metadata={
            "status": "no flagged cs_activities: nothing to credit to a playbook"})
    costs = settings.scoring_config().playbook().activity_costs
    table = playbook_effectiveness(intervention_effects, cs_activities, subscriptions,
                                   activity_costs=costs)
    return Output(table, metadata={
        "playbooks": len(table),
        "effects": MetadataValue.md(table.to_markdown(index=False, floatfmt=".3f")
                                    if len(table) else "no closed episodes yet")})
