"""Customer-voice features: support tickets and NPS responses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.day_grid import DayGrid, TrailingWindows, open_counts, ratio, window_sum

HIGH_PRIORITIES = ("high", "urgent")
NPS_WINDOW_DAYS = 120


def support_features(grid: DayGrid, tickets: pd.DataFrame, row_acc: np.ndarray,
                      row_day: np.ndarray) -> dict[str, np.ndarray]:
    acc = grid.accounts.get_indexer(tickets["account_id"].astype(str))
    opened = grid.day_index(tickets["opened_at"])
    closed_at = tickets["closed_at"]
    # Still-open tickets close "never"; a ticket closed on day d is no longer open at its end.
    closed = np.where(closed_at.notna(), grid.day_index(closed_at.fillna(tickets["opened_at"])),
                      grid.n_days)
    high = tickets["priority"].isin(HIGH_PRIORITIES).to_numpy()
    csat = tickets["csat"].to_numpy(dtype=float)
    rated = ~np.isnan(csat) & closed_at.notna().to_numpy()
    csat_sum = window_sum(grid.count_matrix(acc[rated], closed[rated], csat[rated]), 90,
                          row_acc, row_day)
    csat_n = window_sum(grid.count_matrix(acc[rated], closed[rated]), 90, row_acc, row_day)
    return {
        "open_tickets": open_counts(grid, acc, opened, closed)[row_acc, row_day],
        "open_high_priority_tickets": open_counts(grid, acc[high], opened[high],
                                                   closed[high])[row_acc, row_day],
        "tickets_30d": window_sum(grid.count_matrix(acc, opened), 30, row_acc, row_day),
        "avg_csat_90d": ratio(csat_sum, csat_n),
    }


def nps_features(grid: DayGrid, nps: pd.DataFrame, row_acc: np.ndarray,
                  row_day: np.ndarray) -> dict[str, np.ndarray]:
    """Mean NPS score over the last 120 days and its change from the 120 days before."""
    acc = grid.accounts.get_indexer(nps["account_id"].astype(str))
    day = grid.day_index(nps["responded_at"])
    score = nps["score"].to_numpy(dtype=float)
    total = TrailingWindows(grid.count_matrix(acc, day, score), row_acc, row_day)
    count = TrailingWindows(grid.count_matrix(acc, day), row_acc, row_day)
    latest = ratio(total.sum(NPS_WINDOW_DAYS), count.sum(NPS_WINDOW_DAYS))
    previous = ratio(total.sum(NPS_WINDOW_DAYS, lag=NPS_WINDOW_DAYS),
                     count.sum(NPS_WINDOW_DAYS, lag=NPS_WINDOW_DAYS))
    return {"nps_latest": latest, "nps_trend": latest - previous}
