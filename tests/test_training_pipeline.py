"""The full pipeline with models: MLflow runs, artifacts, registry and promotion."""

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from dagster import AssetSelection, DagsterInstance
from mlflow import MlflowClient

from account_health.summary import print_interventions
from models.inputs import model_input
from models.tracking import EXPANSION_EXPERIMENT, EXPANSION_MODEL, EXPERIMENT, REGISTERED_MODEL
from pipelines.run import run_pipeline
from pipelines.storage import AssetStorage
from tests.conftest import make_settings, use_registry_of

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _registry(trained):
    use_registry_of(trained[0])


def test_training_run_has_parent_fold_runs_metrics_and_artifacts(trained):
    settings, first, _ = trained
    assert first.success
    client = MlflowClient()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time"])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 2 and len(children) == 2
    metrics = parents[0].data.metrics
    for name in ["xgboost.roc_auc", "health_score.roc_auc", "base_rate.lift_at_10pct",
                 "xgboost.ece", "cox.concordance", "cox.auc_30d",
                 "cox.ph_assumption_violations"]:
        assert name in metrics
    params = parents[0].data.params
    assert params["horizon_days"] == "60" and len(params["data_hash"]) == 16
    artifacts = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    plots = {a.path for a in client.list_artifacts(parents[0].info.run_id, "plots")}
    assert {"fold_metrics.csv", "segment_metrics.csv", "pooled_metrics.csv"} <= artifacts
    version = client.get_model_version(REGISTERED_MODEL, "1")
    assert version.run_id == parents[0].info.run_id
    assert {"plots/roc_pr_curves.png", "plots/shap_beeswarm.png",
            "plots/kaplan_meier_by_risk_band.png"} <= plots


def test_experiments_open_as_model_training_and_versions_say_what_they_are(trained):
    client = MlflowClient()
    for name in (EXPERIMENT, EXPANSION_EXPERIMENT):
        tags = client.get_experiment_by_name(name).tags
        assert tags["mlflow.experimentKind"] == "custom_model_development"
    for number in ("1", "2"):
        version = client.get_model_version(REGISTERED_MODEL, number)
        run = client.get_run(version.run_id)
        origins = run.data.params["fold_origins"].split(",")
        candidate = version.tags["candidate"]
        auc = run.data.metrics[f"{candidate}.roc_auc"]
        assert version.description.startswith(f"{candidate} model, ")
        assert f"origins {origins[0]} to {origins[-1]}" in version.description
        assert f"roc_auc {auc:.3f}" in version.description
        assert version.tags["promotion_reason"] in version.description


def test_first_model_is_champion_and_an_equal_retrain_is_challenger(trained):
    settings, _, second = trained
    assert second.success
    client = MlflowClient()
    champion = client.get_model_version_by_alias(REGISTERED_MODEL, "champion")
    challenger = client.get_model_version_by_alias(REGISTERED_MODEL, "challenger")
    assert (str(champion.version), str(challenger.version)) == ("1", "2")
    assert "champion" in challenger.tags["promotion_reason"]


def test_same_data_and_seed_give_the_same_metrics(trained):
    client = MlflowClient()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    parents = [r for r in client.search_runs([experiment.experiment_id])
               if "mlflow.parentRunId" not in r.data.tags]
    # the daily-run tests log monitoring.* figures on the champion's run; compare training's
    first, second = ({k: v for k, v in p.data.metrics.items()
                      if not k.startswith("monitoring.")} for p in parents)
    assert len(first) > 40 and first == second
    assert parents[0].data.params["data_hash"] == parents[1].data.params["data_hash"]


def test_registered_champion_scores_feature_rows(trained):
    settings, _, _ = trained
    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL}@champion")
    training = pd.read_parquet(Path(settings.output_dir) / "assets" / "training_set.parquet")
    scores = model.predict(model_input(training.head(50)))
    assert list(scores.columns) == ["churn_probability", "p_churn_30d", "p_churn_60d",
                                    "p_churn_90d", "median_days_to_churn"]
    assert scores["churn_probability"].between(0, 1).all()


def test_scoring_a_day_publishes_every_active_account_idempotently(trained):
    from pipelines.selections import SCORING

    settings, _, _ = trained
    out = Path(settings.output_dir)
    day = "2026-10-31"

    def score() -> pd.DataFrame:
        assert run_pipeline(settings, DagsterInstance.ephemeral(), first_day=day, last_day=day,
                            selection=SCORING).success
        return pd.read_parquet(out / "assets" / "account_scores" / f"{day}.parquet")

    first = score()
    snapshot = pd.read_parquet(out / "assets" / "account_snapshot" / f"{day}.parquet")
    assert sorted(first["account_id"]) == sorted(snapshot["account_id"])
    assert (first["model_version"] == "1").all()  # the champion, not the newer challenger
    assert len(pd.read_csv(out / "scores" / f"{day}.csv")) == len(first)
    assert len(json.loads((out / "scores" / f"{day}.json").read_text())) == len(first)
    again = score()
    pd.testing.assert_frame_equal(first, again)
    report = (out / "reports" / "daily" / f"{day}.html").read_text()
    for page in ["../../reports/leading_indicators.html", "../../reports/interventions.html",
                 f"../../work_queue/{day}.csv"]:
        assert f'href="{page}"' in report
    # the held-out accounts are flagged ones, told not to be contacted
    held = first[first["holdout"]]
    assert held["band"].isin(["at-risk", "critical"]).all()
    assert held["recommended_action"].str.startswith("Hold out").all()


