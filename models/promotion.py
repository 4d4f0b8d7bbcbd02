"""Champion/challenger promotion: a new model replaces the champion only when it is better."""

from __future__ import annotations

from dataclasses import dataclass

PROMOTION_METRICS = ("roc_auc", "lift_at_10pct")
#: The mean ROC AUC over walk-forward origins (models.churn.evaluation.origin_spread).
ORIGIN_MEAN = "roc_auc_origin_mean"


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str


def decide_promotion(candidate: dict[str, float], baselines: dict[str, dict[str, float]],
                     champion: dict[str, float] | None, *, margin: float = 0.005,
                     auc_floor: float = 0.65,
                     textbook: dict[str, float] | None = None) -> PromotionDecision:
    """Promote when the candidate clears the AUC floor, beats the textbook model's mean
    per-origin ROC AUC by ``margin`` (unless it is the textbook model: pass None), beats
    every baseline on ROC AUC and lift@10% by ``margin``, and beats the current champion's
    walk-forward ROC AUC by ``margin``.

    Metrics are walk-forward pooled metrics, with ``roc_auc_origin_mean`` the mean over
    origins; the reason says which rule decided.
    """
    auc = candidate["roc_auc"]
    if not auc >= auc_floor:  # also catches NaN (e.g. a fold with one class)
        return PromotionDecision(False, f"roc_auc {auc:.4f} is below the floor {auc_floor}")
    if textbook is not None:
        mine, bar = candidate[ORIGIN_MEAN], textbook[ORIGIN_MEAN]
        if not mine >= bar + margin:
            return PromotionDecision(
                False, f"mean per-origin roc_auc {mine:.4f} does not beat the textbook "
                       f"model's ({bar:.4f}) by {margin}")
    for name, metrics in baselines.items():
        for metric in PROMOTION_METRICS:
            if not candidate[metric] >= metrics[metric] + margin:
                return PromotionDecision(
                    False, f"{metric} {candidate[metric]:.4f} does not beat baseline {name} "
                           f"({metrics[metric]:.4f}) by {margin}")
    if champion is None:
        return PromotionDecision(True, "no champion yet; beats all baselines")
    if not auc >= champion["roc_auc"] + margin:
        return PromotionDecision(
            False, f"roc_auc {auc:.4f} does not beat the champion's {champion['roc_auc']:.4f} "
                   f"by {margin}")
    return PromotionDecision(
        True, f"roc_auc {auc:.4f} beats the champion's {champion['roc_auc']:.4f} and baselines")
