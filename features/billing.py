"""Billing features from subscriptions and invoices.

Subscriptions give MRR and its change, seats, plan and renewal timing; invoices give failed
and late payments.

A subscription's ``end_date`` decides only whether it is active on a day, never a feature:
a future end date is not known at the as-of date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.day_grid import DayGrid, change, window_sum
from features.labels import expand_intervals


def account_start(subscriptions: pd.DataFrame, accounts: pd.DataFrame | None) -> pd.Series:
    """Signup date from ``accounts`` when known, otherwise the first subscription start."""
    start = subscriptions.groupby("account_id")["start_date"].min()
    if accounts is not None:
        signup = accounts.set_index("account_id")["signup_date"].dropna()
        start = signup.combine_first(start)
    return start


def billing_features(grid_rows: pd.DataFrame, subscriptions: pd.DataFrame,
                     account_start: pd.Series) -> dict[str, np.ndarray]:
    """MRR, seats, plan and renewal timing from subscriptions active at each as-of date.

    ``end_date`` is used only to decide whether a subscription is active on a day, never as
    a feature: a future end date is not known at the as-of date. Rows are matched on
    integer (account, date) keys: grouping and re-indexing on account strings cost ten times
    as much at millions of rows.
    """
    subs = subscriptions.reset_index(drop=True)
    dates = pd.DatetimeIndex(grid_rows["as_of_date"].unique()).sort_values()
    accounts = pd.Index(grid_rows["account_id"].unique())
    row_account = accounts.get_indexer(grid_rows["account_id"])
    row_key = row_account * len(dates) + dates.get_indexer(grid_rows["as_of_date"])
    sub_account = accounts.get_indexer(subs["account_id"])
    sub_mrr = subs["mrr"].to_numpy(dtype=float)

    def active(on_dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        """(subscription row, key) of subscriptions active on ``on_dates`` (a key's date is
        its position in ``on_dates``)."""
        rows, days = expand_intervals(subs["start_date"], subs["end_date"], on_dates)
        rows, days = rows[sub_account[rows] >= 0], days[sub_account[rows] >= 0]
        return rows, sub_account[rows] * len(dates) + np.searchsorted(on_dates.values, days)

    # Keys are dense (account × date), so per-key results live in flat arrays indexed by key.
    size = len(accounts) * len(dates)
    rows, keys = active(dates)
    found = np.bincount(keys, minlength=size)[row_key] > 0

    def total(values: np.ndarray, at_rows: np.ndarray, at_keys: np.ndarray) -> np.ndarray:
        return np.bincount(at_keys, weights=values[at_rows], minlength=size)[row_key]

    mrr = np.where(found, total(sub_mrr, rows, keys), np.nan)
    mrr_before = total(sub_mrr, *active(dates - pd.Timedelta(days=90)))
    # The primary subscription (largest MRR, then earliest start) sets plan and renewal.
    subscription_rank = pd.factorize(subs["subscription_id"], sort=True)[0]
    order = np.lexsort((subscription_rank[rows], subs["start_date"].to_numpy()[rows],
                        -sub_mrr[rows], keys))
    first = order[np.r_[True, keys[order][1:] != keys[order][:-1]]]
    primary_by_key = np.zeros(size, dtype=np.int64)
    primary_by_key[keys[first]] = rows[first]
    primary = primary_by_key[row_key]

    def primary_column(name: str) -> np.ndarray:
        return np.where(found, subs[name].to_numpy()[primary], np.nan)

    start = pd.Series(subs["start_date"].to_numpy()[primary]).where(found)
    as_of = grid_rows["as_of_date"].to_numpy()
    signup = account_start.reindex(accounts).to_numpy()[row_account]
    tenure = (as_of - signup) / np.timedelta64(1, "D")
    billing_period = primary_column("billing_period")
    return {
        "plan": primary_column("plan"),
        "billing_period": billing_period,
        "seats": np.where(found, total(subs["seats"].to_numpy(dtype=float), rows, keys),
                          np.nan),
        "mrr": mrr,
        "mrr_change_90d": mrr - mrr_before,
        "mrr_change_90d_pct": change(mrr, mrr_before),
        "days_to_renewal": days_to_renewal(start, pd.Series(billing_period), pd.Series(as_of)),
        "tenure_days": np.maximum(tenure, 0),
    }


def days_to_renewal(start: pd.Series, billing_period: pd.Series,
                    as_of: pd.Series) -> np.ndarray:
    """Days from each as-of date to the next term anniversary of the subscription start.

    Monthly terms renew every month and annual terms every 12 months on the start's day of
    month (clipped to the month's last day). The anniversary falls strictly after the as-of
    date, so a renewal today counts as the next term (the term has just renewed). Missing
    starts give NaN.
    """
    start_day = pd.DatetimeIndex(start.to_numpy()).to_numpy().astype("datetime64[D]")
    as_of_day = pd.DatetimeIndex(as_of.to_numpy()).to_numpy().astype("datetime64[D]")
    term = np.where(np.asarray(billing_period) == "annual", 12, 1)
    missing = np.isnat(start_day)
    start_day = np.where(missing, as_of_day, start_day)
    start_month = start_day.astype("datetime64[M]")
    day_of_month = (start_day - start_month.astype("datetime64[D]")).astype(int)
    months_apart = (as_of_day.astype("datetime64[M]") - start_month).astype(int)

    def anniversary(k_terms: np.ndarray) -> np.ndarray:
        month = start_month + k_terms * term
        last_day = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")
                    ).astype(int) - 1
        return month.astype("datetime64[D]") + np.minimum(day_of_month, last_day)

    k = np.maximum(months_apart // term, 0)
    k = np.where(anniversary(k) <= as_of_day, k + 1, k)
    days = (anniversary(k) - as_of_day).astype(float)
    return np.where(missing, np.nan, days)


def payment_features(grid: DayGrid, invoices: pd.DataFrame, row_acc: np.ndarray,
                      row_day: np.ndarray) -> dict[str, np.ndarray]:
    """Failed and late payments with a due date in the last 90 days.

    A payment is late once its due time has passed unpaid, so it counts from its due day on
    (paid after due, or never paid); that is known at the as-of date without looking ahead.
    """
    inv = invoices[invoices["due_at"].notna()]
    acc = grid.accounts.get_indexer(inv["account_id"].astype(str))
    due_day = grid.day_index(inv["due_at"])
    failed = (inv["status"] == "failed").to_numpy()
    late = (inv["paid_at"].isna() | (inv["paid_at"] > inv["due_at"])).to_numpy() & ~failed
    return {
        "failed_payments_90d": window_sum(grid.count_matrix(acc[failed], due_day[failed]),
                                           90, row_acc, row_day),
        "late_payments_90d": window_sum(grid.count_matrix(acc[late], due_day[late]),
                                         90, row_acc, row_day),
    }
