"""Customer-voice features: support tickets and NPS responses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.day_grid import GridRows, TableGrid, ratio

HIGH_PRIORITIES = ("high", "urgent")
NPS_WINDOW_DAYS = 120


def support_features(grid: TableGrid, tickets: pd.DataFrame,
                     rows: GridRows) -> dict[str, np.ndarray]:
    acc = grid.account_positions(tickets["account_id"])
    opened = grid.day_index(tickets["opened_at"])
    closed_at = tickets["closed_at"]
    # Still-open tickets close "never"; a ticket closed on day d is no longer open at its end.
    closed = np.where(closed_at.notna(), grid.day_index(closed_at.fillna(tickets["opened_at"])),
                      grid.n_days)
    high = tickets["priority"].isin(HIGH_PRIORITIES).to_numpy()
    csat = tickets["csat"].to_numpy(dtype=float)
    rated = ~np.isnan(csat) & closed_at.notna().to_numpy()
    csat_sum = grid.totals(acc[rated], closed[rated], csat[rated]).window(rows, 90)
    csat_n = grid.totals(acc[rated], closed[rated]).window(rows, 90)
    return {
        "open_tickets": grid.open_counts(acc, opened, closed).at(rows),
        "open_high_priority_tickets": grid.open_counts(acc[high], opened[high],
                                                       closed[high]).at(rows),
        "tickets_30d": grid.totals(acc, opened).window(rows, 30),
        "avg_csat_90d": ratio(csat_sum, csat_n),
    }


def nps_features(grid: TableGrid, nps: pd.DataFrame, rows: GridRows) -> dict[str, np.ndarray]:
    """The latest NPS response within 120 days (the mean of that day's responses: one
    detractor among earlier promoters shows), and the change of the mean score over the
    last 120 days from the 120 days before."""
    acc = grid.account_positions(nps["account_id"])
    day = grid.day_index(nps["responded_at"])
    # read before the score totals: both are float matrices of the grid
    last_day = grid.latest(acc, day).at(rows)
    recent = (last_day >= 0) & (rows.day - last_day < NPS_WINDOW_DAYS)
    on_last_day = grid.rows(rows.account, np.where(recent, last_day, rows.day))
    total = grid.totals(acc, day, nps["score"].to_numpy(dtype=float))
    score_last_day = total.window(on_last_day, 1)
    score_now, score_before = (total.window(rows, NPS_WINDOW_DAYS),
                               total.window(rows, NPS_WINDOW_DAYS, lag=NPS_WINDOW_DAYS))
    count = grid.totals(acc, day)
    latest = ratio(score_last_day, count.window(on_last_day, 1))
    mean_now = ratio(score_now, count.window(rows, NPS_WINDOW_DAYS))
    mean_before = ratio(score_before, count.window(rows, NPS_WINDOW_DAYS, lag=NPS_WINDOW_DAYS))
    return {"nps_latest": np.where(recent, latest, np.nan), "nps_trend": mean_now - mean_before}
