"""Models layer, activation: what an activated new account does, and how long it takes."""

import pandas as pd
from dagster import AssetIn, AssetOut, MetadataValue, Output, multi_asset

from models.analysis.activation import (
    activation_check,
    activation_definition,
    time_to_value,
)
from pipelines.resources import AccountHealthSettings


@multi_asset(
    group_name="models",
    ins={"training_set": AssetIn(), "event_vocabulary": AssetIn(),
         "subscriptions": AssetIn()},
    outs={
        "activation_definition": AssetOut(description=(
            "The events (and counts in 30 days) that make a new account activated: the "
            "scoring YAML's, else learned from month-old accounts that stayed")),
        "time_to_value": AssetOut(description=(
            "Per signup month: the share of accounts activated within 30, 60 and 90 days "
            "and the median days to value")),
    },
)
def activation(settings: AccountHealthSettings, training_set: pd.DataFrame,
               event_vocabulary: pd.DataFrame | None, subscriptions: pd.DataFrame):
    """models.analysis.activation on the training set; the metadata says how much less the
    activated accounts churn."""
    taxonomy = settings.event_taxonomy(event_vocabulary)
    names = taxonomy.tracked_events
    definition = activation_definition(
        training_set, names, config=settings.scoring_config().activation,
        ignore=set(taxonomy.login_events) | set(taxonomy.error_events))
    signup = subscriptions.groupby("account_id")["start_date"].min()
    check = activation_check(training_set, definition, names)
    yield Output(definition, "activation_definition", metadata={
        "definition": MetadataValue.md(definition.to_markdown(index=False)
                                       if len(definition) else "no events to define it"),
        **{key: round(value, 4) for key, value in check.items() if pd.notna(value)}})
    yield Output(time_to_value(training_set, definition, names, signup), "time_to_value")
