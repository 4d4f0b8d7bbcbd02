"""``make run``: check the data, run the named jobs over the days it covers, print a summary.

Without ``ACCOUNT_HEALTH_DATA_DIR`` the demo data is generated first. The runs are recorded
in the Dagster instance under ``$ACCOUNT_HEALTH_OUTPUT_DIR/dagster_home``, so ``dagster dev``
shows them on the pages of the jobs ``feature_pipeline``, ``train_churn_models``,
``daily_scoring``, ``weekly_operations`` and ``monthly_executive``.
"""

from __future__ import annotations

import gc
import json
import shutil
import time
import warnings
from pathlib import Path

from account_health.data_check import check_data, format_check
from account_health.demo_data import (
    GENERATOR_VERSION,
    DemoConfig,
    default_end_date,
    generate_to_dir,
)
from account_health.summary import print_failures, print_summary, print_top_at_risk
from pipelines.environment import quiet_mlflow, read_environment, use_dagster_home
from pipelines.resources import AccountHealthSettings, settings_from
from pipelines.storage import AssetStorage

__all__ = ["ensure_demo_data", "main", "prepare_dagster_home", "quiet_libraries"]

TELEMETRY_OFF = {"telemetry": {"enabled": False}}


def ensure_demo_data(data_dir: Path, config: DemoConfig, *, events_by_day: bool = False
                     ) -> bool:
    """Generate demo data unless the same configuration is already there. True if generated.

    ``events_by_day`` writes events as day files (what the spark engine reads in parallel)
    instead of one export file."""
    marker = data_dir / "demo_config.json"
    wanted = {"accounts": config.accounts, "months": config.months, "seed": config.seed,
              "end_date": config.end_date.isoformat(), "holdout_share": config.holdout_share,
              "generator": GENERATOR_VERSION, "events_by_day": events_by_day}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return False
    # the other layout's events would make the export ambiguous
    (data_dir / "events.parquet").unlink(missing_ok=True)
    shutil.rmtree(data_dir / "events", ignore_errors=True)
    counts = generate_to_dir(data_dir, config, events_by_day=events_by_day)
    marker.write_text(json.dumps(wanted))
    print(f"demo data written to {data_dir}: {counts}")
    return True


def prepare_dagster_home(home: Path) -> None:
    """The local Dagster instance's folder and its dagster.yaml: telemetry off (Dagster's
    notice would otherwise greet every run) and the event log that writes a range run's
    per-day records in one transaction (``pipelines.event_log``). A config the user wrote is
    left as it is; one holding only telemetry off is completed."""
    import yaml

    from pipelines.event_log import instance_storage_config

    home.mkdir(parents=True, exist_ok=True)
    instance_config = home / "dagster.yaml"
    own = yaml.safe_load(instance_config.read_text()) if instance_config.exists() else None
    if own in (None, TELEMETRY_OFF):
        instance_config.write_text(yaml.safe_dump({**TELEMETRY_OFF,
                                                   **instance_storage_config(home)}))


def _stage(number: int, title: str, started: float) -> None:
    print(f"\n[{number}/5] {title}  ({time.perf_counter() - started:.0f} s since start)",
          flush=True)


def _jobs(settings: AccountHealthSettings, first_day: str, last_day: str, started: float, *,
          scored_from: str):
    """The named jobs, as an operator would launch them: the features over every day, the
    models on them, the daily scores from ``scored_from`` to the last day, then the weekly
    and monthly reports.
    Returns (training run, the last run after it); the second is None when training did not
    succeed."""
    from dagster import DagsterInstance

    from pipelines.run import run_job, score_days
    from pipelines.selections import FEATURE_PIPELINE, RETRAINING

    instance = DagsterInstance.get()
    _stage(2, f"features for {first_day}..{last_day} (job feature_pipeline)", started)
    features = run_job(settings, "feature_pipeline", instance, first_day=first_day,
                       last_day=last_day)
    if not features.success:
        return features, None
    _stage(3, "walk-forward validation, training, promotion (job train_churn_models)",
           started)
    # the training set was just built by feature_pipeline; the retrain job would rebuild it
    training = run_job(settings, "train_churn_models", instance, first_day=first_day,
                       last_day=last_day, selection=RETRAINING - FEATURE_PIPELINE)
    if not training.success:
        return training, None
    _stage(4, f"scores and alerts from {scored_from}, monitoring for {last_day} "
              "(job daily_scoring)", started)
    scoring = score_days(settings, instance, scored_from=scored_from, last_day=last_day)
    if not scoring.success:
        return training, scoring
    _stage(5, "the weekly and monthly reports (jobs weekly_operations, monthly_executive)",
           started)
    for job in ("weekly_operations", "monthly_executive"):
        report = run_job(settings, job, instance, first_day=last_day, last_day=last_day)
        if not report.success:
            return training, report
    return training, scoring


def quiet_libraries() -> None:
    """Silence what the libraries say about themselves in this process and the ones it
    starts: warnings about their own APIs (Dagster's beta parameters, ibis and SQLAlchemy
    deprecations), MLflow's notes on how it stores models and its upload progress bars.
    They are not the user's to act on."""
    from dagster import BetaWarning, PreviewWarning

    for category in (BetaWarning, PreviewWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    quiet_mlflow()


def main() -> None:
    quiet_libraries()
    started = time.perf_counter()
    environment = read_environment()
    settings = settings_from(environment)
    if environment.paths.demo:
        ensure_demo_data(Path(settings.data_dir), DemoConfig(
            accounts=int(environment.demo_accounts), months=int(environment.demo_months),
            end_date=default_end_date()),
            events_by_day=environment.deployment.engine == "spark")
    home = use_dagster_home(Path(settings.output_dir) / "dagster_home")
    prepare_dagster_home(home)
    _stage(1, f"data check of {settings.data_dir}", started)
    # the events' rows are checked once, by ingestion, whose quarantine report stops the
    # run on the same rules
    check = check_data(settings, event_rows=False)
    print(format_check(check))
    if not check.ok:
        raise SystemExit("the run did not start: change what the data check lists above "
                         f"(account-health check-data {settings.data_dir} checks again)")
    from pipelines.run import first_scored_day, learn_first_day

    first_day, last_day = check.event_days
    # before the definitions are loaded: their daily partitions begin at the data's first day
    learn_first_day(settings.data_dir, first_day)
    import pipelines.definitions  # noqa: F401  (the jobs' definitions, loaded once)

    # The libraries' ~700,000 objects (modules, classes, functions) live as long as the run:
    # kept out of the collector's sight, they are not walked at every full collection nor
    # at exit (about 5 s of the demo's run).
    gc.freeze()
    training, scoring = _jobs(settings, first_day, last_day, started,
                              scored_from=first_scored_day(
                                  first_day, last_day,
                                  int(environment.scored_history_weeks)))
    print(f"\nfinished in {time.perf_counter() - started:.0f} s")
    storage = AssetStorage.under(settings.output_dir)
    print_summary(settings, storage, training)
    if scoring is None or not scoring.success:
        print_failures(scoring if scoring is not None else training)
        raise SystemExit(1)
    print_top_at_risk(settings, storage, last_day)


if __name__ == "__main__":
    main()
