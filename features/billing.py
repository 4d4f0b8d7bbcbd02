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
    a feature: a future end date is not known at the as-of date.
    """
    subs = subscriptions.reset_index(drop=True)
    dates = pd.DatetimeIndex(grid_rows["as_of_date"].unique()).sort_values()
    lagged = dates - pd.Timedelta(days=90)

    def active_subscriptions(on_dates: pd.DatetimeIndex) -> pd.DataFrame:
        rows, days = expand_intervals(subs["start_date"], subs["end_date"], on_dates)
        frame = subs.iloc[rows].reset_index(drop=True)
        frame["as_of_date"] = days
        return frame

    current = active_subscriptions(dates)
    totals = current.groupby(["account_id", "as_of_date"]).agg(
        mrr=("mrr", "sum"), seats=("seats", "sum"))
    # The primary subscription (largest MRR, then earliest start) sets plan and renewal.
    primary = current.sort_values(["mrr", "start_date", "subscription_id"],
                                  ascending=[False, True, True])
    primary = primary.drop_duplicates(["account_id", "as_of_date"]).set_index(
        ["account_id", "as_of_date"])
    before = active_subscriptions(lagged).groupby(["account_id", "as_of_date"])["mrr"].sum()
    before.index = before.index.set_levels(before.index.levels[1] + pd.Timedelta(days=90),
                                           level=1)

    key = pd.MultiIndex.from_frame(grid_rows[["account_id", "as_of_date"]])
    mrr = totals["mrr"].reindex(key).to_numpy()
    mrr_before = before.reindex(key).fillna(0.0).to_numpy()
    prim = primary.reindex(key)
    as_of = grid_rows["as_of_date"].to_numpy()
    tenure = (as_of - account_start.reindex(grid_rows["account_id"]).to_numpy()) / np.timedelta64(
        1, "D")
    return {
        "plan": prim["plan"].to_numpy(),
        "billing_period": prim["billing_period"].to_numpy(),
        "seats": totals["seats"].reindex(key).to_numpy(),
        "mrr": mrr,
        "mrr_change_90d": mrr - mrr_before,
        "mrr_change_90d_pct": change(mrr, mrr_before),
        "days_to_renewal": days_to_renewal(prim["start_date"], prim["billing_period"],
                                           pd.Series(as_of)),
        "tenure_days": np.maximum(tenure, 0),
    }


def days_to_renewal(start: pd.Series, billing_period: pd.Series,
                    as_of: pd.Series) -> np.ndarray:
    """Days from each as-of date to the next term anniversary of the subscription start.

    Monthly terms renew every month and annual terms every 12 months on the start's day of
    month (clipped to the month's last day). The anniversary falls strictly after the as-of
    date, so a renewal today counts as the next term (the term has just renewed).
    """
    start = pd.DatetimeIndex(start.to_numpy())
    as_of = pd.DatetimeIndex(as_of.to_numpy())
    term = np.where(np.asarray(billing_period) == "annual", 12, 1)
    start_month = start.year.to_numpy() * 12 + start.month.to_numpy() - 1
    as_of_month = as_of.year.to_numpy() * 12 + as_of.month.to_numpy() - 1

    def anniversary(k_terms: np.ndarray) -> pd.DatetimeIndex:
        month = start_month + k_terms * term
        month_start = pd.to_datetime(
            {"year": month // 12, "month": month % 12 + 1, "day": np.ones_like(month)})
        last_day = (month_start + pd.offsets.MonthEnd(0)).dt.day.to_numpy()
        return pd.DatetimeIndex(month_start + pd.to_timedelta(
            np.minimum(start.day.to_numpy(), last_day) - 1, unit="D"))

    k = np.maximum((as_of_month - start_month) // term, 0)
    candidate = anniversary(k)
    k = np.where(candidate <= as_of, k + 1, k)
    return (anniversary(k) - as_of).days.to_numpy()


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
