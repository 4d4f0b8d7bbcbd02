"""Renewal forecast: the ARR and logos expected to renew in each of the next quarters, from
the subscription terms coming up for renewal and the renewal rates of the year before
("batting averages" by segment), with an interval; and the same forecast made at the start
of each past quarter against what renewed (the back-test).

Only terms of three months or longer are forecast: a monthly subscription "renews" every
month, and its risk is the churn model's to see. A subscription counts as coming up for
renewal at each anniversary of its start, whatever end date the export shows later (which
was not known when the forecast was made); it renewed when the account still paid on that
day. Each renewal is a coin with the segment's rate, and the rate itself moves from quarter
to quarter and is itself an estimate: the 95 % interval adds the spread of the last year's
quarterly rates and the rate's standard error to the coins' own variance (normal
approximation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import billing_period_months
from features.labels import active_periods
from features.retention_kpis import paying_on, term_anniversaries
from models.analysis.interventions import wilson_interval

#: Shortest term forecast, in months.
MIN_TERM_MONTHS = 3
#: Quarters of history a renewal rate is taken from.
RATE_QUARTERS = 4
#: Renewals a segment needs in those quarters for a rate of its own (else the overall rate).
MIN_SEGMENT_RENEWALS = 20
Z95 = 1.96

FORECAST_COLUMNS = ["quarter", "made_on", "terms_up", "arr_up", "expected_logos",
                    "logos_low", "logos_high", "expected_arr", "arr_low", "arr_high"]


def _with_segments(events: pd.DataFrame, subscriptions: pd.DataFrame,
                   segments: pd.Series | None, periods: pd.DataFrame | None) -> pd.DataFrame:
    events = events.reset_index(drop=True)
    events["renewed"] = paying_on(subscriptions, events["account_id"], events["renewal_date"],
                                  periods=periods)
    events["segment"] = (events["account_id"].map(segments).fillna("all")
                         if segments is not None else "all")
    return events


def upcoming_renewals(subscriptions: pd.DataFrame, segments: pd.Series | None, *,
                      made_on: pd.Timestamp, until: pd.Timestamp,
                      periods: pd.DataFrame | None = None) -> pd.DataFrame:
    """The renewals due in (``made_on``, ``until``] of the subscriptions active on
    ``made_on`` (terms of ``MIN_TERM_MONTHS`` or longer), as known that day: ``account_id,
    renewal_date, term_months, arr, segment``; ``renewed``: whether the account paid on the
    day (meaningful only for days already past). ``periods``: the subscriptions'
    ``active_periods`` when already made."""
    made_on, until = pd.Timestamp(made_on).normalize(), pd.Timestamp(until).normalize()
    term = billing_period_months(subscriptions["billing_period"])
    active = ((subscriptions["start_date"] <= made_on)
              & (subscriptions["end_date"].isna() | (subscriptions["end_date"] > made_on))
              & (term >= MIN_TERM_MONTHS))
    # the end the export shows now was not known then: every active term runs on
    events = term_anniversaries(subscriptions[active].assign(end_date=pd.NaT), until)
    events = events[pd.to_datetime(events["renewal_date"]) > made_on]
    return _with_segments(events, subscriptions, segments, periods)


def past_renewals(subscriptions: pd.DataFrame, segments: pd.Series | None, *,
                  since: pd.Timestamp, until: pd.Timestamp,
                  periods: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every renewal that was due in (``since``, ``until``]: the anniversaries of terms of
    ``MIN_TERM_MONTHS`` or longer that were running when their term began, so a
    subscription that ended mid-term counts as a renewal that did not happen (as the
    forecast, made before, counts it)."""
    since, until = pd.Timestamp(since).normalize(), pd.Timestamp(until).normalize()
    term = billing_period_months(subscriptions["billing_period"])
    chosen = subscriptions[term >= MIN_TERM_MONTHS]
    months = term[term >= MIN_TERM_MONTHS]
    # the anniversary after the end is the one due: run each term out to it
    due_until = chosen["end_date"].copy()
    for length in months.dropna().unique():
        ends = months == length
        due_until[ends] = (chosen.loc[ends, "end_date"] + pd.DateOffset(months=int(length))
                           - pd.Timedelta(days=1))
    due_until = due_until.fillna(until).clip(upper=until)
    events = term_anniversaries(chosen.assign(end_date=due_until), until)
    events = events[pd.to_datetime(events["renewal_date"]) > since]
    return _with_segments(events, subscriptions, segments, periods)


