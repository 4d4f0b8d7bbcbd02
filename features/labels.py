"""Account lifecycle from subscriptions: active periods, churn dates and churn labels.

Conventions (docs/data-contract.md): a subscription is active on days ``start_date <=
day < end_date``. An account churns on the day its last active subscription ends without a
renewal starting that same day (or within ``renewal_grace_days``). An as-of date D means the
end of day D (UTC); the label for D and horizon H is 1 if the churn day falls in (D, D+H].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.day_grid import accumulate_rows

OPEN_END = pd.Timestamp("2262-01-01")  # stands for "still active" in interval arithmetic


def active_periods(subscriptions: pd.DataFrame, *, renewal_grace_days: int = 0) -> pd.DataFrame:
    """Merge each account's subscriptions into continuous active periods.

    Returns ``account_id, period_start, period_end`` (sorted by account, then start) where
    ``period_end`` is NaT while the account is still active. Overlapping subscriptions
    (add-ons, mid-term upgrades) and renewals that start within ``renewal_grace_days`` of
    the previous end are one period.
    """
    account, account_ids = pd.factorize(subscriptions["account_id"], sort=True)
    start = subscriptions["start_date"].to_numpy("datetime64[ns]")
    end = subscriptions["end_date"].fillna(OPEN_END).to_numpy("datetime64[ns]")
    order = np.lexsort((end, start, account))
    account, start, end = account[order], start[order], end[order]
    # Each account's running latest end, as one running maximum over all rows: the ends'
    # ranks, offset so that every account's lie above the previous account's.
    ends, end_rank = np.unique(end, return_inverse=True)
    offset = account.astype(np.int64) * len(ends)
    running_end = ends[np.maximum.accumulate(end_rank + offset) - offset]
    grace = np.timedelta64(int(renewal_grace_days), "D")
    new_account = np.r_[True, account[1:] != account[:-1]]
    new_period = new_account.copy()
    new_period[1:] |= start[1:] - grace > running_end[:-1]
    first = np.flatnonzero(new_period)
    last = np.r_[first[1:], len(account)] - 1
    period_end = running_end[last]
    return pd.DataFrame({
        "account_id": np.asarray(account_ids)[account[first]],
        "period_start": start[first],
        "period_end": np.where(period_end == OPEN_END.to_datetime64(), np.datetime64("NaT"),
                               period_end),
    })


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


@dataclass(frozen=True)
class ActiveCells:
    """The (date, account) pairs with the account active at the end of the date, sorted by
    date then account: ``account`` indexes ``accounts`` (sorted ids of the accounts active
    on some date), ``date`` the dates, ``period`` the row of ``periods``."""

    accounts: pd.Index
    account: np.ndarray
    date: np.ndarray
    period: np.ndarray


def active_cells(periods: pd.DataFrame, dates: pd.DatetimeIndex) -> ActiveCells:
    """Where each of ``periods`` (one account's periods must not overlap, as
    ``active_periods`` makes them) is active on the sorted, unique ``dates``.

    Each period marks its first and past-the-last date in a dense (date x account) table and
    a running total over dates fills the days between, so the pairs come out in order
    without sorting millions of rows.
    """
    period_account, account_ids = pd.factorize(periods["account_id"], sort=True)
    end = periods["period_end"].fillna(OPEN_END)
    first = np.searchsorted(dates.values, periods["period_start"].to_numpy(), side="left")
    last = np.searchsorted(dates.values, end.to_numpy(), side="left")
    n_accounts, size = len(account_ids), (len(dates) + 1) * len(account_ids)
    # the period's row + 1 where it is active, 0 elsewhere
    marks = (np.bincount(first * n_accounts + period_account, weights=np.arange(1, len(first) + 1),
                         minlength=size)
             - np.bincount(last * n_accounts + period_account, weights=np.arange(1, len(last) + 1),
                           minlength=size)).reshape(len(dates) + 1, n_accounts)
    accumulate_rows(marks)
    marks = marks[:-1].ravel()
    cell = np.flatnonzero(marks)
    expected = np.clip(last - first, 0, None).sum()
    if len(cell) != expected:
        raise ValueError("an account's active periods overlap")
    account, date = cell % n_accounts, cell // n_accounts
    # number only the accounts that are active on some date
    used = np.flatnonzero(np.bincount(account, minlength=n_accounts))
    renumber = np.zeros(n_accounts, dtype=np.int64)
    renumber[used] = np.arange(len(used))
    return ActiveCells(pd.Index(np.asarray(account_ids)[used]), renumber[account], date,
                       marks[cell].astype(np.int64) - 1)


def active_on(periods: pd.DataFrame, as_of_dates: pd.DatetimeIndex) -> pd.DataFrame:
    """``account_id, as_of_date, churn_date`` for every account active at the end of each day,
    sorted by date and account.

    ``churn_date`` is the end of the account's current period (NaT if it has not ended).
    """
    dates = pd.DatetimeIndex(as_of_dates).normalize().unique().sort_values()
    cells = active_cells(periods, dates)
    return pd.DataFrame({
        "account_id": cells.accounts.to_numpy()[cells.account],
        "as_of_date": dates.values[cells.date],
        "churn_date": periods["period_end"].to_numpy()[cells.period],
    })


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
