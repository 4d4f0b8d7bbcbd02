"""Model capacity chosen from the user's own data, looking forward in time only.

Inside a training window, the earlier as-of dates fit each setting of a small grid and the
later dates judge it (ROC AUC); the chosen setting is then refitted on the whole window. The
folds of walk-forward validation do this inside their own training dates, so the figures
they report include the cost of choosing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

#: Share of a training window's latest as-of dates that judge the settings: a third, so the
#: judging rows hold enough churners to tell settings apart on a small export.
VALIDATION_SHARE = 1 / 3


def time_ordered_split(as_of: pd.Series, share: float = VALIDATION_SHARE
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(fit mask, validation mask): the latest ``share`` of dates (at least one) validate."""
    dates = np.sort(as_of.unique())
    if len(dates) < 2:
        raise ValueError("time-ordered validation needs at least two as-of dates")
    n_validation = min(max(1, int(round(share * len(dates)))), len(dates) - 1)
    validation = as_of.isin(dates[-n_validation:]).to_numpy()
    return ~validation, validation


def can_judge(y_fit: np.ndarray, y_validation: np.ndarray) -> bool:
    """Whether both halves of a split hold both classes (else a grid cannot be judged)."""
    return len(np.unique(y_fit)) == 2 and len(np.unique(y_validation)) == 2


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC, NaN when ``y`` holds one class."""
    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")


def best_setting(scores: list[float]) -> int:
    """Index of the best validation AUC; ties (within 0.001) go to the earliest setting, so
    a grid lists its simplest setting first."""
    values = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    return int(np.flatnonzero(values >= values.max() - 1e-3)[0])
