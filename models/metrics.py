"""Model metrics: discrimination, calibration, top-of-list usefulness and survival accuracy."""

from __future__ import annotations

import math

import numpy as np
from lifelines.utils import concordance_index
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

TOP_FRACTION = 0.10
SURVIVAL_HORIZONS = (30, 60, 90)


def expected_calibration_error(y_true, y_prob, *, n_bins: int = 10) -> float:
    """Mean |observed rate - mean predicted| over equal-width probability bins, by bin size."""
    y_true, y_prob = np.asarray(y_true, float), np.asarray(y_prob, float)
    bins = np.minimum((y_prob * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        in_bin = bins == b
        error += in_bin.sum() * abs(y_true[in_bin].mean() - y_prob[in_bin].mean())
    return float(error / len(y_true))


def top_of_list(y_true, y_prob, *, fraction: float = TOP_FRACTION) -> dict[str, float]:
    """Precision, recall and lift among the ``fraction`` highest-risk rows.

    The list has ceil(fraction * n) rows; ties keep the input order (stable sort).
    """
    y_true, y_prob = np.asarray(y_true, float), np.asarray(y_prob, float)
    k = max(1, math.ceil(fraction * len(y_true)))
    top = np.argsort(-y_prob, kind="stable")[:k]
    precision = y_true[top].mean()
    positives = y_true.sum()
    base_rate = y_true.mean()
    return {"precision": float(precision),
            "recall": float(y_true[top].sum() / positives) if positives else float("nan"),
            "lift": float(precision / base_rate) if base_rate else float("nan")}


def top_n(y_true, score, *, n: int, value=None) -> dict[str, float]:
    """Precision, lift over random targeting and (with ``value``) the share of the total
    value captured among the ``n`` highest-scored rows (ties keep the input order)."""
    y_true, score = np.asarray(y_true, float), np.asarray(score, float)
    top = np.argsort(-score, kind="stable")[:min(n, len(y_true))]
    precision = float(y_true[top].mean()) if len(top) else float("nan")
    base_rate = float(y_true.mean()) if len(y_true) else float("nan")
    result = {"precision": precision,
              "lift": precision / base_rate if base_rate else float("nan")}
    if value is not None:
        value = np.asarray(value, float)
        result["value_captured"] = float(value[top].sum() / value.sum()) if value.sum() > 0 \
            else float("nan")
    return result


def classification_metrics(y_true, y_prob) -> dict[str, float]:
    """ROC AUC, PR AUC, Brier, ECE and precision/recall/lift at the top 10 %."""
    y_true = np.asarray(y_true)
    both_classes = len(np.unique(y_true)) == 2
    top = top_of_list(y_true, y_prob)
    return {
        "roc_auc": float(roc_auc_score(y_true, y_prob)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(y_true, y_prob)) if both_classes
        else float("nan"),
        "brier": float(brier_score_loss(y_true, y_prob)),
        "ece": expected_calibration_error(y_true, y_prob),
        "precision_at_10pct": top["precision"],
        "recall_at_10pct": top["recall"],
        "lift_at_10pct": top["lift"],
        "positive_rate": float(np.mean(y_true)),
        "rows": float(len(y_true)),
        # a model whose scores come in a few steps cannot rank the accounts within a step
        "distinct_probabilities": float(len(np.unique(np.round(np.asarray(y_prob, float), 6)))),
    }


def status_at(duration, event, horizon: int) -> np.ndarray:
    """1 = churned by ``horizon`` days, 0 = still a customer after it, NaN = censored before."""
    duration, event = np.asarray(duration, float), np.asarray(event, int)
    status = np.full(len(duration), np.nan)
    status[(event == 1) & (duration <= horizon)] = 1.0
    status[duration > horizon] = 0.0
    return status


def survival_metrics(duration, event, risk, churn_probability: dict[int, np.ndarray]
                     ) -> dict[str, float]:
    """Concordance of ``risk`` and, per horizon t, AUC and Brier of P(churn by t).

    Time-dependent AUC and Brier use the rows whose status at t is known (churned by t, or
    observed beyond t); rows censored before t are left out rather than re-weighted.
    """
    metrics = {"concordance": float(concordance_index(duration, -np.asarray(risk), event))}
    for horizon, prob in churn_probability.items():
        status = status_at(duration, event, horizon)
        known = ~np.isnan(status)
        y, p = status[known], np.asarray(prob)[known]
        metrics[f"auc_{horizon}d"] = (float(roc_auc_score(y, p)) if len(np.unique(y)) == 2
                                      else float("nan"))
        metrics[f"brier_{horizon}d"] = float(np.mean((p - y) ** 2)) if len(y) else float("nan")
    return metrics


def weighted_auc(values: np.ndarray, outcome: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of ``values`` for the 0/1 ``outcome`` under each row of ``weights`` (replicates
    × rows): the weighted Mann-Whitney statistic, ties counting one half. NaN where a
    replicate has no positive or no negative weight."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="stable")
    sorted_values, positive = values[order], np.asarray(outcome, dtype=float)[order]
    weights = np.atleast_2d(weights)[:, order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    positive_by_value = np.add.reduceat(weights * positive, starts, axis=1)
    negative_by_value = np.add.reduceat(weights, starts, axis=1) - positive_by_value
    negatives_below = np.cumsum(negative_by_value, axis=1) - negative_by_value
    pairs = positive_by_value.sum(axis=1) * negative_by_value.sum(axis=1)
    wins = (positive_by_value * (negatives_below + 0.5 * negative_by_value)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, wins / np.where(pairs > 0, pairs, 1), np.nan)