def test_champion_can_be_rolled_back_by_hand_with_a_reason(trained, monkeypatch, capsys):
    from account_health.cli import main
    from pipelines.resources import MlflowTracking

    settings, _, _ = trained
    monkeypatch.delenv("ACCOUNT_HEALTH_ENV", raising=False)
    monkeypatch.setenv("ACCOUNT_HEALTH_OUTPUT_DIR", settings.output_dir)
    tracking = MlflowTracking.local(settings.output_dir)
    try:
        main(["champion", "--set", "2", "--reason", "v1 over-flags small accounts"])
        assert "champion: v1 -> v2" in capsys.readouterr().out
        assert tracking.load_champion()[1] == "2"
        version = MlflowClient().get_model_version(REGISTERED_MODEL, "2")
        assert version.tags["promotion_reason"] == (
            "set by hand (was v1): v1 over-flags small accounts")
        main(["champion"])
        rows = [[cell.strip() for cell in line.split("|")[1:3]]
                for line in capsys.readouterr().out.splitlines()]
        assert rows[0] == ["version", "aliases"]
        assert rows[2:] == [["2", "champion"], ["1", ""]]
        with pytest.raises(SystemExit, match="has no version 9 \\(versions: 2, 1\\)"):
            main(["champion", "--set", "9", "--reason", "typo"])
        with pytest.raises(SystemExit, match="say why"):
            main(["champion", "--set", "1"])
    finally:
        main(["champion", "--set", "1", "--reason", "restore the fixture's champion"])
        MlflowClient().set_registered_model_alias(REGISTERED_MODEL, "challenger", "2")
    assert tracking.load_champion()[1] == "1"


def test_leading_indicators_table_page_and_check(trained):
    settings, first, _ = trained
    checks = {e.check_name: e.passed for e in first.get_asset_check_evaluations()}
    assert checks["indicators_from_training_dates_only"]
    table = pd.read_parquet(Path(settings.output_dir) / "assets" / "leading_indicators.parquet")
    assert set(table["outcome"]) == {"churn", "expansion"}
    assert set(table["lead_days"]) == {30, 60, 90}
    assert {"all", "SMB", "mid-market"} <= set(table["segment"])
    overall = table[table["segment"] == "all"]
    assert overall.groupby(["outcome", "lead_days"])["feature"].nunique().nunique() == 1
    assert overall["collinear_group"].notna().all() and (overall["vif"] >= 1 - 1e-9).all()
    page = (Path(settings.output_dir) / "reports" / "leading_indicators.html").read_text()
    assert "<svg" in page and "Expansion" in page and "correlation weight" in page
    # the data-driven health weights are a baseline on the same walk-forward folds
    client = MlflowClient()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    run = client.search_runs([experiment.experiment_id])[0]
    assert "correlation_health.roc_auc" in run.data.metrics


def test_intervention_effects_episodes_page_check_and_what_make_run_prints(trained, capsys):
    settings, first, _ = trained
    checks = {e.check_name: e for e in first.get_asset_check_evaluations()}
    check = checks["holdout_kept_as_configured"]
    assert check.metadata["held_out_but_contacted"].value == 0
    episodes = pd.read_parquet(Path(settings.output_dir) / "assets"
                               / "intervention_effects.parquet")
    activities = pd.read_parquet(Path(settings.output_dir) / "assets" / "cs_activities.parquet")
    flags = activities.dropna(subset=["flagged_at"])[["account_id", "flagged_at"]]
    assert len(episodes) > 20 and len(episodes) <= len(flags.drop_duplicates())
    assert set(episodes["arm"]) == {"treated", "control"}
    page = (Path(settings.output_dir) / "reports" / "interventions.html").read_text()
    assert "Uplift against the holdout" in page and "Success rate by lead time" in page
    print_interventions(settings, AssetStorage.under(settings.output_dir))
    printed = capsys.readouterr().out
    assert "held out" in printed and "planted in the demo data: uplift" in printed


