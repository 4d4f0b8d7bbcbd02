"""The textbook churn model: the simplest sound method, a baseline and a candidate.

What a data scientist fits first on any product's export: each tracked event's count over
the last 30 days, all events and active users over 30 days, tenure, MRR and seats, on a log
scale, standardised, in an L2 logistic regression with sklearn's default strength. No
choice in it was settled on any dataset, so the product is never allowed below it: it is
a candidate, and the promotion rule requires any other champion to beat it on the same
walk-forward folds.
"""

from __future__ import annotations

import pandas as pd

from models.churn.logistic import LogisticChurnModel, LogisticConfig
from models.inputs import per_event_columns

#: Account-level columns beside the per-event 30-day counts.
TEXTBOOK_ACCOUNT_COLUMNS = ("events_30d", "active_users_30d", "tenure_days", "mrr", "seats")


def textbook_columns(frame: pd.DataFrame) -> list[str]:
    """The textbook model's inputs present in ``frame``."""
    return [*per_event_columns(frame, "30d"),
            *[c for c in TEXTBOOK_ACCOUNT_COLUMNS if c in frame.columns]]


class TextbookChurnModel(LogisticChurnModel):
    """L2 logistic regression (C = 1) on ``textbook_columns``."""

    name = "textbook"

    def __init__(self, config: LogisticConfig | None = None) -> None:
        super().__init__(config or LogisticConfig(c=1.0))

    def candidate_columns(self, frame: pd.DataFrame) -> list[str]:
        return textbook_columns(frame)
