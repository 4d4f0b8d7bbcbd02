"""Account lifecycle from subscriptions: active periods, churn dates and churn labels.

Conventions (docs/data-contract.md): a subscription is active on days ``start_date <=
day < end_date``. An account churns on the day its last active subscription ends without a
renewal starting that same day (or within ``renewal_grace_days``). An as-of date D means the
end of day D (UTC); the label for D and horizon H is 1 if the churn day falls in (D, D+H].
"""

from __future__ import annotations

import numpy as np
import pandas as pd

OPEN_END = pd.Timestamp("2262-01-01")  # stands for "still active" in interval arithmetic


def active_periods(subscriptions: pd.DataFrame, *, renewal_grace_days: int = 0) -> pd.DataFrame:
    """Merge each account's subscriptions into continuous active periods.

    Returns ``account_id, period_start, period_end`` where ``period_end`` is NaT while the
    account is still active. Overlapping subscriptions (add-ons, mid-term upgrades) and
    renewals that start within ``renewal_grace_days`` of the previous end are one period.
    """
    subs = subscriptions[["account_id", "start_date", "end_date"]].copy()
    subs["end_date"] = subs["end_date"].fillna(OPEN_END)
    subs = subs.sort_values(["account_id", "start_date", "end_date"]).reset_index(drop=True)
    running_end = subs.groupby("account_id")["end_date"].cummax()
    previous_end = running_end.groupby(subs["account_id"]).shift()
    grace = pd.Timedelta(days=renewal_grace_days)
    new_period = previous_end.isna() | (subs["start_date"] > previous_end + grace)
    period_id = new_period.cumsum()
    periods = subs.groupby(period_id).agg(
        account_id=("account_id", "first"), period_start=("start_date", "min"),
        period_end=("end_date", "max"))
    periods["period_end"] = periods["period_end"].where(periods["period_end"] != OPEN_END)
    return periods.reset_index(drop=True)


def expand_intervals(starts: pd.Series, ends: pd.Series,
                     dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (interval row, date) for every sorted ``date`` with start <= date < end.

    ``ends`` may be NaT for open intervals. Vectorised: no loop over intervals or dates.
    """
    end = ends.fillna(OPEN_END)
    first = np.searchsorted(dates.values, starts.values, side="left")
    last = np.searchsorted(dates.values, end.values, side="left")
    counts = np.clip(last - first, 0, None)
    rows = np.repeat(np.arange(len(starts)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows, dates.values[first[rows] + offsets]


def active_on(periods: pd.DataFrame, as_of_dates: pd.DatetimeIndex) -> pd.DataFrame:
    """``account_id, as_of_date, churn_date`` for every account active at the end of each day.

    ``churn_date`` is the end of the account's current period (NaT if it has not ended).
    """
    dates = pd.DatetimeIndex(as_of_dates).normalize().unique().sort_values()
    rows, on_dates = expand_intervals(periods["period_start"], periods["period_end"], dates)
    return pd.DataFrame({
        "account_id": periods["account_id"].to_numpy()[rows],
        "as_of_date": on_dates,
        "churn_date": periods["period_end"].to_numpy()[rows],
    }).sort_values(["as_of_date", "account_id"], ignore_index=True)


def churn_labels(periods: pd.DataFrame, as_of_dates: pd.DatetimeIndex, *, horizon_days: int,
                 observed_until: pd.Timestamp) -> pd.DataFrame:
    """Labelled rows for accounts active at each as-of date.

    Columns: ``account_id, as_of_date, churned_within_horizon`` (0/1), ``label_complete``
    (the horizon closed on or before ``observed_until``; incomplete rows must not be used as
    negatives), ``duration_days`` (days to churn, or to ``observed_until`` when censored) and
    ``churn_observed`` (1 if churn happened by ``observed_until``) for survival models.
    """
    observed_until = pd.Timestamp(observed_until).normalize()
    rows = active_on(periods, as_of_dates)
    rows = rows[rows["as_of_date"] < observed_until].copy()
    churn = rows["churn_date"]
    observed = churn.notna() & (churn <= observed_until)
    days_to_churn = (churn - rows["as_of_date"]).dt.days
    horizon_end = rows["as_of_date"] + pd.Timedelta(days=horizon_days)
    rows["churned_within_horizon"] = (observed & (days_to_churn <= horizon_days)).astype("int8")
    rows["label_complete"] = (horizon_end <= observed_until) | (rows["churned_within_horizon"] == 1)
    rows["churn_observed"] = observed.astype("int8")
    rows["duration_days"] = np.where(
        observed, days_to_churn, (observed_until - rows["as_of_date"]).dt.days).astype("int64")
    return rows.drop(columns="churn_date").reset_index(drop=True)
