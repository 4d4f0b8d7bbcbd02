"""Was the model right? Past daily scores against what happened once their horizon closed.

A score of day D is judged when D + horizon has passed (or the account churned sooner): its
label is whether the account churned in (D, D + horizon] (``features.labels``). Red accounts
(the at-risk and critical bands) are the ones flagged to customer success; green ones
(healthy, thriving) are the ones it leaves alone.
"""

from __future__ import annotations

import pandas as pd

from features.labels import churn_labels
from models.metrics import classification_metrics

FLAGGED, UNFLAGGED = "red", "green"


def label_scores(scores: pd.DataFrame, periods: pd.DataFrame, *, horizon_days: int,
                 observed_until: pd.Timestamp) -> pd.DataFrame:
    """The scores of days whose horizon has closed by ``observed_until``, with
    ``churned_within_horizon``. A day still inside its horizon is left out whole: its
    accounts that stayed are not known to stay, and judging it on its churners alone would
    flatter recall and ruin precision."""
    days = pd.DatetimeIndex(pd.to_datetime(scores["as_of"]).unique())
    days = days[days + pd.Timedelta(days=horizon_days) <= pd.Timestamp(observed_until)]
    labels = churn_labels(periods, days, horizon_days=horizon_days, observed_until=observed_until)
    labels = labels.loc[labels["label_complete"], ["account_id", "as_of_date",
                                                   "churned_within_horizon"]]
    labelled = scores.assign(as_of_date=pd.to_datetime(scores["as_of"])).merge(
        labels, on=["account_id", "as_of_date"], how="inner")
    return labelled.drop(columns="as_of_date")


def realised_performance(labelled: pd.DataFrame) -> pd.DataFrame:
    """Per scored day with known outcomes: ROC AUC, PR AUC, Brier, calibration error,
    precision/recall/lift at the top 10 % (``models.metrics``), and the at-risk band's
    false-positive rate (flagged red, did not churn within the horizon)."""
    rows = []
    for day, group in labelled.groupby("as_of", sort=True):
        label = group["churned_within_horizon"].to_numpy()
        flagged = (group["color"] == FLAGGED).to_numpy()
        rows.append({"as_of": day, **classification_metrics(label, group["churn_probability"]),
                     "flagged_accounts": int(flagged.sum()),
                     "at_risk_false_positive_rate": float((label[flagged] == 0).mean())
                     if flagged.any() else float("nan")})
    return pd.DataFrame(rows)


def surprise_churn(scores: pd.DataFrame, periods: pd.DataFrame, *,
                   observed_until: pd.Timestamp, min_days: int = 30,
                   max_days: int = 90) -> pd.DataFrame:
    """Churned accounts and whether the churn was a surprise.

    One row per churn (an active period that ended by ``observed_until``) with a score
    ``min_days`` to ``max_days`` before it: ``account_id, churn_date``, the latest such
    score's ``as_of``, ``band`` and ``color``, and ``surprise`` (that score was green).
    Churns without a score in the window are left out: the model had no say.
    """
    churns = periods.loc[periods["period_end"].notna()
                         & (periods["period_end"] <= pd.Timestamp(observed_until)),
                         ["account_id", "period_end"]].rename(columns={"period_end": "churn_date"})
    scored = scores[["account_id", "as_of", "band", "color"]].assign(
        as_of=pd.to_datetime(scores["as_of"]))
    pairs = churns.merge(scored, on="account_id")
    lead = (pairs["churn_date"] - pairs["as_of"]).dt.days
    pairs = pairs[(lead >= min_days) & (lead <= max_days)]
    latest = pairs.sort_values("as_of").drop_duplicates(["account_id", "churn_date"], keep="last")
    return latest.assign(surprise=latest["color"] == UNFLAGGED).sort_values(
        ["churn_date", "account_id"], ignore_index=True)
