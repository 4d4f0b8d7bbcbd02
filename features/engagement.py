"""Customer-success engagement features from ``cs_activities``: routine touches, meetings,
executive contact and days since the last touch.

Only routine activities count: a row tied to an at-risk flag (``flagged_at``) or a holdout
is the team's answer to a risk the product raised, so learning from it would teach the model
its own alerts (outreach would look like a churn sign). What remains is the cadence the CSM
keeps with a customer, which practice finds predictive: QBRs held, executives met, weeks
without contact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from features.contract import HOLDOUT_ACTION, ActivityTaxonomy
from features.day_grid import GridRows, TableGrid

#: Cap of days since the last CSM touch (an account never touched shows its age, capped).
DAYS_SINCE_TOUCH_CAP = 180


def routine_activities(activities: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``activities`` that are neither prompted by an at-risk flag nor a
    holdout."""
    routine = activities["flagged_at"].isna() if "flagged_at" in activities else True
    return activities[routine & (activities["action_type"] != HOLDOUT_ACTION)]


def engagement_features(grid: TableGrid, activities: pd.DataFrame, rows: GridRows,
                        days_since_start: np.ndarray,
                        taxonomy: ActivityTaxonomy | None = None) -> dict[str, np.ndarray]:
    """Per snapshot row: routine touches in the last 30 and 90 days, meetings in 90 days,
    executive contacts in 180 days, and days since the last touch (capped at the account's
    age and ``DAYS_SINCE_TOUCH_CAP``: an export without routine touches shows every account
    at its cap, which ``models.inputs.recency_measured`` reads as unmeasured). An activity
    on day D counts from as-of D on."""
    taxonomy = taxonomy or ActivityTaxonomy()
    routine = routine_activities(activities)
    acc = grid.account_positions(routine["account_id"])
    day = grid.day_index(routine["performed_at"])
    # lower-cased in Arrow, not as Python strings
    kind = routine["action_type"].astype(pd.ArrowDtype(pa.string())).str.lower()
    meeting = kind.isin([a.lower() for a in taxonomy.meeting_actions]).to_numpy()
    executive = kind.isin([a.lower() for a in taxonomy.executive_actions]).to_numpy()
    # each running total is read before the grid makes the next of its type
    touches = grid.totals(acc, day)
    touches_30d, touches_90d = touches.window(rows, 30), touches.window(rows, 90)
    meetings_90d = grid.totals(acc[meeting], day[meeting]).window(rows, 90)
    executive_180d = grid.totals(acc[executive], day[executive]).window(rows, 180)
    last_touch = grid.latest(acc, day).at(rows)
    since_touch = np.minimum(np.minimum(rows.day - last_touch, np.maximum(days_since_start, 0)),
                             DAYS_SINCE_TOUCH_CAP)
    return {"cs_touches_30d": touches_30d, "cs_touches_90d": touches_90d,
            "cs_meetings_90d": meetings_90d, "executive_contacts_180d": executive_180d,
            "days_since_last_cs_touch": since_touch}
