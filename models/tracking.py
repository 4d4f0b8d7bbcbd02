"""MLflow tracking and registry for the churn and expansion models, and daily monitoring.

One parent run per training with a child run per walk-forward fold (both models); the
deployable bundle is logged in the parent run and registered, the version described by its
data window, folds, metrics and promotion reason; aliases ``champion`` and ``challenger``
mark what scoring uses and what lost (with the reason as a version tag). Each scored day's
monitoring figures are a run of their own in the monitoring experiment.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.models import infer_signature
from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM

from models.churn.evaluation import WalkForwardResult
from models.expansion.model import ExpansionValidation
from models.inputs import model_input
from models.promotion import PromotionDecision
from models.reports import plots as report_plots
from models.scoring.health_bands import churn_by_band
from models.walk_forward import Fold

EXPERIMENT = "account-health-churn"
REGISTERED_MODEL = "account-health-churn"
#: The expansion propensity model: an experiment and a registered model of its own.
EXPANSION_EXPERIMENT = "account-health-expansion"
EXPANSION_MODEL = "account-health-expansion"
#: One run per scored day: its headline, drift and realised-performance figures.
MONITORING_EXPERIMENT = "account-health-monitoring"
#: MLflow 3 opens an experiment in the view its kind names (traces for GenAI otherwise).
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"
CHAMPION, CHALLENGER = "champion", "challenger"
VALIDATION_PREDICTIONS = "walk_forward_predictions.parquet"
REFERENCE_PREDICTIONS = "reference_predictions.parquet"
PACKAGE_DIRS = [str(Path(__file__).resolve().parent.parent / p) for p in ("models", "features")]
#: What the bundle needs at load time, pinned to the versions it was trained with (saves
#: MLflow inferring them by running the model in a subprocess).
RUNTIME_PACKAGES = ("mlflow", "xgboost", "lifelines", "scikit-learn", "pandas", "numpy",
                    "pyarrow", "pydantic", "pyyaml")


def pinned_requirements() -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in RUNTIME_PACKAGES]


def use_tracking(tracking_uri: str, artifact_location: str,
                 experiment: str = EXPERIMENT) -> str:
    """Point MLflow at the store and make sure the experiment exists; returns its id."""
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    existing = mlflow.get_experiment_by_name(experiment)
    experiment_id = (existing.experiment_id if existing else
                     mlflow.create_experiment(experiment,
                                              artifact_location=artifact_location or None,
                                              tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}))
    if existing and existing.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
        MlflowClient().set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def data_hash(frame: pd.DataFrame) -> str:
    """Content hash of a training set: same data, same hash."""
    hashed = pd.util.hash_pandas_object(frame.sort_index(axis=1), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def _model_metrics(table: pd.DataFrame) -> dict[str, float]:
    return {f"{row['model']}.{metric}": float(value)
            for row in table.to_dict("records") for metric, value in row.items()
            if metric not in {"model", "fold", "origin", "scope", "value", "segment_by"}
            and pd.notna(value)}


def log_walk_forward(result: WalkForwardResult, folds: list[Fold], params: dict,
                     run_name: str) -> str:
    """Parent run with params, pooled metrics and report artifacts; one child per fold."""
    with mlflow.start_run(run_name=run_name) as parent:
        mlflow.log_params(params)
        mlflow.log_metrics(_model_metrics(result.pooled_metrics))
        # Proportional-hazards test of the last fold's Cox model (details in the CSV).
        mlflow.log_metric("cox.ph_assumption_violations",
                          int(result.proportional_hazards["violates"].sum()))
        mlflow.set_tag("chosen_candidate", result.chosen)
        _log_folds(folds, result.fold_metrics, result.settings)
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            report_plots.save_all(result, directory / "plots")
            if result.settings is not None:
                result.settings.to_csv(directory / "tuned_settings.csv", index=False)
            result.fold_metrics.to_csv(directory / "fold_metrics.csv", index=False)
            result.pooled_metrics.to_csv(directory / "pooled_metrics.csv", index=False)
            # the reference the model-health page and prediction drift compare against
            result.predictions.to_parquet(directory / VALIDATION_PREDICTIONS, index=False)
            result.segment_metrics.to_csv(directory / "segment_metrics.csv", index=False)
            result.proportional_hazards.to_csv(directory / "proportional_hazards_test.csv")
            result.shap_importance.rename("mean_abs_shap").to_csv(
                directory / "shap_importance.csv")
            churn_by_band(result.predictions[f"p_{result.chosen}"],
                          result.predictions["churned_within_horizon"]).to_csv(
                directory / "churn_by_health_band.csv", index=False)
            mlflow.log_artifacts(str(directory))
        return parent.info.run_id


def _log_folds(folds: list[Fold], fold_metrics: pd.DataFrame,
               settings: pd.DataFrame | None = None) -> None:
    """One child run per walk-forward fold of the active run: its dates, the settings its
    training window chose, and its metrics."""
    for fold in folds:
        fold_table = fold_metrics[fold_metrics["fold"] == fold.number]
        with mlflow.start_run(run_name=f"fold {fold.number} · origin {fold.origin.date()}",
                              nested=True):
            mlflow.log_params({"fold": fold.number, "origin": fold.origin.date().isoformat(),
                               "train_dates": len(fold.train_dates),
                               "first_train_date": fold.train_dates[0].date().isoformat(),
                               "last_train_date": fold.train_dates[-1].date().isoformat()})
            if settings is not None:
                chosen = settings[settings["fold"] == fold.number]
                mlflow.log_params({f"{row.model}.chosen": row.setting
                                   for row in chosen.itertuples()})
            mlflow.log_metrics(_model_metrics(fold_table))


@contextlib.contextmanager
def _registry_notes_off():
    """MLflow's own "Successfully registered model ..." lines off: the run's summary says
    which version was registered and why. Failures still raise."""
    enabled = MLFLOW_LOGGING_STREAM.enabled
    MLFLOW_LOGGING_STREAM.enabled = False
    try:
        yield
    finally:
        MLFLOW_LOGGING_STREAM.enabled = enabled


def log_bundle(run_id: str, bundle: mlflow.pyfunc.PythonModel, example: pd.DataFrame,
               reference: pd.DataFrame | None = None, *, name: str = "churn_model",
               registered_model: str = REGISTERED_MODEL) -> tuple[str, str]:
    """Log the pyfunc model in ``run_id`` with signature and input example, and register it
    as ``registered_model``; ``reference`` (its predictions on recent training rows, for
    prediction drift) beside it.

    Returns (model URI, registered version).
    """
    example = model_input(example.head(20))
    signature = infer_signature(example, bundle.predict(None, example))
    with mlflow.start_run(run_id=run_id), warnings.catch_warnings(), _registry_notes_off():
        warnings.simplefilter("ignore")
        info = mlflow.pyfunc.log_model(
            name=name, python_model=bundle, signature=signature,
            input_example=example.head(5), code_paths=PACKAGE_DIRS,
            pip_requirements=pinned_requirements(),
            registered_model_name=registered_model)
        if reference is not None:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / REFERENCE_PREDICTIONS
                reference.to_parquet(path, index=False)
                mlflow.log_artifact(str(path))
    return info.model_uri, str(info.registered_model_version)


def champion_metrics(registered_model: str = REGISTERED_MODEL,
                     metrics: tuple[str, ...] = ("roc_auc", "lift_at_10pct")
                     ) -> dict[str, float] | None:
    """Walk-forward ``metrics`` of the current champion's candidate model (its version's
    ``candidate`` tag, XGBoost when untagged) in its training run, if there is a champion."""
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(registered_model, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None
    logged = client.get_run(version.run_id).data.metrics
    candidate = version.tags.get(CANDIDATE_TAG, "xgboost")
    return {**{m: logged[f"{candidate}.{m}"] for m in metrics}, "version": int(version.version)}


#: Version tag naming the candidate model (models.evaluation.CANDIDATES) it holds.
CANDIDATE_TAG = "candidate"


def tag_candidate(version: str, candidate: str,
                  registered_model: str = REGISTERED_MODEL) -> None:
    """Record which candidate model a registered version holds."""
    MlflowClient().set_model_version_tag(registered_model, version, CANDIDATE_TAG, candidate)


def log_expansion_validation(validation: ExpansionValidation, folds: list[Fold], params: dict,
                             run_name: str) -> str:
    """A run in the expansion experiment with params, pooled top-N metrics per targeting
    method, and the fold metrics and out-of-fold predictions as artifacts; one child run
    per fold, as for the churn model."""
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params({**params, "fold_origins": ",".join(
            f.origin.date().isoformat() for f in folds)})
        mlflow.log_metrics(_model_metrics(validation.pooled_metrics))
        _log_folds(folds, validation.fold_metrics)
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            validation.fold_metrics.to_csv(directory / "fold_metrics.csv", index=False)
            validation.pooled_metrics.to_csv(directory / "pooled_metrics.csv", index=False)
            validation.predictions.to_parquet(directory / VALIDATION_PREDICTIONS, index=False)
            mlflow.log_artifacts(str(directory))
        return run.info.run_id


@dataclass
class ModelValidation:
    """The walk-forward validation of a registered version, from its training run."""

    version: str
    run_id: str
    #: out-of-fold predictions (one row per account and fold origin)
    predictions: pd.DataFrame
    #: one row per model (xgboost, cox and the baselines)
    pooled_metrics: pd.DataFrame
    #: the version's own predictions on its latest training dates (for prediction drift)
    reference: pd.DataFrame | None = None


def validation_of(version: str,
                  registered_model: str = REGISTERED_MODEL) -> ModelValidation | None:
    """The walk-forward validation ``version`` was promoted on; None when its run has no
    saved predictions (a model trained before they were logged)."""
    run_id = MlflowClient().get_model_version(registered_model, str(version)).run_id
    with tempfile.TemporaryDirectory() as tmp:
        def download(name: str) -> Path | None:
            try:
                return Path(mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=name, dst_path=tmp))
            except (mlflow.exceptions.MlflowException, OSError):
                return None

        predictions, pooled, reference = (download(name) for name in (
            VALIDATION_PREDICTIONS, "pooled_metrics.csv", REFERENCE_PREDICTIONS))
        if predictions is None or pooled is None:
            return None
        return ModelValidation(
            version=str(version), run_id=run_id, predictions=pd.read_parquet(predictions),
            pooled_metrics=pd.read_csv(pooled),
            reference=pd.read_parquet(reference) if reference is not None else None)


def log_monitoring(experiment_id: str, day: pd.Timestamp, metrics: dict[str, float], *,
                   model_version: str, training_run_id: str,
                   report: Path | None = None) -> str:
    """A scored day's monitoring figures as the run ``monitoring <day>`` of the monitoring
    experiment (tagged with the scoring model's version and training run), and the day's
    report as its artifact; the run's id. Logging the same day again reuses its run and
    adds nothing new."""
    day = pd.Timestamp(day).normalize().tz_localize(None)
    since_epoch = day - pd.Timestamp(0)
    timestamp, step = since_epoch // pd.Timedelta(milliseconds=1), since_epoch.days
    client = MlflowClient()
    name = f"{day:%Y-%m-%d}"
    found = client.search_runs([experiment_id], filter_string=f"tags.day = '{name}'",
                               max_results=1)
    run_id = found[0].info.run_id if found else client.create_run(
        experiment_id, run_name=f"monitoring {name}", start_time=timestamp,
        tags={"day": name}).info.run_id
    client.set_tag(run_id, "model_version", str(model_version))
    client.set_tag(run_id, "training_run_id", training_run_id)
    client.log_batch(run_id, metrics=[
        Metric(name_, float(value), timestamp, step)
        for name_, value in metrics.items() if value is not None and pd.notna(value)])
    if report is not None:
        client.log_artifact(run_id, str(report))
    client.set_terminated(run_id)
    return run_id


def model_versions(registered_model: str = REGISTERED_MODEL) -> pd.DataFrame:
    """Every registered version, newest first: its aliases, when it was registered, its
    walk-forward ROC AUC and why it is (or is not) champion."""
    client = MlflowClient()
    rows = []
    for found in client.search_model_versions(f"name = '{registered_model}'"):
        version = client.get_model_version(registered_model, found.version)  # with aliases
        metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
        rows.append({"version": int(version.version),
                     "aliases": ", ".join(sorted(version.aliases)),
                     "registered": pd.Timestamp(version.creation_timestamp, unit="ms",
                                                tz="UTC").strftime("%Y-%m-%d %H:%M"),
                     "roc_auc": metrics.get("xgboost.roc_auc"),
                     "reason": version.tags.get("promotion_reason", "")})
    columns = ["version", "aliases", "registered", "roc_auc", "reason"]
    return pd.DataFrame(rows, columns=columns).sort_values("version", ascending=False,
                                                           ignore_index=True)


def _alias_versions(client: MlflowClient, registered_model: str, alias: str) -> list[str]:
    try:
        return [str(client.get_model_version_by_alias(registered_model, alias).version)]
    except mlflow.exceptions.MlflowException:
        return []


def set_champion(version: str, *, reason: str,
                 registered_model: str = REGISTERED_MODEL) -> str | None:
    """Point ``champion`` at an existing ``version`` by hand (a roll-back, or overriding the
    promotion rule) and record the reason on it. Returns the previous champion's version.

    Raises ``ValueError`` for a version the registry does not have or an empty reason.
    """
    if not reason.strip():
        raise ValueError("say why the champion changes (--reason): it is kept on the version")
    client = MlflowClient()
    try:
        client.get_model_version(registered_model, version)
    except mlflow.exceptions.MlflowException:
        known = ", ".join(str(v) for v in model_versions(registered_model)["version"]) or "none"
        raise ValueError(f"{registered_model} has no version {version} (versions: {known})"
                         ) from None
    previous = next(iter(_alias_versions(client, registered_model, CHAMPION)), None)
    client.set_registered_model_alias(registered_model, CHAMPION, version)
    if str(version) in _alias_versions(client, registered_model, CHALLENGER):
        client.delete_registered_model_alias(registered_model, CHALLENGER)
    client.set_model_version_tag(registered_model, version, "promotion_reason",
                                 f"set by hand (was v{previous}): {reason}")
    client.set_model_version_tag(registered_model, version, "promoted", "True")
    return previous


def apply_decision(version: str, decision: PromotionDecision,
                   registered_model: str = REGISTERED_MODEL) -> str:
    """Set ``champion`` or ``challenger`` on the version, record the reason, and describe
    the version (``describe_version``)."""
    client = MlflowClient()
    alias = CHAMPION if decision.promote else CHALLENGER
    client.set_registered_model_alias(registered_model, alias, version)
    client.set_model_version_tag(registered_model, version, "promotion_reason", decision.reason)
    client.set_model_version_tag(registered_model, version, "promoted", str(decision.promote))
    client.update_model_version(registered_model, version, description=describe_version(
        client, registered_model, version, alias, decision.reason))
    return alias


#: Walk-forward metrics a version's description quotes, per registered model.
DESCRIBED_METRICS = {REGISTERED_MODEL: ("roc_auc", "pr_auc", "lift_at_10pct", "ece"),
                     EXPANSION_MODEL: ("precision_at_n", "lift_at_n", "arr_captured_at_n")}


def describe_version(client: MlflowClient, registered_model: str, version: str, alias: str,
                     reason: str) -> str:
    """What a reader of the registry needs: the data window and folds the version was
    validated on, its walk-forward metrics and why it is champion or challenger."""
    details = client.get_model_version(registered_model, version)
    run = client.get_run(details.run_id)
    params, metrics = run.data.params, run.data.metrics
    candidate = details.tags.get(CANDIDATE_TAG, "xgboost")
    origins = [o for o in params.get("fold_origins", "").split(",") if o]
    shown = ", ".join(f"{m} {metrics[f'{candidate}.{m}']:.3f}"
                      for m in DESCRIBED_METRICS.get(registered_model, ())
                      if f"{candidate}.{m}" in metrics)
    window = (f"validated walk-forward on {len(origins)} folds, origins {origins[0]} to "
              f"{origins[-1]}" if origins else "validated walk-forward")
    return (f"{candidate} model, {alias}. Trained on {params.get('training_rows', '?')} "
            f"labelled rows (data hash {params.get('data_hash', '?')}, horizon "
            f"{params.get('horizon_days', '?')} days); {window}. Pooled metrics: "
            f"{shown or 'none logged'}. Promotion: {reason}")
