"""The day's work items: one per account with open alert conditions, ranked, each CSM's list
cut at their daily capacity.

Every condition open on an account at the end of the day (``models.alerts.engine``: alerts
that fired and have not cleared, and the initial backlog) folds into one item whose reasons
list them, most severe first. Its priority is the expected ARR at risk (churn probability ×
ARR) times the weight of its most severe condition (``SEVERITY_WEIGHT``), so a critical
condition on a small account can outrank a low one on a large account, but not by more than
the weights say.

Status of an item:

* ``today`` - among the first ``work_items_per_csm_per_day`` of its CSM's open items by
  priority: the CSM's list for the day;
* ``backlog`` - open, beyond the CSM's capacity (or the account has no CSM): it waits, and
  rises to the list as items above it are worked;
* ``answered`` - a CS activity on the account since its latest condition opened: being
  worked, so it leaves the list until a new condition starts;
* ``holdout`` - the playbook's control group: nobody calls it.

An item is ``new`` when one of its conditions fired that day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.alerts.routing import last_activity
from models.alerts.work_queue import UNASSIGNED

#: How much more a condition's severity makes an item worth than its ARR at risk alone.
SEVERITY_WEIGHT = {"critical": 3.0, "high": 2.0, "medium": 1.5, "low": 1.0}
#: Severities from the most urgent.
SEVERITY_ORDER = tuple(SEVERITY_WEIGHT)
#: The columns of a work item, in order.
WORK_ITEM_COLUMNS = ["as_of", "account_id", "csm_owner", "status", "rank", "new", "priority",
                     "severity", "conditions", "reasons", "opened_on", "health_score",
                     "band", "churn_probability", "arr", "arr_at_risk", "recommended_action"]
#: Statuses, from the CSM's list to the control group.
STATUSES = ("today", "backlog", "answered", "holdout")


def work_items(open_conditions: pd.DataFrame, scores: pd.DataFrame, *,
               per_csm_per_day: int, activities: pd.DataFrame | None = None) -> pd.DataFrame:
    """The work items of one day.

    ``open_conditions``: the day's open alerts (``account_id, alert_type, opened_on,
    severity, backlog, message``, ``as_of`` the day; those quiet that day are left out);
    ``scores``: that day's ``account_scores`` (``account_id, churn_probability, arr,
    arr_at_risk, health_score, band, recommended_action``, and ``csm_owner``, ``holdout``
    where known);
    ``activities``: ``cs_activities`` (None: nothing is known to be answered).
    """
    if "quiet_days" in open_conditions:  # open but not holding today: nothing to say
        open_conditions = open_conditions[open_conditions["quiet_days"] == 0]
    if open_conditions.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in WORK_ITEM_COLUMNS})
    as_of = pd.Timestamp(open_conditions["as_of"].iloc[0]).normalize()
    conditions = open_conditions.assign(
        severity_rank=open_conditions["severity"].map(
            {s: i for i, s in enumerate(SEVERITY_ORDER)}).fillna(len(SEVERITY_ORDER)),
        opened_on=pd.to_datetime(open_conditions["opened_on"]),
        fired_today=lambda f: (pd.to_datetime(f["opened_on"]) == as_of)
        & ~f["backlog"].astype(bool))
    conditions = conditions.sort_values(["account_id", "severity_rank", "alert_type"])
    # the item belongs to the account: its reasons need not name it again
    conditions["message"] = [_without_account(m, a) for m, a in zip(
        conditions["message"].astype(str).tolist(), conditions["account_id"].astype(str).tolist(),
        strict=True)]
    grouped = conditions.groupby("account_id", sort=True)
    accounts = conditions["account_id"].to_numpy()
    items = pd.DataFrame({
        "severity_rank": grouped["severity_rank"].min(),
        "conditions": _joined(accounts, conditions["alert_type"].str.replace("_", " "), ", "),
        "reasons": _joined(accounts, conditions["message"], "; "),
        "opened_on": grouped["opened_on"].min(),
        "latest_opened": grouped["opened_on"].max(),
        "new": grouped["fired_today"].any(),
    }).reset_index()
    items["severity"] = np.asarray(SEVERITY_ORDER + ("low",))[
        items["severity_rank"].astype(int).to_numpy()]
    known = [c for c in ("churn_probability", "arr", "arr_at_risk", "health_score", "band",
                         "recommended_action", "csm_owner", "holdout") if c in scores]
    items = items.merge(scores[["account_id", *known]], on="account_id", how="left")
    items["csm_owner"] = (items["csm_owner"] if "csm_owner" in items
                          else pd.Series(np.nan, index=items.index, dtype=object)
                          ).fillna(UNASSIGNED)
    items["priority"] = (items["arr_at_risk"].astype(float).fillna(0.0)
                         * items["severity"].map(SEVERITY_WEIGHT))
    held = (items["holdout"].astype("boolean").fillna(False).to_numpy(bool)
            if "holdout" in items else np.zeros(len(items), dtype=bool))
    answered = np.zeros(len(items), dtype=bool)
    if activities is not None and len(activities):
        latest = items["account_id"].map(last_activity(activities, as_of))
        answered = (latest.notna() & (latest >= items["latest_opened"])).to_numpy()
    items = items.sort_values(["csm_owner", "priority", "account_id"],
                              ascending=[True, False, True], ignore_index=True)
    waiting = ~(held | answered)
    owned = (items["csm_owner"] != UNASSIGNED).to_numpy()
    items["rank"] = 0
    items.loc[waiting, "rank"] = items[waiting].groupby("csm_owner").cumcount() + 1
    items["status"] = np.select(
        [held, answered, waiting & owned & (items["rank"] <= per_csm_per_day)],
        ["holdout", "answered", "today"], "backlog")
    items["as_of"] = as_of
    for column in WORK_ITEM_COLUMNS:
        if column not in items:
            items[column] = np.nan
    return items[WORK_ITEM_COLUMNS]


def _joined(keys: np.ndarray, texts: pd.Series, separator: str) -> list[str]:
    """``texts`` joined per run of equal ``keys`` (sorted), in order: a groupby's string
    aggregation costs a Python call and a Series per group, minutes at 10^5 accounts."""
    values = texts.astype(str).tolist()
    if not values:
        return []
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = [*starts[1:], len(values)]
    return [separator.join(values[start:end]) for start, end in zip(starts, ends, strict=True)]


def _without_account(message: str, account: str) -> str:
    for prefix in (f"{account}: ", f"{account} "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def work_item_summary(items: pd.DataFrame) -> pd.DataFrame:
    """Per CSM: items on today's list, new items, backlog, answered and held out."""
    table = pd.crosstab(items["csm_owner"], items["status"]).reindex(
        columns=list(STATUSES), fill_value=0)
    table.insert(1, "new", items.groupby("csm_owner")["new"].sum().astype(int))
    return table.reset_index()
