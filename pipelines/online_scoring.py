"""Single-account look-ups: the online store's latest features, scored by the champion.

The morning run scores every account from Feast's offline store; this answers "how is this
one account doing right now?" from the online store, with the same feature service, model
and scoring rules, so both give the same row for the same day.
"""

from __future__ import annotations

import pandas as pd
from feast import FeatureStore

from feature_repo.definitions import CHURN_FEATURE_SERVICE
from models.scoring.scores import score_accounts
from pipelines.resources import AccountHealthSettings, FeastFeatureStore, MlflowTracking

TIMESTAMP_SUFFIX = "__ts"


def online_feature_rows(store: FeatureStore, account_ids: list[str]) -> pd.DataFrame:
    """Latest online features of the accounts, with the snapshot's ``event_timestamp`` and
    ``as_of_date``; raises ``KeyError`` naming accounts the online store does not hold."""
    response = store.get_online_features(
        features=store.get_feature_service(CHURN_FEATURE_SERVICE),
        entity_rows=[{"account_id": a} for a in account_ids],
    ).to_df(include_event_timestamps=True)
    stamps = [c for c in response.columns if c.endswith(TIMESTAMP_SUFFIX)]
    seconds = response[stamps].max(axis=1)
    missing = response.loc[seconds <= 0, "account_id"].tolist()
    if missing:
        raise KeyError(f"no online features for {', '.join(missing)}: not an active account "
                       "on the latest materialised day (run the daily job, or check the id)")
    rows = response.drop(columns=stamps)
    rows["event_timestamp"] = pd.to_datetime(seconds, unit="s", utc=True)
    rows["as_of_date"] = (rows["event_timestamp"] - pd.Timedelta(days=1)).dt.tz_localize(None)
    return rows


def score_online(settings: AccountHealthSettings, feast: FeastFeatureStore,
                 mlflow_tracking: MlflowTracking, account_ids: list[str]) -> pd.DataFrame:
    """Score rows (as in ``account_scores``) for the given accounts from the online store."""
    bundle, version = mlflow_tracking.load_champion()
    config = settings.scoring_config()
    rows = online_feature_rows(feast.open(), account_ids)
    return score_accounts(rows, bundle, model_version=version, health=config.health,
                          playbook=config.playbook(), n_reasons=config.n_reasons,
                          components=config.components)
