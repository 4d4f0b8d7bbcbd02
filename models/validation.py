"""Walk-forward (rolling-origin) validation over as-of dates. Never shuffled k-fold.

Fold k tests on the snapshots at its origin date and trains on snapshots whose whole label
window closed before the origin: as-of date d is usable when d + horizon + gap <= origin, so
no training label looks into the test period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Fold:
    """One rolling origin: train on ``train_dates``, test on the snapshots at ``origin``."""

    number: int
    origin: pd.Timestamp
    train_dates: pd.DatetimeIndex

    def train_mask(self, as_of: pd.Series) -> np.ndarray:
        return as_of.isin(self.train_dates).to_numpy()

    def test_mask(self, as_of: pd.Series) -> np.ndarray:
        return (as_of == self.origin).to_numpy()


def walk_forward_folds(as_of_dates, *, n_folds: int = 6, horizon_days: int = 90,
                       gap_days: int = 0, min_train_dates: int = 1) -> list[Fold]:
    """The last ``n_folds`` as-of dates as origins, each with its closed-label training dates.

    Raises ``ValueError`` when there are not enough dates for the requested folds.
    """
    dates = pd.DatetimeIndex(pd.unique(pd.DatetimeIndex(as_of_dates))).sort_values()
    if len(dates) < n_folds + min_train_dates:
        raise ValueError(f"{len(dates)} as-of dates cannot make {n_folds} folds with "
                         f"{min_train_dates} training date(s) each")
    reach = pd.Timedelta(days=horizon_days + gap_days)
    folds = []
    for number, origin in enumerate(dates[-n_folds:], start=1):
        train = dates[dates + reach <= origin]
        if len(train) < min_train_dates:
            raise ValueError(f"fold {number} (origin {origin.date()}) has {len(train)} "
                             f"training dates whose {horizon_days}-day label closed before it; "
                             "use fewer folds or more history")
        folds.append(Fold(number=number, origin=origin, train_dates=train))
    return folds


def censor_at(frame: pd.DataFrame, origin: pd.Timestamp) -> pd.DataFrame:
    """Survival targets as they were known at ``origin``: churn after it becomes censored.

    Expects ``as_of_date``, ``duration_days`` and ``churn_observed``.
    """
    known_days = (pd.Timestamp(origin) - frame["as_of_date"]).dt.days.to_numpy()
    censored = frame.copy()
    censored["churn_observed"] = ((frame["churn_observed"].to_numpy() == 1)
                                  & (frame["duration_days"].to_numpy() <= known_days)).astype(int)
    censored["duration_days"] = np.minimum(frame["duration_days"].to_numpy(), known_days)
    return censored
