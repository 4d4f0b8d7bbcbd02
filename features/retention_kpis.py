"""The retention KPIs a customer-success leader reports (definitions in docs/metrics.md).

* NRR and GRR over a window (trailing 12 months, or a calendar quarter), by the cohort
  method: the customers paying at the window's start, their MRR then and at its end;
  beside them the expansion rate by customers and by revenue.
* Gross renewal rate: subscription terms that came up for renewal in a period, and how many
  (and how much ARR) renewed.
* Churn split into voluntary and involuntary.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from features.contract import billing_period_months
from features.labels import active_periods

#: A cancel reason that says the customer did not choose to leave: the payment failed.
INVOLUNTARY_REASON = re.compile(r"payment|card|dunning|involuntary|billing fail|unpaid",
                                re.IGNORECASE)
#: Days before a churn without a cancel reason in which a failed invoice makes it
#: involuntary.
FAILED_PAYMENT_WINDOW_DAYS = 90


def window_retention(movements: pd.DataFrame, *, months: int,
                     quarters_only: bool = False) -> pd.DataFrame:
    """NRR, GRR, logo retention and expansion rates over windows of ``months`` months ending
    at each month end with ``months`` months before it (``quarters_only``: only at calendar
    quarter ends), from ``mrr_movements`` rows.

    The cohort is the customers with MRR at the end of the month before the window; NRR is
    their MRR at the window's end over their starting MRR, GRR the same with each customer's
    MRR capped at its start (no expansion), expansion rate by customers the share whose MRR
    grew, by revenue their growth over the starting MRR.
    """
    columns = ["period_end", "window_months", "starting_customers", "starting_mrr",
               "ending_mrr", "nrr", "grr", "logo_retention", "expanded_customers",
               "expansion_rate_customers", "expansion_rate_revenue"]
    if movements.empty:
        return pd.DataFrame(columns=columns)
    # codes by hashing, not by sorting the ids: at millions of movements the sort of the
    # strings was most of the cost, and the sums do not depend on the accounts' order
    account_code, accounts = pd.factorize(movements["account_id"])
    month_code, month_list = pd.factorize(pd.to_datetime(movements["month"]), sort=True)
    month_list = pd.DatetimeIndex(month_list)
    ending = np.zeros((len(accounts), len(month_list)))
    ending[account_code, month_code] = movements["ending_mrr"].to_numpy(float)
    rows = []
    for end in range(months, len(month_list)):
        period_end = month_list[end]
        if quarters_only and period_end.month % 3:
            continue
        start_mrr, end_mrr = ending[:, end - months], ending[:, end]
        cohort = start_mrr > 0
        starting = start_mrr[cohort].sum()
        if not cohort.any():
            continue
        kept = end_mrr[cohort]
        grew = kept > start_mrr[cohort]
        rows.append({
            "period_end": period_end, "window_months": months,
            "starting_customers": int(cohort.sum()), "starting_mrr": starting,
            "ending_mrr": kept.sum(), "nrr": kept.sum() / starting,
            "grr": np.minimum(kept, start_mrr[cohort]).sum() / starting,
            "logo_retention": float((kept > 0).mean()),
            "expanded_customers": int(grew.sum()),
            "expansion_rate_customers": float(grew.mean()),
            "expansion_rate_revenue": float(np.maximum(kept - start_mrr[cohort], 0).sum()
                                            / starting)})
    return pd.DataFrame(rows, columns=columns)


def renewal_events(subscriptions: pd.DataFrame, last_day: pd.Timestamp) -> pd.DataFrame:
    """One row per subscription term that ended by ``last_day``: ``account_id``,
    ``renewal_date`` (a term anniversary: start + k terms), ``term_months``, ``arr`` (12 ×
    the subscription's MRR) and ``renewed`` (the account still pays on that day, by this
    subscription or another). A subscription ending between anniversaries churned mid-term
    and comes up for no renewal after it."""
    events = term_anniversaries(subscriptions, last_day)
    return events.assign(renewed=paying_on(subscriptions, events["account_id"],
                                            events["renewal_date"]))


def term_anniversaries(subscriptions: pd.DataFrame, last_day: pd.Timestamp) -> pd.DataFrame:
    """``renewal_events`` without ``renewed``: the anniversaries alone."""
    subs = subscriptions.reset_index(drop=True)
    term = billing_period_months(subs["billing_period"])
    last_day = pd.Timestamp(last_day).normalize()
    ends = subs["end_date"].fillna(pd.Timestamp.max.normalize()).clip(upper=last_day)
    parts = []
    for months in sorted(term.dropna().unique()):
        chosen = subs[term == months]
        start, stop = chosen["start_date"], ends[term == months]
        span = ((stop.dt.year - start.dt.year) * 12 + stop.dt.month - start.dt.month)
        for k in range(1, int(span.max() // months) + 2 if len(span) else 1):
            day = start + pd.DateOffset(months=int(k * months))
            reached = day <= stop
            if not reached.any():
                continue
            parts.append(pd.DataFrame({
                "account_id": chosen["account_id"][reached].to_numpy(),
                "renewal_date": day[reached].to_numpy(), "term_months": int(months),
                "arr": 12 * chosen["mrr"][reached].to_numpy(float)}))
    if not parts:
        return pd.DataFrame({"account_id": pd.Series(dtype=object),
                             "renewal_date": pd.Series(dtype="datetime64[ns]"),
                             "term_months": pd.Series(dtype="int64"),
                             "arr": pd.Series(dtype=float)})
    return pd.concat(parts, ignore_index=True)


def paying_on(subscriptions: pd.DataFrame, account_id: pd.Series, day: pd.Series, *,
              periods: pd.DataFrame | None = None) -> np.ndarray:
    """Whether each account has a subscription active on its day (start <= day < end);
    ``periods``: the subscriptions' ``active_periods`` when already made."""
    periods = (active_periods(subscriptions) if periods is None else periods).sort_values(
        "period_start")
    # matched by integer codes: merge_asof's string keys were most of its time at 10^5 ids
    ids = pd.Index(periods["account_id"].unique())
    periods = periods.assign(account=ids.get_indexer(periods["account_id"]))[
        ["account", "period_start", "period_end"]]
    asked = pd.DataFrame({"account": ids.get_indexer(account_id),
                          "day": pd.to_datetime(day).to_numpy(), "order": range(len(day))})
    found = pd.merge_asof(asked.sort_values("day"), periods, left_on="day",
                          right_on="period_start", by="account", direction="backward")
    paying = found["period_start"].notna() & (found["period_end"].isna()
                                              | (found["period_end"] > found["day"]))
    return paying.to_numpy()[np.argsort(found["order"].to_numpy())]


