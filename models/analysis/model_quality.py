"""Tables behind the model-health page: calibration, lift and survival of the out-of-fold
predictions of walk-forward validation, and drift of today's predictions from them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from models.analysis.drift import DriftThresholds, feature_drift
from models.inputs import model_input
from models.scoring.health_bands import HealthConfig, assign_bands, health_score

PREDICTION = "churn_probability"
#: How many of the latest training as-of dates make the prediction-drift reference.
REFERENCE_DATES = 3


def calibration_table(label, probability, *, n_bins: int = 10) -> pd.DataFrame:
    """Per equal-width probability bin that holds rows: ``bin`` (its lower edge), ``rows``,
    ``mean_predicted`` and ``observed_rate``. A probability of exactly 1 falls in the top
    bin."""
    probability = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    bins = np.minimum((probability * n_bins).astype(int), n_bins - 1)
    table = pd.DataFrame({"bin": bins / n_bins, "p": probability,
                          "y": np.asarray(label, dtype=float)})
    return (table.groupby("bin").agg(rows=("p", "size"), mean_predicted=("p", "mean"),
                                     observed_rate=("y", "mean")).reset_index())


def lift_by_decile(label, probability) -> pd.DataFrame:
    """Rows ranked riskiest first and cut into ten equal groups (ties broken by position):
    ``decile`` (1 = riskiest), ``rows``, ``churn_rate`` and ``lift`` (churn rate over the
    overall rate; missing when nobody churned)."""
    label = pd.Series(np.asarray(label, dtype=float))
    rank = pd.Series(np.asarray(probability, dtype=float)).rank(method="first",
                                                                ascending=False)
    decile = np.ceil(rank / len(rank) * 10).astype(int)
    table = label.groupby(decile).agg(rows="size", churn_rate="mean").rename_axis("decile")
    overall = label.mean()
    table["lift"] = table["churn_rate"] / overall if overall > 0 else np.nan
    return table.reset_index()


def kaplan_meier(durations, observed, groups) -> pd.DataFrame:
    """Kaplan-Meier survival per group: ``group, days, survival, at_risk`` with a row at day
    0 and one at each day something happened (a churn or a censoring)."""
    frame = pd.DataFrame({"duration": np.asarray(durations, dtype=float),
                          "observed": np.asarray(observed, dtype=bool),
                          "group": np.asarray(groups, dtype=object)})
    curves = []
    for group, rows in frame.groupby("group", sort=True):
        fitter = KaplanMeierFitter().fit(rows["duration"], rows["observed"])
        curve = fitter.survival_function_.iloc[:, 0]
        at_risk = fitter.event_table["at_risk"].reindex(curve.index)
        curves.append(pd.DataFrame({"group": group, "days": curve.index.to_numpy(float),
                                    "survival": curve.to_numpy(),
                                    "at_risk": at_risk.to_numpy()}))
    return pd.concat(curves, ignore_index=True)


def reference_predictions(bundle, training: pd.DataFrame, *,
                          dates: int = REFERENCE_DATES) -> pd.DataFrame:
    """The model's own churn probabilities for the accounts of its latest ``dates`` training
    as-of dates (``account_id, as_of_date, segment, churn_probability``): what today's
    predictions are held against. The same model on both sides, so a difference means the
    population moved; out-of-fold predictions come from other (fold) models and differ from
    the final one even on the same accounts."""
    latest = np.sort(training["as_of_date"].unique())[-dates:]
    rows = training[training["as_of_date"].isin(latest)]
    reference = rows[["account_id", "as_of_date"]].copy()
    reference["segment"] = rows["segment"].astype(str) if "segment" in rows else None
    reference[PREDICTION] = bundle.predict(None, model_input(rows))[PREDICTION].to_numpy()
    return reference.reset_index(drop=True)


def bands_of(probability, segments=None, config: HealthConfig | None = None) -> pd.DataFrame:
    """``band`` and ``color`` of each churn probability, as daily scoring assigns them."""
    return assign_bands(health_score(probability, config), segments, config)


def prediction_drift(reference, current, *, thresholds: DriftThresholds | None = None,
                     flagged_reference=None, flagged_current=None) -> dict[str, float | bool]:
    """PSI and KS of today's churn probabilities against the reference ones
    (``reference_predictions``), their means, and when given, the share flagged red in each."""
    row = feature_drift(pd.DataFrame({PREDICTION: np.asarray(reference, dtype=float)}),
                        pd.DataFrame({PREDICTION: np.asarray(current, dtype=float)}),
                        [PREDICTION], thresholds=thresholds).iloc[0]
    result: dict[str, float | bool] = {
        "psi": float(row["psi"]), "ks_statistic": float(row["ks_statistic"]),
        "mean_reference": float(np.mean(reference)), "mean_current": float(np.mean(current)),
        "drifted": bool(row["drifted"])}
    if flagged_reference is not None and flagged_current is not None:
        result["flagged_share_reference"] = float(np.mean(flagged_reference))
        result["flagged_share_current"] = float(np.mean(flagged_current))
    return result
