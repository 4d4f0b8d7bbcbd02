"""Training rows at scale: every row of a stratified sample of accounts.

Above ``max_rows`` training rows the models fit on all rows of a random share of accounts,
the same share of accounts that churn in the set as of those that never do, so the churn
rate and each sampled account's whole history are kept. Only fitting is sampled: walk-forward
folds are still scored on every account of their origin date, so a sample's cost in accuracy
shows in the validation metrics (benchmarks/training_sample.py measures it). The draw hashes
the account id with a salt: the same rows give the same sample on every machine.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from models.inputs import LABEL

#: Training rows fitted in full; above it, a stratified sample of accounts.
DEFAULT_MAX_TRAINING_ROWS = 5_000_000


def _draw(account_ids: pd.Index, salt: str) -> np.ndarray:
    """A uniform number in [0, 1) per account, fixed by the account id and the salt."""
    return np.array([int.from_bytes(hashlib.blake2b(f"{salt}:{account}".encode(),
                                                    digest_size=8).digest(), "big")
                     for account in account_ids], dtype=np.float64) / 2.0**64


def account_sample(training: pd.DataFrame, max_rows: int | None, *,
                   salt: str = "training-sample") -> pd.DataFrame:
    """``training`` when it has at most ``max_rows`` rows (or ``max_rows`` is None);
    otherwise every row of a share of accounts, drawn separately among accounts with a
    churn label in the set and the rest, that holds about ``max_rows`` rows."""
    if max_rows is None or len(training) <= max_rows:
        return training
    share = max_rows / len(training)
    churned = training.groupby("account_id", sort=True)[LABEL].max().astype(bool)
    draws = pd.Series(_draw(churned.index, salt), index=churned.index)
    kept = []
    for stratum in (True, False):
        ranked = draws[churned == stratum].sort_values(kind="stable")
        kept.append(ranked.index[:int(np.ceil(share * len(ranked)))])
    return training[training["account_id"].isin(kept[0].append(kept[1]))]