def renewal_rates(events: pd.DataFrame, freq: str = "QE") -> pd.DataFrame:
    """Gross renewal rate per period (default: calendar quarter) by count and by ARR, for
    every term length together (``term_months`` 0) and for each."""
    columns = ["period_end", "term_months", "up_for_renewal", "renewed", "renewal_rate",
               "arr_up_for_renewal", "arr_renewed", "arr_renewal_rate"]
    if events.empty:
        return pd.DataFrame(columns=columns)
    frame = events.assign(period_end=pd.to_datetime(events["renewal_date"]).dt.to_period(
        freq.removesuffix("E")).dt.end_time.dt.normalize(),
        arr_renewed=events["arr"].where(events["renewed"], 0.0))
    tables = []
    for keys in (["period_end"], ["period_end", "term_months"]):
        table = frame.groupby(keys).agg(up_for_renewal=("renewed", "size"),
                                        renewed=("renewed", "sum"),
                                        arr_up_for_renewal=("arr", "sum"),
                                        arr_renewed=("arr_renewed", "sum")).reset_index()
        tables.append(table if "term_months" in keys else table.assign(term_months=0))
    result = pd.concat(tables, ignore_index=True)
    result["renewal_rate"] = result["renewed"] / result["up_for_renewal"]
    result["arr_renewal_rate"] = result["arr_renewed"] / result["arr_up_for_renewal"]
    return result[columns].sort_values(["period_end", "term_months"], ignore_index=True)


