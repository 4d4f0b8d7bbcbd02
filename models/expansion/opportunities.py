"""The daily scored-opportunities table: which accounts to offer more, in the documented schema
(docs/data-contract.md, "Scored opportunities").

``account_id, score (0-100), projected_arr, poc (probability of close), signals_json,
created_date, status`` plus ``tier`` (High > 80, Medium 50-80, Low < 50). ``poc`` is the
expansion model's calibrated probability of an expansion within the horizon; ``score`` is
its percentile among the day's accounts, so tiers split every day's book the same way
whatever the base rate; ``projected_arr`` is poc × the typical expansion (share of ARR seen
in training) × the account's ARR. Accounts in a churn band that needs recovery are not
handed over as leads: their status is "expansion after recovery".
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from models.expansion.model import ExpansionModel
from models.inputs import model_input
from models.scoring.reasons import values_and_sentences

OPPORTUNITY_COLUMNS = ["account_id", "score", "projected_arr", "poc", "signals_json",
                       "created_date", "status", "tier"]
STATUSES = ("open", "expansion after recovery")
#: Churn bands whose accounts are kept out of expansion lists until they recover.
RECOVERY_BANDS = ("at-risk", "critical")
N_SIGNALS = 3
#: Tiers whose rows get their signals explained: TreeSHAP over every account would add
#: about 11 s to a 200k-account morning for rows nobody reads.
SIGNAL_TIERS = ("High",)


def tier_of(score: np.ndarray) -> np.ndarray:
    """High above 80, Medium from 50 to 80, Low below 50."""
    score = np.asarray(score, dtype=float)
    return np.select([score > 80, score >= 50], ["High", "Medium"], default="Low")


def score_opportunities(features: pd.DataFrame, scores: pd.DataFrame, model: ExpansionModel,
                        *, day: pd.Timestamp, n_signals: int = N_SIGNALS,
                        recovery_bands: tuple[str, ...] = RECOVERY_BANDS,
                        signal_tiers: tuple[str, ...] = SIGNAL_TIERS) -> pd.DataFrame:
    """One row per account of ``features`` (the day's snapshot rows) that ``scores`` (the
    day's account_scores: ``account_id, band, arr``) holds, best opportunity first.
    ``signals_json`` is filled for the ``signal_tiers`` (an empty list elsewhere)."""
    frame = features.merge(scores[["account_id", "band", "arr"]], on="account_id",
                           validate="one_to_one").reset_index(drop=True)
    poc = model.predict(None, model_input(frame))["expansion_probability"].to_numpy()
    score = np.round(pd.Series(poc).rank(pct=True).to_numpy() * 100, 1) if len(frame) else poc
    tier = tier_of(score)
    explained = np.flatnonzero(np.isin(tier, signal_tiers))
    signals = np.full(len(frame), "[]", dtype=object)
    if len(explained):
        rows = frame.iloc[explained].reset_index(drop=True)
        contributions = model.classifier.shap_values(rows).drop(columns="bias")
        signals[explained] = _signals(contributions, rows, n_signals)
    opportunities = pd.DataFrame({
        "account_id": frame["account_id"].to_numpy(),
        "score": score,
        "projected_arr": np.round(poc * model.expansion_share * frame["arr"].to_numpy(float), 2),
        "poc": poc,
        "signals_json": signals,
        "created_date": pd.Timestamp(day).date(),
        "status": np.where(frame["band"].isin(recovery_bands), STATUSES[1], STATUSES[0]),
        "tier": tier,
    })
    return opportunities.sort_values(["score", "projected_arr", "account_id"],
                                     ascending=[False, False, True], ignore_index=True)


def _signals(contributions: pd.DataFrame, values: pd.DataFrame, k: int) -> list[str]:
    """Per row, the ``k`` features that raise its expansion probability most, as JSON."""
    effects = contributions.to_numpy(dtype=float)
    features = list(contributions.columns)
    k = min(k, len(features))
    order = np.argsort(-effects, axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(len(effects)), k)
    columns = order.ravel()
    chosen = effects[rows, columns]
    chosen_values, sentences = values_and_sentences(values, features, rows, columns)
    signals = [{"feature": features[j], "value": _plain(v), "effect": round(e, 4),
                "sentence": s} if e > 0 else None
               for j, v, e, s in zip(columns.tolist(), chosen_values.tolist(), chosen.tolist(),
                                     sentences.tolist(), strict=True)]
    return [json.dumps([s for s in signals[start:start + k] if s is not None])
            for start in range(0, len(signals), k)] if k else ["[]"] * len(effects)


def _plain(value):
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return value.item() if hasattr(value, "item") else value


def validate_opportunities(table: pd.DataFrame) -> list[str]:
    """What breaks the documented schema (docs/data-contract.md, "Scored opportunities");
    empty when nothing does."""
    problems = []
    missing = [c for c in OPPORTUNITY_COLUMNS if c not in table]
    if missing:
        return [f"missing columns: {', '.join(missing)}"]
    if table["account_id"].isna().any() or table["account_id"].duplicated().any():
        problems.append("account_id must be present and unique")
    if not table["score"].between(0, 100).all():
        problems.append("score must be within 0-100")
    if not table["poc"].between(0, 1).all():
        problems.append("poc must be a probability (0-1)")
    if (table["projected_arr"] < 0).any() or table["projected_arr"].isna().any():
        problems.append("projected_arr must be a non-negative amount")
    if not table["status"].isin(STATUSES).all():
        problems.append(f"status must be one of {', '.join(STATUSES)}")
    if not (table["tier"].to_numpy() == tier_of(table["score"])).all():
        problems.append("tier must follow score (High > 80, Medium 50-80, Low < 50)")
    for text in table["signals_json"]:
        try:
            signals = json.loads(text)
        except (TypeError, ValueError):
            problems.append("signals_json must be JSON")
            break
        if not isinstance(signals, list) or not all({"feature", "sentence"} <= set(s)
                                                    for s in signals):
            problems.append("signals_json must be a list of {feature, value, effect, sentence}")
            break
    if table["created_date"].nunique() > 1:
        problems.append("created_date must be one day per table")
    return problems
