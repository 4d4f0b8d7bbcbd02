"""Component weights learned from the data, for the composite of the component scores CSMs
see (``models.scoring.components``).

The component scores (0-100, better high) of the training rows become risks (100 - score,
scaled to 0-1; a missing component takes the training mean); a logistic regression on
them says how much each predicts churn. A component's learned weight is its coefficient
where that points the right way (a lower score, more churn), zero otherwise, normalised to
sum to one. Judged like the models: fitted on each walk-forward fold's training dates and
scored on its origin, the composite with the learned weights against the composite with the
configured ones (ROC AUC of 100 - composite, pooled over origins). The weights offered are
those of the last fold, with the accounts of its origin that would change band.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from models.scoring.components import Component, component_scores, composite
from models.scoring.health_bands import HealthConfig, assign_bands
from models.walk_forward import Fold

LABEL = "churned_within_horizon"


@dataclass(frozen=True)
class WeightFit:
    """Configured and learned weights, their walk-forward AUCs, and the band moves."""

    current: dict[str, float]
    learned: dict[str, float]
    auc_current: float
    auc_learned: float
    test_rows: int
    accounts: int
    accounts_changing_band: int

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({
            "component": list(self.current),
            "current_weight": [round(self.current[c], 3) for c in self.current],
            "learned_weight": [round(self.learned.get(c, 0.0), 3) for c in self.current],
            "walk_forward_auc_current": self.auc_current,
            "walk_forward_auc_learned": self.auc_learned,
            "accounts_changing_band": self.accounts_changing_band,
            "accounts": self.accounts})


def _risks(scores: pd.DataFrame, names: list[str], means: pd.Series) -> np.ndarray:
    columns = [f"health_{n}" for n in names]
    return ((100 - scores[columns].fillna(means)) / 100).to_numpy(float)


def _fit(scores: pd.DataFrame, label: np.ndarray, names: list[str]
         ) -> tuple[dict[str, float], pd.Series]:
    """Learned weights (normalised, non-negative) and the training means of the scores."""
    means = scores[[f"health_{n}" for n in names]].mean().fillna(50.0)
    if len(np.unique(label)) < 2:
        return {}, means
    model = LogisticRegression(C=1.0, max_iter=1000).fit(_risks(scores, names, means), label)
    coefficients = np.clip(model.coef_[0], 0, None)
    if coefficients.sum() <= 0:
        return {}, means
    return dict(zip(names, (coefficients / coefficients.sum()).tolist(), strict=True)), means


def fit_component_weights(training: pd.DataFrame, components: dict[str, Component],
                          folds: list[Fold], health: HealthConfig | None = None
                          ) -> WeightFit:
    """Learned weights for ``components`` on the training set, judged walk-forward on
    ``folds`` against the configured weights."""
    current = {name: c.weight for name, c in components.items()}
    total = sum(current.values())
    current = {name: w / total for name, w in current.items()}
    names = list(current)
    scores = component_scores(training, components)
    as_of = pd.to_datetime(training["as_of_date"])
    complete = (training["label_complete"].astype(bool).to_numpy()
                if "label_complete" in training else np.ones(len(training), dtype=bool))
    label = training[LABEL].to_numpy(int)
    tested, with_current, with_learned, learned = [], [], [], {}
    for fold in folds:
        train = fold.train_mask(as_of) & complete
        test = fold.test_mask(as_of) & complete
        learned, _ = _fit(scores[train], label[train], names)
        weights = learned or current
        tested.append(label[test])
        with_current.append(100 - composite(scores[test], current))
        with_learned.append(100 - composite(scores[test], weights))
    outcome = np.concatenate(tested) if tested else np.array([])

    def auc(risk: list[np.ndarray]) -> float:
        values = np.concatenate(risk) if risk else np.array([])
        known = ~np.isnan(values)
        if len(np.unique(outcome[known])) < 2:
            return float("nan")
        return float(roc_auc_score(outcome[known], values[known]))

    latest = (as_of == folds[-1].origin).to_numpy() if folds else np.zeros(len(training), bool)
    segments = training.loc[latest, "segment"] if "segment" in training else None

    def bands(weights: dict[str, float]) -> np.ndarray:
        return assign_bands(np.nan_to_num(composite(scores[latest], weights)), segments,
                            health)["band"].to_numpy()

    moved = int((bands(current) != bands(learned or current)).sum())
    return WeightFit(current=current, learned=learned or current,
                     auc_current=auc(with_current), auc_learned=auc(with_learned),
                     test_rows=len(outcome), accounts=int(latest.sum()),
                     accounts_changing_band=moved)


def with_weights(config: dict, weights: dict[str, float],
                 components: dict[str, Component]) -> dict:
    """The scoring YAML's content (``config``, as parsed) with each component's weight set
    to ``weights``; components the YAML does not list are written in full (signals too)."""
    updated = dict(config or {})
    listed = dict(updated.get("components") or {})
    for name, component in components.items():
        entry = dict(listed.get(name) or component.model_dump())
        entry["weight"] = round(float(weights.get(name, 0.0)), 4) or 0.0001
        listed[name] = entry
    updated["components"] = listed
    return updated