def churn_events(subscriptions: pd.DataFrame, invoices: pd.DataFrame | None,
                 last_day: pd.Timestamp) -> pd.DataFrame:
    """One row per account that stopped paying by ``last_day``: ``account_id``,
    ``churn_date`` (the end of its last subscription), ``arr`` (12 × the MRR that ended
    then), ``cancel_reason`` and ``kind``: ``involuntary`` when the reason names a payment
    failure, or when there is no reason and an invoice failed in the 90 days before;
    ``voluntary`` otherwise."""
    periods = active_periods(subscriptions)
    ended = periods[periods["period_end"].notna()
                    & (periods["period_end"] <= pd.Timestamp(last_day).normalize())]
    subs = subscriptions[["account_id", "end_date", "mrr"]].assign(
        cancel_reason=subscriptions.get("cancel_reason", pd.Series(index=subscriptions.index,
                                                                    dtype=object)))
    closing = ended.merge(subs, left_on=["account_id", "period_end"],
                          right_on=["account_id", "end_date"])
    closing["cancel_reason"] = closing["cancel_reason"].astype("string").str.strip()
    events = closing.groupby(["account_id", "period_end"], as_index=False).agg(
        mrr=("mrr", "sum"), cancel_reason=("cancel_reason", "first"))
    events = events.rename(columns={"period_end": "churn_date"})
    reason = events["cancel_reason"].fillna("")
    involuntary = reason.str.contains(INVOLUNTARY_REASON)
    failed = _failed_payment_before(events, invoices)
    events["kind"] = np.where(involuntary | ((reason == "") & failed), "involuntary",
                              "voluntary")
    events["arr"] = 12 * events.pop("mrr")
    return events[["account_id", "churn_date", "arr", "cancel_reason", "kind"]]


def _failed_payment_before(events: pd.DataFrame, invoices: pd.DataFrame | None) -> np.ndarray:
    if invoices is None or invoices.empty or events.empty:
        return np.zeros(len(events), dtype=bool)
    failed = invoices[invoices["status"].astype(str).str.lower() == "failed"]
    issued = pd.to_datetime(failed["issued_at"], utc=True).dt.tz_localize(None)
    pairs = events[["account_id", "churn_date"]].reset_index().merge(
        pd.DataFrame({"account_id": failed["account_id"].to_numpy(),
                      "issued": issued.to_numpy()}), on="account_id")
    window = pd.Timedelta(days=FAILED_PAYMENT_WINDOW_DAYS)
    hit = pairs[(pairs["issued"] <= pairs["churn_date"])
                & (pairs["issued"] > pairs["churn_date"] - window)]["index"].unique()
    return np.isin(np.arange(len(events)), hit)


def churn_by_kind(events: pd.DataFrame) -> pd.DataFrame:
    """Per month: churned accounts and ARR, split voluntary and involuntary."""
    columns = ["month", "churned_accounts", "voluntary", "involuntary", "churned_arr",
               "voluntary_arr", "involuntary_arr", "involuntary_share"]
    if events.empty:
        return pd.DataFrame(columns=columns)
    frame = events.assign(month=pd.to_datetime(events["churn_date"]) + pd.offsets.MonthEnd(0),
                          voluntary=events["kind"] == "voluntary",
                          involuntary=events["kind"] == "involuntary")
    frame["voluntary_arr"] = frame["arr"].where(frame["voluntary"], 0.0)
    frame["involuntary_arr"] = frame["arr"].where(frame["involuntary"], 0.0)
    table = frame.groupby("month").agg(
        churned_accounts=("account_id", "size"), voluntary=("voluntary", "sum"),
        involuntary=("involuntary", "sum"), churned_arr=("arr", "sum"),
        voluntary_arr=("voluntary_arr", "sum"),
        involuntary_arr=("involuntary_arr", "sum")).reset_index()
    table["involuntary_share"] = table["involuntary"] / table["churned_accounts"]
    return table[columns]
