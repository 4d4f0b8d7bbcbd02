"""Daily scoring: one row per active account with risk, health, time to churn, reasons and
the recommended action."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from features.event_vocabulary import readable_event_columns
from models.churn.bundle import ChurnModelBundle
from models.inputs import model_input
from models.scoring.components import Component, component_scores
from models.scoring.health_bands import HealthConfig, assign_bands, health_score
from models.scoring.json_text import JsonText, json_arrays, json_objects
from models.scoring.playbook import Playbook, recommend_actions
from models.scoring.reasons import top_reasons

N_REASONS = 3
#: Each reason in the scores' ``reasons`` JSON, and each CRM record (docs/scores.md).
REASON_FIELDS = ("feature", "value", "direction", "effect", "sentence")
CRM_FIELDS = ("customer_id", "health_score", "components", "signals", "band", "timestamp")


def score_accounts(features: pd.DataFrame, bundle: ChurnModelBundle, *,
                   model_version: str, health: HealthConfig | None = None,
                   playbook: Playbook | None = None, n_reasons: int = N_REASONS,
                   model_status: str = "champion",
                   components: dict[str, Component] | None = None) -> pd.DataFrame:
    """Score feature rows (``account_id``, ``as_of_date``, ``event_timestamp`` + features).

    Rows come back riskiest first with ``risk_rank`` 1 for the riskiest account;
    ``model_status`` (``champion``, or why the model is below the promotion bar) is kept on
    every row so nobody reads provisional scores as vetted ones. The component health
    scores (``health_<component>``, models.scoring.components) follow the band. Reasons
    read against the typical values of the model's training set (``bundle.typical``), so an
    account's reasons do not depend on which accounts are scored with it.
    """
    frame = features.reset_index(drop=True)
    if bundle.event_names:  # stored by slot, trained by event name
        frame = readable_event_columns(frame, bundle.event_names)
    inputs = model_input(frame)
    predictions = bundle.predict(None, inputs)
    risk = predictions["churn_probability"].to_numpy()
    segments = frame.get("segment")
    playbook = playbook or Playbook.load()
    health_config = health or HealthConfig()
    scores = health_score(risk, health_config)
    bands = assign_bands(scores, segments, health_config)

    contributions = bundle.classifier.shap_values(frame)
    reasons = top_reasons(contributions, frame, k=n_reasons,
                          event_names=getattr(bundle, "event_names", ()),
                          typical=getattr(bundle, "typical", None))
    # top_reasons gives k rows per account, account by account: reshape instead of grouping.
    n_shown = len(reasons) // max(len(frame), 1)
    sentences = reasons["sentence"].to_numpy(object).reshape(len(frame), n_shown)
    features = reasons["feature"].to_numpy(object).reshape(len(frame), n_shown)
    raises = reasons["effect"].to_numpy(float).reshape(len(frame), n_shown) > 0
    raising = [list(f[r]) for f, r in zip(features, raises, strict=True)]
    values = reasons["value"].to_numpy(object)
    values[pd.isna(values)] = None
    text = JsonText()
    detail = json_arrays(json_objects(REASON_FIELDS, [
        [text(f) for f in reasons["feature"].tolist()],
        [text(v.item() if isinstance(v, np.generic) else v) for v in values.tolist()],
        [text(d) for d in reasons["direction"].tolist()],
        [text(round(e, 4)) for e in reasons["effect"].tolist()],
        [text(s) for s in reasons["sentence"].tolist()]]), [n_shown] * len(frame))

    mrr = frame["mrr"].astype(float).to_numpy()
    scored = pd.DataFrame({
        "account_id": frame["account_id"].to_numpy(),
        "as_of": _dates(frame["as_of_date"]),
        "churn_probability": risk,
        "health_score": np.round(scores, 1),
        "band": bands["band"].to_numpy(),
        "color": bands["color"].to_numpy(),
        **{c: v.to_numpy() for c, v in component_scores(frame, components).items()},
        "p_churn_30d": predictions["p_churn_30d"].to_numpy(),
        "p_churn_60d": predictions["p_churn_60d"].to_numpy(),
        "p_churn_90d": predictions["p_churn_90d"].to_numpy(),
        "median_days_to_churn": predictions["median_days_to_churn"].to_numpy(),
        "mrr": mrr,
        "arr": 12 * mrr,
        "arr_tier": playbook.arr_tier(12 * mrr),
        "arr_at_risk": 12 * mrr * risk,
        # the portfolio a row belongs to, for drill-down (csm_owner is added from accounts)
        "segment": _column(frame, "segment"),
        "plan": _column(frame, "plan"),
        "days_to_renewal": frame["days_to_renewal"].to_numpy(),
        **{f"reason_{i + 1}": sentences[:, i] if i < n_shown else None
           for i in range(n_reasons)},
        "reasons": detail,
        "model_version": model_version,
        "model_status": model_status,
        # the array, not to_numpy(): a time zone would make an object array of Timestamps
        "feature_snapshot_timestamp": frame["event_timestamp"].array,
    })
    # every feature reaches the playbook, so a rule may bound any of them
    context = frame[[c for c in frame.columns if c not in scored.columns]]
    actions = recommend_actions(
        pd.concat([scored, context], axis=1).assign(
            risk_reasons=pd.Series(raising, dtype=object).to_numpy()), playbook)
    scored["recommended_action"] = actions["action"].to_numpy()
    scored["action_owner"] = actions["owner"].to_numpy()
    scored["action_sla_hours"] = actions["sla_hours"].to_numpy()
    scored["holdout"] = actions["holdout"].to_numpy()
    return ranked_by_risk(scored)


def ranked_by_risk(scored: pd.DataFrame) -> pd.DataFrame:
    """Scores riskiest first, with ``risk_rank`` (1: the riskiest) as the fourth column.

    Ties (calibrated probabilities come in steps) go to the larger ARR at risk, then by id,
    so the ranking never depends on the order rows arrived in.
    """
    scored = scored.drop(columns="risk_rank", errors="ignore").sort_values(
        ["churn_probability", "arr_at_risk", "account_id"], ascending=[False, False, True],
        ignore_index=True)
    scored.insert(3, "risk_rank", np.arange(1, len(scored) + 1))
    return scored


def account_owners(account_id: pd.Series, accounts: pd.DataFrame | None) -> np.ndarray:
    """Each account's ``csm_owner`` from the accounts table; None where it has none."""
    if accounts is None or "csm_owner" not in accounts:
        return np.full(len(account_id), None, dtype=object)
    owners = accounts.drop_duplicates("account_id").set_index("account_id")["csm_owner"]
    found = owners.reindex(account_id.to_numpy())
    return found.astype(object).where(found.notna(), None).to_numpy()


