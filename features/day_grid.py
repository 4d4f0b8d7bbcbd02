"""The (account x day) grid that every snapshot feature is computed on.

Windows are trailing calendar days ending with the as-of day, summed with cumulative sums
so a window of any length costs the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class DayGrid:
    """Accounts x days index used by all matrix computations."""

    accounts: pd.Index
    first_day: pd.Timestamp
    n_days: int

    def day_index(self, timestamps: pd.Series) -> np.ndarray:
        days = pd.to_datetime(timestamps)
        if getattr(days.dt, "tz", None) is not None:
            days = days.dt.tz_convert("UTC").dt.tz_localize(None)
        return ((days.dt.normalize() - self.first_day).dt.days).to_numpy()

    def count_matrix(self, account_codes: np.ndarray, day_idx: np.ndarray,
                     weights: np.ndarray | None = None) -> np.ndarray:
        """Sum of ``weights`` (default 1) per (account, day); rows outside the grid ignored."""
        keep = (account_codes >= 0) & (day_idx >= 0) & (day_idx < self.n_days)
        flat = account_codes[keep] * self.n_days + day_idx[keep]
        w = None if weights is None else weights[keep]
        counts = np.bincount(flat, weights=w, minlength=len(self.accounts) * self.n_days)
        return counts.reshape(len(self.accounts), self.n_days)


class TrailingWindows:
    """Trailing-window sums of one (account x day) matrix, evaluated at the snapshot rows only.

    One cumulative sum serves every window; only the rows' two ends are looked up, so a
    window costs O(rows), not another (account x day) matrix.
    """

    def __init__(self, matrix: np.ndarray, row_acc: np.ndarray, row_day: np.ndarray) -> None:
        # flat positions: a 1-D take costs a third of 2-D fancy indexing at millions of rows
        self.cumulative = np.cumsum(matrix, axis=1, dtype=np.float64).ravel()
        self.row_day = row_day
        self.row_start = row_acc * matrix.shape[1]

    def _through(self, day: np.ndarray) -> np.ndarray:
        """Sum over the grid's days up to and including ``day`` (zero before the grid)."""
        inside = day >= 0
        values = self.cumulative.take(self.row_start + np.where(inside, day, 0))
        values[~inside] = 0.0
        return values

    def sum(self, window: int, lag: int = 0) -> np.ndarray:
        """Sum over days (d-lag-window, d-lag] for each row's day d, zero outside the grid."""
        return self._through(self.row_day - lag) - self._through(self.row_day - lag - window)


def window_sum(matrix: np.ndarray, window: int, row_acc: np.ndarray, row_day: np.ndarray,
               lag: int = 0) -> np.ndarray:
    """Sum over days (d-lag-window, d-lag] at each row (account, day d), zero outside the
    grid (one window of one matrix; see ``TrailingWindows`` for several)."""
    return TrailingWindows(matrix, row_acc, row_day).sum(window, lag)


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1),
                        np.nan)


def change(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Relative change (current - previous) / previous; undefined when previous is 0."""
    return ratio(current - previous, previous)


def open_counts(grid: DayGrid, acc: np.ndarray, open_day: np.ndarray,
                close_day: np.ndarray) -> np.ndarray:
    """(account x day) count of items opened on or before d and not closed by the end of d."""
    keep = acc >= 0
    return interval_counts(grid, acc[keep], open_day[keep], close_day[keep])


def interval_counts(grid: DayGrid, acc: np.ndarray, start_day: np.ndarray,
                    end_day: np.ndarray) -> np.ndarray:
    """(account x day) count of intervals [start_day, end_day) covering each day: +1 at the
    start, -1 at the end, summed along the days (two bincounts, not a scatter)."""
    width = grid.n_days + 1
    size = len(grid.accounts) * width
    starts = acc * width + np.clip(start_day, 0, grid.n_days)
    ends = acc * width + np.clip(end_day, 0, grid.n_days)
    delta = (np.bincount(starts, minlength=size).astype(float)
             - np.bincount(ends, minlength=size)).reshape(len(grid.accounts), width)
    return np.cumsum(delta, axis=1)[:, : grid.n_days]
