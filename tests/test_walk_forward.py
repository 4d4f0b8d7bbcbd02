"""Fold construction: time-ordered, no label window reaching into the test period."""

import pandas as pd
import pytest

from models.validation import censor_at, walk_forward_folds

MONTH_ENDS = pd.date_range("2025-01-31", periods=14, freq="ME")


def test_folds_use_the_last_dates_as_origins_in_order():
    folds = walk_forward_folds(MONTH_ENDS, n_folds=6, horizon_days=90)
    assert [f.origin for f in folds] == list(MONTH_ENDS[-6:])
    assert [f.number for f in folds] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(("horizon", "gap"), [(90, 0), (30, 0), (60, 31)])
def test_no_training_label_window_overlaps_the_test_period(horizon, gap):
    for fold in walk_forward_folds(MONTH_ENDS, n_folds=4, horizon_days=horizon, gap_days=gap):
        for day in fold.train_dates:
            label_window_end = day + pd.Timedelta(days=horizon)
            assert label_window_end + pd.Timedelta(days=gap) <= fold.origin
        # and every date that qualifies is used (folds are not needlessly small)
        dates = MONTH_ENDS
        unused = dates[(dates < fold.origin) & ~dates.isin(fold.train_dates)]
        assert all(d + pd.Timedelta(days=horizon + gap) > fold.origin for d in unused)


def test_training_never_includes_the_test_date_or_later():
    for fold in walk_forward_folds(MONTH_ENDS, n_folds=6, horizon_days=30):
        assert fold.train_dates.max() < fold.origin


def test_masks_select_rows_by_date():
    frame = pd.DataFrame({"as_of_date": list(MONTH_ENDS) * 2})
    fold = walk_forward_folds(MONTH_ENDS, n_folds=1, horizon_days=90)[0]
    assert frame.loc[fold.test_mask(frame["as_of_date"]), "as_of_date"].unique() == [fold.origin]
    assert frame.loc[fold.train_mask(frame["as_of_date"])].shape[0] == 2 * len(fold.train_dates)


def test_too_little_history_is_an_error():
    with pytest.raises(ValueError, match="training date"):
        walk_forward_folds(MONTH_ENDS[:5], n_folds=4, horizon_days=90)


def test_censor_at_origin_hides_later_churn():
    frame = pd.DataFrame({"as_of_date": pd.to_datetime(["2025-01-31", "2025-01-31"]),
                          "duration_days": [20, 100], "churn_observed": [1, 1]})
    censored = censor_at(frame, pd.Timestamp("2025-03-31"))  # 59 days later
    assert censored["churn_observed"].tolist() == [1, 0]
    assert censored["duration_days"].tolist() == [20, 59]
