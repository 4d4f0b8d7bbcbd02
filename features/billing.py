"""Billing features from subscriptions and invoices.

Subscriptions give MRR and its change, seats, plan and renewal timing; invoices give failed
and late payments.

A subscription's ``end_date`` decides only whether it is active on a day, never a feature:
a future end date is not known at the as-of date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import billing_period_months
from features.day_grid import GridRows, TableGrid, change
from features.labels import expand_intervals


def account_start(subscriptions: pd.DataFrame, accounts: pd.DataFrame | None) -> pd.Series:
    """Signup date from ``accounts`` when known, otherwise the first subscription start."""
    start = subscriptions.groupby("account_id")["start_date"].min()
    if accounts is not None:
        signup = accounts.set_index("account_id")["signup_date"].dropna()
        start = signup.combine_first(start)
    return start


def billing_features(subscriptions: pd.DataFrame, accounts: pd.Index, dates: pd.DatetimeIndex,
                     row_account: np.ndarray, row_date: np.ndarray) -> dict[str, np.ndarray]:
    """MRR, seats, plan and renewal timing from subscriptions active at each as-of date, for
    rows at ``accounts[row_account]`` and ``dates[row_date]`` (``dates`` sorted, unique).

    ``end_date`` is used only to decide whether a subscription is active on a day, never as
    a feature: a future end date is not known at the as-of date. Rows are matched on
    integer (account, date) keys: grouping and re-indexing on account strings cost ten times
    as much at millions of rows.
    """
    subs = subscriptions.reset_index(drop=True)
    row_key = row_account * len(dates) + row_date
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
    # The primary subscription (largest MRR, then earliest start, then id) sets plan and
    # renewal: rank the subscriptions once, then keep each key's best rank.
    by_priority = np.lexsort((pd.factorize(subs["subscription_id"], sort=True)[0],
                              subs["start_date"].to_numpy(), -sub_mrr))
    priority = np.empty(len(subs), dtype=np.int64)
    priority[by_priority] = np.arange(len(subs))
    best = np.full(size, len(subs), dtype=np.int64)
    np.minimum.at(best, keys, priority[rows])
    primary = by_priority[np.minimum(best[row_key], len(subs) - 1)]

    renewal_table, renewal_anchor = renewal_days(subs, dates)

    def primary_column(name: str) -> np.ndarray:
        values = subs[name].to_numpy(dtype=object)[primary]
        values[~found] = np.nan
        return values

    return {
        "plan": primary_column("plan"),
        "billing_period": primary_column("billing_period"),
        "seats": np.where(found, total(subs["seats"].to_numpy(dtype=float), rows, keys),
                          np.nan),
        "mrr": mrr,
        "mrr_change_90d": mrr - mrr_before,
        "mrr_change_90d_pct": change(mrr, mrr_before),
        "days_to_renewal": np.where(found, renewal_table[renewal_anchor[primary], row_date],
                                    np.nan),
    }


#: January 1968 as months since year 0: the stand-in calendar of ``renewal_days``.
_STAND_IN_MONTH = 1968 * 12


def renewal_days(subscriptions: pd.DataFrame,
                 dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """``days_to_renewal`` of every subscription at each of ``dates`` on or after its start,
    as a table and each subscription's row in it: ``table[anchor[s], date]``.

    The answer depends only on the term and the anniversary's place in the calendar (day of
    month; the month's place in the term for terms of several months), not on the year, so
    it is worked out once per such anchor and date instead of with calendar arithmetic on
    every snapshot row.
    """
    start = pd.DatetimeIndex(subscriptions["start_date"])
    term = billing_period_months(subscriptions["billing_period"]).fillna(1).to_numpy(np.int64)
    month = start.year.to_numpy(np.int64) * 12 + start.month.to_numpy(np.int64) - 1
    # one integer per (term, place in term, day of month): np.unique over rows sorts
    # lexicographically, ten times slower at 10^5 subscriptions
    longest = term.max(initial=1)
    keys, anchor = np.unique((term * longest + month % term) * 32
                             + start.day.to_numpy(np.int64), return_inverse=True)
    codes = np.stack([keys // 32 // longest, keys // 32 % longest, keys % 32], axis=1)
    # A start in 1968 or later with the same place in its term and the same day of month
    # stands for every start of its anchor (the month must have that day: February 29 needs
    # a leap year, so up to four years of candidates).
    code_term, place, day = codes[:, 0], codes[:, 1], codes[:, 2]
    stand_in = _STAND_IN_MONTH + (place - _STAND_IN_MONTH) % code_term - 12 * 1970
    for _ in range(48):
        first_day = stand_in.astype("datetime64[M]").astype("datetime64[D]")
        month_days = ((stand_in + 1).astype("datetime64[M]").astype("datetime64[D]")
                      - first_day).astype(np.int64)
        if (short := month_days < day).any():
            stand_in = np.where(short, stand_in + code_term, stand_in)
        else:
            break
    starts = first_day + (day - 1).astype("timedelta64[D]")
    table = days_to_renewal(
        pd.Series(np.repeat(starts.astype("datetime64[ns]"), len(dates))),
        pd.Series(np.repeat(code_term, len(dates))),
        pd.Series(np.tile(dates.to_numpy(), len(codes))))
    return table.reshape(len(codes), len(dates)), anchor


def days_to_renewal(start: pd.Series, billing_period: pd.Series,
                    as_of: pd.Series) -> np.ndarray:
    """Days from each as-of date to the next term anniversary of the subscription start.

    ``billing_period`` holds names (``features.contract.billing_period_months``) or months
    per term; a term of N months renews every N months on the start's day of month
    (clipped to the month's last day). The anniversary falls strictly after the as-of
    date, so a renewal today counts as the next term (the term has just renewed). Missing
    starts give NaN.
    """
    start_day = pd.DatetimeIndex(start.to_numpy()).to_numpy().astype("datetime64[D]")
    as_of_day = pd.DatetimeIndex(as_of.to_numpy()).to_numpy().astype("datetime64[D]")
    term = np.asarray(billing_period)
    if term.dtype.kind not in "iuf":  # billing period names, not months
        term = billing_period_months(pd.Series(term)).fillna(1).to_numpy()
    term = term.astype(np.int64)
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


def payment_features(grid: TableGrid, invoices: pd.DataFrame,
                     rows: GridRows) -> dict[str, np.ndarray]:
    """Failed and late payments in the last 90 days.

    A payment is late once its due time has passed unpaid, so it counts from its due day on
    (paid after due, or never paid); that is known at the as-of date without looking ahead.
    A failed payment counts from its due day, or its issue day when it has none. Without
    any due date in the export, lateness is not measured: missing, not zero
    (``payment_measurement_gaps``).
    """
    has_due = invoices["due_at"].notna().to_numpy()
    acc = grid.account_positions(invoices["account_id"])
    failed_at = invoices["due_at"].fillna(invoices["issued_at"])
    failed = ((invoices["status"] == "failed") & failed_at.notna()).to_numpy()
    late = has_due & ~failed & (invoices["paid_at"].isna()
                                | (invoices["paid_at"] > invoices["due_at"])).to_numpy()
    failed_90d = grid.totals(acc[failed], grid.day_index(failed_at[failed])).window(rows, 90)
    late_90d = (grid.totals(acc[late], grid.day_index(invoices["due_at"][late]))
                .window(rows, 90).astype(float) if has_due.any()
                else np.full(len(rows), np.nan))
    return {"failed_payments_90d": failed_90d, "late_payments_90d": late_90d}


def payment_measurement_gaps(invoices: pd.DataFrame) -> list[str]:
    """What the invoices cannot measure, in words for the data check."""
    if "due_at" not in invoices or invoices["due_at"].isna().all():
        return ["invoices have no due_at: late payments are not measured (late_payments_90d "
                "stays empty) and failed payments count from their issue day"]
    return []
