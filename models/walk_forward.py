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


class NotEnoughHistory(ValueError):
    """The history holds fewer walk-forward folds than validation needs; says how many more
    days it takes."""


def walk_forward_folds(as_of_dates, *, n_folds: int = 6, horizon_days: int = 90,
                       gap_days: int = 0, min_train_dates: int = 1,
                       min_folds: int | None = None,
                       origin_spacing_days: int = 0) -> list[Fold]:
    """Up to ``n_folds`` rolling origins, the latest as-of dates that have at least
    ``min_train_dates`` training dates whose label closed before them, each at least
    ``origin_spacing_days`` after the previous origin; each with its training dates.

    Raises ``NotEnoughHistory`` when fewer than ``min_folds`` (default: ``n_folds``)
    origins fit, with the days of history still missing.
    """
    dates = pd.DatetimeIndex(pd.unique(pd.DatetimeIndex(as_of_dates))).sort_values()
    min_folds = n_folds if min_folds is None else min_folds
    reach = pd.Timedelta(days=horizon_days + gap_days)
    trainable = np.searchsorted(dates.values, (dates - reach).values, side="right")
    origins = spaced_dates(dates[trainable >= min_train_dates], origin_spacing_days,
                           limit=n_folds)
    if len(origins) < min_folds:
        raise NotEnoughHistory(_missing_history(dates, len(origins), min_folds=min_folds,
                                                min_train_dates=min_train_dates, reach=reach,
                                                spacing_days=origin_spacing_days,
                                                horizon_days=horizon_days))
    return [Fold(number=number, origin=origin, train_dates=dates[dates + reach <= origin])
            for number, origin in enumerate(origins, start=1)]


def spaced_dates(dates, spacing_days: int, *, limit: int | None = None) -> pd.DatetimeIndex:
    """The latest of ``dates``, then going back, each date at least ``spacing_days`` before
    the one kept after it; at most ``limit`` dates, in ascending order."""
    kept: list[pd.Timestamp] = []
    for date in pd.DatetimeIndex(dates).sort_values()[::-1]:
        if limit is not None and len(kept) == limit:
            break
        if not kept or kept[-1] - date >= pd.Timedelta(days=spacing_days):
            kept.append(date)
    return pd.DatetimeIndex(kept[::-1])


def adaptive_folds(as_of_dates, *, max_folds: int, horizon_days: int, min_train_dates: int,
                   spacing_days: int, min_folds: int = 2) -> list[Fold]:
    """As many rolling origins as the history holds, up to ``max_folds`` and at least
    ``min_folds``: ``spacing_days`` apart when enough fit that way (folds then test
    different months), else on every as-of date. Raises ``NotEnoughHistory``."""
    common = {"n_folds": max_folds, "horizon_days": horizon_days,
              "min_train_dates": min_train_dates, "min_folds": min_folds}
    try:
        return walk_forward_folds(as_of_dates, **common, origin_spacing_days=spacing_days)
    except NotEnoughHistory:
        return walk_forward_folds(as_of_dates, **common)


def _missing_history(dates: pd.DatetimeIndex, found: int, *, min_folds: int,
                     min_train_dates: int, reach: pd.Timedelta, spacing_days: int,
                     horizon_days: int) -> str:
    """What is missing for ``min_folds`` folds, in days of history, when dates go on at the
    cadence they have."""
    need = (f"walk-forward validation needs {min_folds} folds and the history allows "
            f"{found}: each origin needs {min_train_dates} earlier training date(s) whose "
            f"{horizon_days}-day label closed before it")
    if len(dates) == 0:
        return need + "; there is no as-of date with a closed label yet"
    cadence = pd.Timedelta(dates.to_series().diff().median()) if len(dates) > 1 else (
        pd.Timedelta(days=7))
    step = max(cadence, pd.Timedelta(days=spacing_days))
    # the first date on the dates' own cadence with enough closed training dates before it
    earliest = dates[0] + cadence * (min_train_dates - 1) + reach
    first_origin = dates[0] + cadence * int(np.ceil((earliest - dates[0]) / cadence))
    last_needed = first_origin + step * (min_folds - 1)
    more = max((last_needed - dates[-1]).days, 1)
    return (f"{need}. About {more} more days of history are needed (as-of dates run "
            f"{dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}), or set a shorter "
            "ACCOUNT_HEALTH_HORIZON_DAYS")


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
