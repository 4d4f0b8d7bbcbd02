"""The CSM work queue: what each customer-success manager works on this week, within capacity.

Three queues from the day's outputs: **retention** (accounts in the bands that need action,
by expected ARR at risk = churn probability × ARR), **expansion** (open High and Medium
opportunities, by projected expansion ARR) and **win_back** (high-ARR accounts that churned
recently, by the ARR they took with them). Each CSM takes at most their weekly capacity
from each queue, best first; everything else is ``overflow`` and is reported, never
dropped. Accounts without a CSM are all overflow, so unowned value is visible. Flagged
accounts the playbook holds out (the control group) are listed as ``holdout``, outside
capacity: nobody calls them, but their owner records the holdout.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

QUEUE_COLUMNS = ["queue", "csm_owner", "account_id", "expected_arr", "rank", "status",
                 "action"]
UNASSIGNED = "(no CSM)"


class CapacityConfig(BaseModel):
    """Accounts a CSM can work per week, per queue, and what enters each queue; the length
    of their daily list of work items."""

    model_config = ConfigDict(extra="forbid")

    retention_accounts_per_csm_per_week: int = Field(10, ge=0)
    expansion_accounts_per_csm_per_week: int = Field(5, ge=0)
    win_back_accounts_per_csm_per_week: int = Field(3, ge=0)
    #: Length of each CSM's daily list of work items (models.alerts.work_items).
    work_items_per_csm_per_day: int = Field(5, ge=0)
    retention_bands: tuple[str, ...] = ("at-risk", "critical")
    expansion_tiers: tuple[str, ...] = ("High", "Medium")


def assign_within_capacity(candidates: pd.DataFrame, *, queue: str, capacity: int
                           ) -> pd.DataFrame:
    """``candidates`` (``account_id, csm_owner, expected_arr, action``) ranked per owner by
    expected ARR (then account id); the first ``capacity`` of each owner are ``scheduled``,
    the rest and every unowned account ``overflow``."""
    frame = candidates.assign(csm_owner=candidates["csm_owner"].fillna(UNASSIGNED))
    frame = frame.sort_values(["csm_owner", "expected_arr", "account_id"],
                              ascending=[True, False, True], ignore_index=True)
    frame["rank"] = frame.groupby("csm_owner").cumcount() + 1
    owned = frame["csm_owner"] != UNASSIGNED
    frame["status"] = np.where(owned & (frame["rank"] <= capacity), "scheduled", "overflow")
    frame["queue"] = queue
    return frame[QUEUE_COLUMNS]


def work_queue(scores: pd.DataFrame, opportunities: pd.DataFrame, owners: pd.Series | None,
               config: CapacityConfig | None = None,
               win_back: pd.DataFrame | None = None) -> pd.DataFrame:
    """The queues of one day. ``scores``: account_scores (``account_id, band,
    arr_at_risk, recommended_action``); ``opportunities``: scored_opportunities;
    ``owners``: ``csm_owner`` by ``account_id`` (None when the accounts table has none);
    ``win_back``: recently churned accounts to win back
    (``models.scoring.playbook.win_back_candidates``), by their lost ARR."""
    config = config or CapacityConfig()

    def owner_of(accounts: pd.Series) -> pd.Series:
        if owners is None:
            return pd.Series(np.nan, index=accounts.index, dtype=object)
        return accounts.map(owners)

    flagged = scores[scores["band"].isin(config.retention_bands)]
    held = flagged["holdout"].astype(bool) if "holdout" in flagged else pd.Series(
        False, index=flagged.index)
    at_risk = flagged[~held]
    control = pd.DataFrame({"queue": "retention", "csm_owner": owner_of(
        flagged.loc[held, "account_id"]).fillna(UNASSIGNED), "account_id": flagged.loc[
        held, "account_id"], "expected_arr": flagged.loc[held, "arr_at_risk"].astype(float),
        "rank": 0, "status": "holdout", "action": flagged.loc[held, "recommended_action"]})
    retention = pd.DataFrame({"account_id": at_risk["account_id"],
                              "csm_owner": owner_of(at_risk["account_id"]),
                              "expected_arr": at_risk["arr_at_risk"].astype(float),
                              "action": at_risk["recommended_action"]})
    leads = opportunities[(opportunities["status"] == "open")
                          & opportunities["tier"].isin(config.expansion_tiers)]
    expansion = pd.DataFrame({"account_id": leads["account_id"],
                              "csm_owner": owner_of(leads["account_id"]),
                              "expected_arr": leads["projected_arr"].astype(float),
                              "action": "expansion conversation (" + leads["tier"].astype(str)
                              + " tier)"})
    queues = [
        assign_within_capacity(retention, queue="retention",
                               capacity=config.retention_accounts_per_csm_per_week),
        control[QUEUE_COLUMNS],
        assign_within_capacity(expansion, queue="expansion",
                               capacity=config.expansion_accounts_per_csm_per_week)]
    if win_back is not None and len(win_back):
        queues.append(assign_within_capacity(pd.DataFrame({
            "account_id": win_back["account_id"], "csm_owner": owner_of(win_back["account_id"]),
            "expected_arr": win_back["arr"].astype(float), "action": win_back["action"]}),
            queue="win_back", capacity=config.win_back_accounts_per_csm_per_week))
    return pd.concat([q for q in queues if len(q)] or queues[:1], ignore_index=True)


def overflow_summary(queue: pd.DataFrame) -> pd.DataFrame:
    """Per queue: accounts scheduled and overflowing, and the expected ARR of each."""
    summary = queue.pivot_table(index="queue", columns="status", values="expected_arr",
                                aggfunc=["size", "sum"], fill_value=0)
    summary.columns = [f"{'accounts' if a == 'size' else 'expected_arr'}_{s}"
                       for a, s in summary.columns]
    for column in ("accounts_scheduled", "accounts_overflow", "expected_arr_scheduled",
                   "expected_arr_overflow"):
        if column not in summary:
            summary[column] = 0
    return summary.reset_index()
