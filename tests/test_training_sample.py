"""Training at scale: above the row limit, models fit on every row of a stratified sample of
accounts, while walk-forward folds still score every account."""

import numpy as np
import pandas as pd
import pytest

from models.churn.evaluation import evaluate_walk_forward
from models.inputs import LABEL
from models.training_sample import account_sample
from models.walk_forward import walk_forward_folds
from tests.test_models import training  # noqa: F401 - the shared fixture


def history(accounts: int = 1000, dates: int = 10, churners: int = 100) -> pd.DataFrame:
    """``dates`` rows per account; the first ``churners`` accounts churn on their last row."""
    ids = np.repeat([f"acc_{i:05d}" for i in range(accounts)], dates)
    label = np.zeros(accounts * dates, dtype=int)
    label[np.arange(churners) * dates + dates - 1] = 1
    return pd.DataFrame({"account_id": ids, LABEL: label,
                         "as_of_date": np.tile(pd.date_range("2026-01-04", periods=dates,
                                                             freq="7D"), accounts)})


def test_below_the_limit_every_row_is_kept():
    frame = history()
    assert account_sample(frame, len(frame)) is frame
    assert account_sample(frame, None) is frame


def test_a_sample_keeps_whole_accounts_and_the_churn_share():
    frame = history()
    sample = account_sample(frame, 2500)
    per_account = sample.groupby("account_id").size()
    assert (per_account == 10).all()  # every row of a sampled account
    assert len(sample) == 2500
    churned = sample.groupby("account_id")[LABEL].max()
    assert churned.sum() == 25  # a quarter of the 100 churners, a quarter of the rest
    pd.testing.assert_frame_equal(account_sample(frame, 2500), sample)  # the same draw


@pytest.mark.slow
def test_walk_forward_scores_every_account_when_fitting_on_a_sample(training):  # noqa: F811
    folds = walk_forward_folds(training["as_of_date"], n_folds=2, horizon_days=90)
    full = evaluate_walk_forward(training, folds)
    sampled = evaluate_walk_forward(training, folds, max_training_rows=len(training) // 2)
    keys = ["fold", "account_id", "as_of_date"]
    pd.testing.assert_frame_equal(sampled.predictions[keys], full.predictions[keys])
    # fitted on other rows, so other probabilities
    assert not np.allclose(sampled.predictions["p_xgboost"], full.predictions["p_xgboost"])
