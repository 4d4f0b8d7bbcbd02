"""Fold construction: time-ordered, no label window reaching into the test period."""

import pandas as pd
import pytest

from models.walk_forward import censor_at, walk_forward_folds

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


SUNDAYS = pd.date_range("2025-09-07", "2026-03-01", freq="7D")  # a year's weekly dates


def test_folds_adapt_to_the_history_and_space_their_origins():
    from models.walk_forward import adaptive_folds

    folds = adaptive_folds(SUNDAYS, max_folds=6, horizon_days=90, min_train_dates=4,
                           spacing_days=28)
    origins = [f.origin for f in folds]
    # origins from the last date back, 28 days apart, each with 4+ closed training dates
    assert origins[-1] == SUNDAYS[-1]
    assert set(pd.DatetimeIndex(origins).to_series().diff().dropna()) == {pd.Timedelta(days=28)}
    assert 2 <= len(folds) < 6
    assert all(len(f.train_dates) >= 4 for f in folds)
    # a maximum below what fits is respected
    assert len(adaptive_folds(SUNDAYS, max_folds=2, horizon_days=90, min_train_dates=4,
                              spacing_days=28)) == 2


def test_closer_origins_are_used_when_spaced_ones_do_not_fit():
    from models.walk_forward import adaptive_folds

    dates = SUNDAYS[:19]  # the first origin with 4 training dates is the 17th date
    folds = adaptive_folds(dates, max_folds=6, horizon_days=90, min_train_dates=4,
                           spacing_days=28)
    assert [f.origin for f in folds] == list(dates[-3:])


def test_too_little_history_says_how_many_more_days_are_needed():
    from models.walk_forward import NotEnoughHistory, adaptive_folds

    dates = SUNDAYS[:17]  # one origin fits: the second needs one more week of dates
    with pytest.raises(NotEnoughHistory, match=r"allows 1: .* About 7 more days of history"):
        adaptive_folds(dates, max_folds=6, horizon_days=90, min_train_dates=4,
                       spacing_days=28)


def test_weekly_training_dates_stay_put_as_history_grows():
    from features.training_set import training_as_of_dates

    year = training_as_of_dates(pd.Timestamp("2025-06-04"), pd.Timestamp("2026-06-03"),
                                horizon_days=90)
    longer = training_as_of_dates(pd.Timestamp("2025-06-04"), pd.Timestamp("2026-09-30"),
                                  horizon_days=90)
    assert (year.dayofweek == 6).all() and len(year) == 26  # Sundays
    assert year[0] >= pd.Timestamp("2025-06-04") + pd.Timedelta(days=90)
    assert year[-1] <= pd.Timestamp("2026-06-03") - pd.Timedelta(days=90)
    assert set(year) <= set(longer)