def _column(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A descriptive column as text, empty where the export has none."""
    if column not in frame:
        return np.full(len(frame), None, dtype=object)
    return frame[column].astype(object).where(frame[column].notna(), None).to_numpy()


def _dates(days: pd.Series) -> np.ndarray:
    """``datetime.date`` per row, made once per distinct day (a day's rows share one)."""
    code, distinct = pd.factorize(pd.to_datetime(days))
    return np.array([day.date() for day in distinct] + [None], dtype=object)[code]


def crm_records(scores: pd.DataFrame) -> list[dict]:
    """Scores as the JSON records CRM and CS tools consume (docs/scores.md):
    ``customer_id, health_score, components{name: 0-100}, signals[{name, value, weight}],
    band, timestamp``.

    ``signals`` are the account's reasons; ``weight`` is the SHAP effect on the log-odds of
    churn (positive raises risk).
    """
    return json.loads(crm_json(scores))


def crm_json(scores: pd.DataFrame) -> str:
    """``crm_records`` as the JSON text of their list, written without making them."""
    # one parse of all accounts' reasons, and one isoformat per distinct timestamp (a day's
    # rows share one)
    reasons = json.loads("[" + ",".join(r if isinstance(r, str) else "[]"
                                        for r in scores["reasons"]) + "]")
    text = JsonText()
    every = [reason for of_account in reasons for reason in of_account]
    signals = json_objects(("name", "value", "weight"), [
        [text(r["feature"]) for r in every], [text(r["value"]) for r in every],
        [text(r["effect"]) for r in every]])
    signals = json_arrays(signals, [len(of_account) for of_account in reasons])
    stamp_code, stamps = pd.factorize(pd.to_datetime(scores["feature_snapshot_timestamp"]))
    shown = [text(pd.Timestamp(t).isoformat()) for t in stamps] + [text("NaT")]
    names = [c for c in scores.columns if c.startswith("health_") and c != "health_score"]
    parts = scores[names].to_numpy(float) if names else np.empty((len(scores), 0))
    # whole columns to Python at once (null where missing): per-value numpy scalars cost
    # seconds
    components = (json_objects([n.removeprefix("health_") for n in names], [
        ["null" if math.isnan(v) else text(v) for v in column.tolist()] for column in parts.T])
        if names else ["{}"] * len(scores))
    records = json_objects(CRM_FIELDS, [
        [text(a) for a in scores["account_id"].tolist()],
        [text(h) for h in scores["health_score"].astype(float).tolist()],
        components, signals,
        [text(b) for b in scores["band"].tolist()],
        [shown[code] for code in stamp_code.tolist()]])
    return "[" + ", ".join(records) + "]"