def segment_rates(history: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Per segment (and ``"all"``), the share of renewals that renewed, by count and by
    ARR; a segment with fewer than ``MIN_SEGMENT_RENEWALS`` takes the overall rates."""
    def rates(frame: pd.DataFrame) -> tuple[float, float]:
        arr = frame["arr"].sum()
        return (float(frame["renewed"].mean()),
                float(frame.loc[frame["renewed"], "arr"].sum() / arr) if arr else np.nan)

    overall = rates(history) if len(history) else (np.nan, np.nan)
    result = {"all": overall}
    for segment, frame in history.groupby("segment"):
        result[segment] = rates(frame) if len(frame) >= MIN_SEGMENT_RENEWALS else overall
    return result


def rate_spread(history: pd.DataFrame) -> tuple[float, float]:
    """How uncertain the rate is (by count, by ARR): the standard deviation of the
    quarterly renewal rate over the quarters of ``history``, with the standard error of
    the year's rate itself (from its Wilson interval, which stays open at a rate of 1)."""
    low, high = wilson_interval(int(history["renewed"].sum()), len(history))
    standard_error = (high - low) / (2 * Z95) if len(history) else 0.0
    quarters = pd.to_datetime(history["renewal_date"]).dt.to_period("Q")
    renewed_arr = history["arr"].where(history["renewed"], 0.0)
    by_quarter = pd.DataFrame({"renewed": history["renewed"].astype(float),
                               "arr": history["arr"], "renewed_arr": renewed_arr}).groupby(
        quarters.to_numpy()).agg(count_rate=("renewed", "mean"), arr=("arr", "sum"),
                                 renewed_arr=("renewed_arr", "sum"))
    if len(by_quarter) < 2:
        return standard_error, standard_error
    arr_rate = by_quarter["renewed_arr"] / by_quarter["arr"].where(by_quarter["arr"] > 0)
    return (float(np.hypot(by_quarter["count_rate"].std(), standard_error)),
            float(np.hypot(arr_rate.std(), standard_error)))


def forecast_quarter(upcoming: pd.DataFrame, rates: dict[str, tuple[float, float]],
                     spread: tuple[float, float] = (0.0, 0.0)) -> dict:
    """Expected renewing logos and ARR of ``upcoming`` renewals at their segments' rates,
    with 95 % intervals (``spread``: how much the rate itself moves, ``rate_spread``)."""
    overall = rates.get("all", (np.nan, np.nan))
    count_rate = upcoming["segment"].map(lambda s: rates.get(s, overall)[0]).to_numpy(float)
    arr_rate = upcoming["segment"].map(lambda s: rates.get(s, overall)[1]).to_numpy(float)
    arr = upcoming["arr"].to_numpy(float)
    logos = count_rate.sum()
    logos_sd = np.sqrt((count_rate * (1 - count_rate)).sum()
                       + (spread[0] * len(upcoming)) ** 2)
    expected_arr = (arr * arr_rate).sum()
    arr_sd = np.sqrt((arr_rate * (1 - arr_rate) * arr ** 2).sum()
                     + (spread[1] * arr.sum()) ** 2)
    return {"terms_up": len(upcoming), "arr_up": float(arr.sum()),
            "expected_logos": float(logos), "logos_low": float(logos - Z95 * logos_sd),
            "logos_high": float(logos + Z95 * logos_sd), "expected_arr": float(expected_arr),
            "arr_low": float(expected_arr - Z95 * arr_sd),
            "arr_high": float(expected_arr + Z95 * arr_sd)}


def _quarter(day: pd.Timestamp) -> pd.Period:
    return pd.Timestamp(day).to_period("Q")


def _rates_before(subscriptions: pd.DataFrame, segments: pd.Series | None,
                  start: pd.Timestamp, periods: pd.DataFrame
                  ) -> tuple[dict[str, tuple[float, float]], tuple[float, float]]:
    """Segment rates of the renewals in the ``RATE_QUARTERS`` quarters before ``start``,
    and their quarter-to-quarter spread."""
    since = start - pd.DateOffset(months=3 * RATE_QUARTERS)
    history = past_renewals(subscriptions, segments, since=since,
                            until=start - pd.Timedelta(days=1), periods=periods)
    return segment_rates(history), rate_spread(history)


def renewal_forecast(subscriptions: pd.DataFrame, segments: pd.Series | None, *,
                     as_of: pd.Timestamp, quarters: int = 2) -> pd.DataFrame:
    """The next ``quarters`` calendar quarters after ``as_of``'s: expected renewing logos
    and ARR (``FORECAST_COLUMNS``), at the rates of the year before ``as_of``. ``segments``:
    each account's segment (None: one rate for all)."""
    as_of = pd.Timestamp(as_of).normalize()
    periods = active_periods(subscriptions)
    rates, spread = _rates_before(subscriptions, segments, as_of + pd.Timedelta(days=1),
                                  periods)
    first = _quarter(as_of) + 1
    rows = []
    for k in range(quarters):
        quarter = first + k
        upcoming = upcoming_renewals(subscriptions, segments, made_on=as_of,
                                     until=quarter.end_time.normalize(), periods=periods)
        upcoming = upcoming[pd.to_datetime(upcoming["renewal_date"])
                            >= quarter.start_time]
        rows.append({"quarter": str(quarter), "made_on": as_of,
                     **forecast_quarter(upcoming, rates, spread)})
    return pd.DataFrame(rows, columns=FORECAST_COLUMNS)


def renewal_backtest(subscriptions: pd.DataFrame, segments: pd.Series | None, *,
                     as_of: pd.Timestamp) -> pd.DataFrame:
    """For each past quarter complete by ``as_of`` with a year of renewals before it: the
    forecast made on the day before it began, beside the logos and ARR that renewed, and
    the errors (forecast ÷ actual − 1) and whether the actual fell in the interval."""
    as_of = pd.Timestamp(as_of).normalize()
    first_day = subscriptions["start_date"].min()
    periods = active_periods(subscriptions)
    quarter = _quarter(first_day + pd.DateOffset(months=3 * RATE_QUARTERS)) + 1
    rows = []
    while quarter.end_time.normalize() <= as_of:
        start = quarter.start_time.normalize()
        rates, spread = _rates_before(subscriptions, segments, start, periods)
        upcoming = upcoming_renewals(subscriptions, segments,
                                     made_on=start - pd.Timedelta(days=1),
                                     until=quarter.end_time.normalize(), periods=periods)
        forecast = forecast_quarter(upcoming, rates, spread)
        renewed_arr = float(upcoming.loc[upcoming["renewed"], "arr"].sum())
        renewed_logos = int(upcoming["renewed"].sum())
        rows.append({"quarter": str(quarter), **forecast, "renewed_logos": renewed_logos,
                     "renewed_arr": renewed_arr,
                     "arr_error": forecast["expected_arr"] / renewed_arr - 1
                     if renewed_arr else np.nan,
                     "logos_error": forecast["expected_logos"] / renewed_logos - 1
                     if renewed_logos else np.nan,
                     "arr_within_interval": forecast["arr_low"] <= renewed_arr
                     <= forecast["arr_high"]})
        quarter += 1
    return pd.DataFrame(rows)
