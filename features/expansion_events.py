"""Expansion events from subscriptions, and whether one falls in a window after an as-of date.

An account expands on day t when a subscription starts that day, the account was paying the
day before, its total MRR on day t is higher than on day t-1, and it bought more: more
seats, another plan mix (an upgrade) or an extra concurrent subscription (an add-on). A
higher MRR with the same seats, plans and subscriptions is a price change, not an expansion.
Subscriptions are active on days ``start_date <= day < end_date`` (docs/data-contract.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.labels import OPEN_END

EXPANSION_COLUMNS = ["account_id", "expansion_date", "mrr_before", "mrr_after", "kind"]


def expansion_events(subscriptions: pd.DataFrame) -> pd.DataFrame:
    """``account_id, expansion_date, mrr_before, mrr_after, kind`` (``seats``, ``add-on`` or
    ``plan``: the first that applies), one row per account and expansion day."""
    subs = subscriptions[["account_id", "plan", "mrr", "start_date", "end_date"]].copy()
    subs["seats"] = subscriptions.get("seats", 0)
    subs["seats"] = pd.to_numeric(subs["seats"], errors="coerce").fillna(0)
    subs["end_date"] = subs["end_date"].fillna(OPEN_END)
    days = subs[["account_id", "start_date"]].drop_duplicates().rename(
        columns={"start_date": "day"})
    pairs = days.merge(subs, on="account_id")
    before_day = pairs["day"] - pd.Timedelta(days=1)
    pairs["before"] = (pairs["start_date"] <= before_day) & (before_day < pairs["end_date"])
    pairs["after"] = (pairs["start_date"] <= pairs["day"]) & (pairs["day"] < pairs["end_date"])
    key = ["account_id", "day"]
    totals = {}
    for side in ("before", "after"):
        active = pairs[pairs[side]]
        totals[side] = active.groupby(key).agg(mrr=("mrr", "sum"), seats=("seats", "sum"),
                                               subscriptions=("mrr", "size"))
    state = totals["before"].join(totals["after"], how="inner", lsuffix="_before",
                                  rsuffix="_after")
    plans = pairs.groupby([*key, "plan"])[["before", "after"]].sum()
    plan_changed = (plans["before"] != plans["after"]).groupby(level=key).any()
    state["plan_changed"] = plan_changed.reindex(state.index, fill_value=False)
    more_seats = state["seats_after"] > state["seats_before"]
    add_on = state["subscriptions_after"] > state["subscriptions_before"]
    grew = (state["mrr_before"] > 0) & (state["mrr_after"] > state["mrr_before"])
    state = state[grew & (more_seats | state["plan_changed"] | add_on)]
    kind = np.select([more_seats[state.index], add_on[state.index], state["plan_changed"]],
                     ["seats", "add-on", "plan"], default="")
    events = pd.DataFrame({
        "account_id": state.index.get_level_values("account_id"),
        "expansion_date": state.index.get_level_values("day"),
        "mrr_before": state["mrr_before"].to_numpy(), "mrr_after": state["mrr_after"].to_numpy(),
        "kind": kind})
    return events.sort_values(["account_id", "expansion_date"], ignore_index=True)


def events_in_window(account_ids: pd.Series, as_of_dates: pd.Series, events: pd.DataFrame, *,
                     start_days: int, end_days: int, values: str | None = None) -> np.ndarray:
    """For each row, the ``events`` (``account_id``, ``expansion_date``) of its account in
    (as-of + ``start_days``, as-of + ``end_days``]: how many, or the sum of their
    ``values`` column."""
    accounts = pd.Index(pd.unique(np.concatenate([np.asarray(account_ids, dtype=object),
                                                  events["account_id"].to_numpy(object)])))
    day = np.timedelta64(1, "D")
    span = 1 << 32  # more days than any date has since the epoch
    event_keys = (accounts.get_indexer(events["account_id"]).astype(np.int64) * span
                  + (events["expansion_date"].to_numpy() - np.datetime64(0, "D")) // day)
    order = np.argsort(event_keys, kind="stable")
    event_keys = event_keys[order]
    weights = np.ones(len(order)) if values is None else events[values].to_numpy(float)[order]
    running = np.r_[0.0, np.cumsum(weights)]
    row_base = accounts.get_indexer(account_ids).astype(np.int64) * span + (
        pd.to_datetime(as_of_dates).to_numpy() - np.datetime64(0, "D")) // day
    total = (running[np.searchsorted(event_keys, row_base + end_days, side="right")]
             - running[np.searchsorted(event_keys, row_base + start_days, side="right")])
    return total.astype(np.int64) if values is None else total


def expansion_labels(rows: pd.DataFrame, events: pd.DataFrame, *, horizon_days: int,
                     observed_until: pd.Timestamp) -> pd.DataFrame:
    """``expanded_within_horizon`` (0/1), ``expansion_arr`` (the annualised MRR the
    account's expansions in (as-of, as-of + horizon] added) and ``expansion_label_complete``
    for ``rows`` (``account_id``, ``as_of_date``)."""
    added = events.assign(arr_added=(events["mrr_after"] - events["mrr_before"]) * 12)
    window = {"start_days": 0, "end_days": horizon_days}
    count = events_in_window(rows["account_id"], rows["as_of_date"], added, **window)
    arr = events_in_window(rows["account_id"], rows["as_of_date"], added, **window,
                           values="arr_added")
    complete = (rows["as_of_date"] + pd.Timedelta(days=horizon_days)
                <= pd.Timestamp(observed_until)).to_numpy()
    return pd.DataFrame({"expanded_within_horizon": (count > 0).astype("int8"),
                         "expansion_arr": arr, "expansion_label_complete": complete},
                        index=rows.index)
