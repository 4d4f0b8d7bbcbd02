"""Which playbook works, and what it is worth.

Each treated episode (``models.analysis.interventions``) is credited to its playbook: the
``action_type`` of most of its outreach activities (the playbook's rule names, as the CS
platform records them). Per playbook, among episodes whose horizon has closed: churn of the
treated accounts against churn of the held-out accounts (the control group every playbook
shares, since the holdout is drawn before any playbook is chosen), the uplift with a 95 %
Newcombe interval, the ARR the uplift keeps (uplift × the treated accounts' ARR at their
flag) and, where a cost per activity is configured, the cost per retained dollar of ARR.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from features.contract import HOLDOUT_ACTION
from models.analysis.interventions import CONTROL, TREATED, difference_interval

EFFECT_COLUMNS = ["playbook", "episodes", "churned", "churn_rate", "control_episodes",
                  "control_churn_rate", "uplift", "uplift_low", "uplift_high", "arr_treated",
                  "arr_saved", "activities", "cost", "cost_per_retained_arr"]


def episode_playbooks(episodes: pd.DataFrame, activities: pd.DataFrame) -> pd.Series:
    """Each episode's playbook: the most frequent outreach ``action_type`` of its
    activities (the first in name order on a tie); NaN for one without outreach."""
    outreach = activities[activities["flagged_at"].notna()
                          & (activities["action_type"] != HOLDOUT_ACTION)]
    counts = outreach.groupby(["account_id", "flagged_at", "action_type"]).size().rename(
        "n").reset_index().sort_values(["account_id", "flagged_at", "n", "action_type"],
                                       ascending=[True, True, False, True])
    chosen = counts.drop_duplicates(["account_id", "flagged_at"])
    found = episodes[["account_id", "flagged_at"]].merge(
        chosen[["account_id", "flagged_at", "action_type"]], how="left",
        on=["account_id", "flagged_at"])
    return pd.Series(found["action_type"].to_numpy(), index=episodes.index)


def arr_on(account_id: pd.Series, day: pd.Series, subscriptions: pd.DataFrame) -> pd.Series:
    """Each account's ARR (12 × the MRR of its subscriptions active) on its day."""
    asked = pd.DataFrame({"account_id": account_id.to_numpy(), "day": day.to_numpy(),
                          "row": np.arange(len(day))})
    pairs = asked.merge(subscriptions[["account_id", "start_date", "end_date", "mrr"]],
                        on="account_id")
    active = (pairs["start_date"] <= pairs["day"]) & (pairs["end_date"].isna()
                                                      | (pairs["end_date"] > pairs["day"]))
    arr = 12 * pairs[active].groupby("row")["mrr"].sum()
    return pd.Series(arr.reindex(asked["row"]).fillna(0.0).to_numpy(), index=account_id.index)


def playbook_effectiveness(episodes: pd.DataFrame, activities: pd.DataFrame,
                           subscriptions: pd.DataFrame, *,
                           activity_costs: dict[str, float] | None = None) -> pd.DataFrame:
    """Per playbook (``EFFECT_COLUMNS``), largest ARR saved first; ``activity_costs``: the
    cost of one activity of each playbook (cost and cost per retained ARR where given)."""
    closed = episodes[episodes["window_closed"].astype(bool)].copy()
    if closed.empty:
        return pd.DataFrame(columns=EFFECT_COLUMNS)
    closed["playbook"] = episode_playbooks(closed, activities)
    closed["arr"] = arr_on(closed["account_id"], closed["flag_date"], subscriptions)
    control = closed[closed["arm"] == CONTROL]
    control_n, control_churned = len(control), int(control["churned_within_horizon"].sum())
    rows = []
    for playbook, treated in closed[closed["arm"] == TREATED].groupby("playbook"):
        n, churned = len(treated), int(treated["churned_within_horizon"].sum())
        uplift, low, high = difference_interval(control_churned, control_n, churned, n)
        arr = float(treated["arr"].sum())
        saved = uplift * arr if not math.isnan(uplift) else math.nan
        unit_cost = (activity_costs or {}).get(playbook)
        actions = int(treated["actions"].sum())
        cost = unit_cost * actions if unit_cost is not None else math.nan
        rows.append({
            "playbook": playbook, "episodes": n, "churned": churned, "churn_rate": churned / n,
            "control_episodes": control_n,
            "control_churn_rate": control_churned / control_n if control_n else math.nan,
            "uplift": uplift, "uplift_low": low, "uplift_high": high, "arr_treated": arr,
            "arr_saved": saved, "activities": actions, "cost": cost,
            "cost_per_retained_arr": cost / saved if saved and saved > 0 else math.nan})
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS).sort_values(
        "arr_saved", ascending=False, ignore_index=True)
