"""Monitoring layer, outcomes: realised performance of past scores once their horizon has
closed."""


import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetIn,
    Output,
    asset,
)

from features.labels import active_periods
from models.analysis.outcomes import label_scores, realised_performance, surprise_churn
from pipelines.assets.scoring_scores import account_scores
from pipelines.resources import AccountHealthSettings
from pipelines.storage import AssetStorage

GROUP = "monitoring"
#: How far back model_outcomes reads daily scores: bounded, so its cost does not grow with
#: history; a horizon (90 days) plus the surprise window (90 days) fits with room to spare.
OUTCOME_LOOKBACK_DAYS = 365
SCORE_COLUMNS = ["account_id", "as_of", "churn_probability", "band", "color", "model_version"]


@asset(
    group_name=GROUP,
    deps=[account_scores],
    ins={"subscriptions": AssetIn()},
    check_specs=[AssetCheckSpec(
        "model_still_performs", asset="model_outcomes",
        description="Warns when the realised ROC AUC of the latest scored day whose outcome is "
                    "known falls below the promotion floor: the model has degraded since it "
                    "was validated; retrain (job train_churn_models).")],
)
def model_outcomes(settings: AccountHealthSettings,
                   storage: AssetStorage, subscriptions: pd.DataFrame):
    """Past daily scores judged once their horizon has closed: per scored day, realised ROC AUC,
    calibration error, lift at 10 % and the at-risk band's false-positive rate; the surprise
    churns (green 30-90 days before) in ``reports/surprise_churn.csv``."""
    observed_until = settings.data.last_complete_day()
    first = observed_until - pd.Timedelta(days=OUTCOME_LOOKBACK_DAYS)
    files = [f for f in sorted(storage.partition_dir("account_scores")
                               .glob("*.parquet")) if pd.Timestamp(f.stem) >= first]
    scores = (pd.concat([pd.read_parquet(f, columns=SCORE_COLUMNS) for f in files],
                        ignore_index=True) if files else pd.DataFrame(columns=SCORE_COLUMNS))
    periods = active_periods(subscriptions)
    performance = pd.DataFrame(columns=["as_of", "roc_auc"])
    surprises = pd.DataFrame(columns=["account_id", "churn_date", "as_of", "band", "color",
                                      "surprise"])
    if len(scores):
        labelled = label_scores(scores, periods, horizon_days=settings.training.horizon_days,
                                observed_until=observed_until)
        if len(labelled):
            performance = realised_performance(labelled)
        surprises = surprise_churn(scores, periods, observed_until=observed_until)
    surprises.to_csv(settings.reports_dir() / "surprise_churn.csv", index=False)
    performance.to_csv(settings.reports_dir() / "model_outcomes.csv", index=False)
    surprise_rate = float(surprises["surprise"].mean()) if len(surprises) else float("nan")
    latest = performance.dropna(subset=["roc_auc"]).tail(1)
    yield Output(performance, metadata={
        "judged_days": len(performance), "surprise_churns": int(surprises["surprise"].sum()),
        "surprise_churn_rate": surprise_rate,
        "latest_judged_day": str(latest["as_of"].iloc[0]) if len(latest) else "none"})
    if latest.empty:
        yield AssetCheckResult(check_name="model_still_performs", asset_key="model_outcomes",
                               passed=True, description="no scored day has a known outcome yet "
                               f"(the horizon is {settings.training.horizon_days} days)")
        return
    auc = float(latest["roc_auc"].iloc[0])
    yield AssetCheckResult(
        check_name="model_still_performs", asset_key="model_outcomes",
        passed=auc >= settings.training.auc_floor, severity=AssetCheckSeverity.WARN,
        description=None if auc >= settings.training.auc_floor else
        f"realised ROC AUC {auc:.3f} is below the floor {settings.training.auc_floor}; "
        "retraining is recommended (job train_churn_models)",
        metadata={"as_of": str(latest["as_of"].iloc[0]), "realised_roc_auc": auc,
                  "auc_floor": settings.training.auc_floor, "surprise_churn_rate": surprise_rate})