def test_interventions_without_cs_activities_say_what_they_need(trained, tmp_path):
    settings, _, _ = trained
    data, out = tmp_path / "data", tmp_path / "out"
    shutil.copytree(settings.data_dir, data)
    (data / "cs_activities.csv").unlink()
    assets = Path(settings.output_dir) / "assets"
    for name in ["subscriptions.parquet", "accounts.parquet", "training_set.parquet"]:
        (out / "assets").mkdir(parents=True, exist_ok=True)
        shutil.copy(assets / name, out / "assets" / name)
    shutil.copytree(assets / "account_snapshot", out / "assets" / "account_snapshot")
    without = make_settings(data, out, n_folds=2, horizon_days=60)
    result = run_pipeline(without, DagsterInstance.ephemeral(), first_day="2026-10-31",
                          last_day="2026-10-31", selection=AssetSelection.assets(
                              "cs_activities", "cs_activities_quarantine",
                              "intervention_effects"))
    assert result.success
    page = (out / "reports" / "interventions.html").read_text()
    assert "No cs_activities table was supplied" in page and "uplift against the holdout" in page
    assert not (out / "assets" / "cs_activities.parquet").exists()


def test_expansion_model_is_validated_registered_and_promoted_on_its_own(trained):
    settings, _, _ = trained
    client = MlflowClient()
    experiment = client.get_experiment_by_name(EXPANSION_EXPERIMENT)
    every_run = client.search_runs([experiment.experiment_id],
                                   order_by=["attributes.start_time"])
    runs = [r for r in every_run if "mlflow.parentRunId" not in r.data.tags]
    assert len(runs) == 2
    # one child run per fold, as in the churn experiment
    folds = [r for r in every_run if r.data.tags.get("mlflow.parentRunId") == runs[0].info.run_id]
    assert sorted(r.data.params["fold"] for r in folds) == ["1", "2"]
    assert all("xgboost.precision_at_n" in r.data.metrics for r in folds)
    metrics = runs[0].data.metrics
    for name in ["xgboost.precision_at_n", "rubric.lift_at_n", "random.arr_captured_at_n"]:
        assert name in metrics
    assert runs[0].data.params["list_size"] == "100"
    first, second = (client.get_model_version(EXPANSION_MODEL, v) for v in ("1", "2"))
    assert (first.run_id, second.run_id) == (runs[0].info.run_id, runs[1].info.run_id)
    beats = all(metrics["xgboost.precision_at_n"] >= metrics[f"{b}.precision_at_n"] + 0.005
                for b in ("rubric", "random"))
    assert first.tags["promoted"] == str(beats) and first.tags["promotion_reason"]
    # the same data again cannot beat its own champion by the margin
    assert second.tags["promoted"] == "False"
    # the churn registry is untouched by it
    assert {m.name for m in client.search_registered_models()} == {REGISTERED_MODEL,
                                                                   EXPANSION_MODEL}
    training = pd.read_parquet(Path(settings.output_dir) / "assets" / "training_set.parquet")
    assert {"expanded_within_horizon", "expansion_arr", "expansion_label_complete"} <= set(
        training.columns)


def test_scored_opportunities_and_what_make_run_prints(trained, capsys):
    from account_health.summary import print_opportunities, print_summary, print_work_queue
    from pipelines.selections import SCORING

    settings, first, _ = trained
    out = Path(settings.output_dir)
    day = "2026-10-30"
    result = run_pipeline(settings, DagsterInstance.ephemeral(), first_day=day, last_day=day,
                          selection=SCORING)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["opportunities_follow_schema"] and checks["queue_within_capacity"]
    queue = pd.read_csv(out / "work_queue" / f"{day}.csv")
    scheduled = queue[queue["status"] == "scheduled"].groupby(["queue", "csm_owner"]).size()
    assert scheduled.loc["retention"].max() <= 10
    scores_of_day = pd.read_parquet(out / "assets" / "account_scores" / f"{day}.parquet")
    at_risk = scores_of_day[scores_of_day["band"].isin(["at-risk", "critical"])]
    assert sorted(queue.loc[queue["queue"] == "retention", "account_id"]) == sorted(
        at_risk["account_id"])
    table = pd.read_csv(out / "opportunities" / f"{day}.csv")
    scores = pd.read_parquet(out / "assets" / "account_scores" / f"{day}.parquet")
    promoted = MlflowClient().get_model_version(EXPANSION_MODEL, "1").tags["promoted"]
    if promoted == "True":
        assert sorted(table["account_id"]) == sorted(scores["account_id"])
        held = set(scores.loc[scores["band"].isin(["at-risk", "critical"]), "account_id"])
        assert set(table.loc[table["status"] != "open", "account_id"]) == held
    else:  # no expansion champion: an empty table, and the morning still succeeds
        assert table.empty
    print_summary(settings, AssetStorage.under(settings.output_dir), first)
    print_opportunities(settings, day)
    print_work_queue(settings, day)
    printed = capsys.readouterr().out
    assert "CSM work queue for the week" in printed and "retention:" in printed
    assert "expansion targeting, walk-forward (top 100" in printed and "| rubric" in printed
    assert "strongest leading indicators" in printed
    assert ("expansion opportunities on 2026-10-30" in printed if promoted == "True"
            else "no expansion opportunities on 2026-10-30" in printed)
