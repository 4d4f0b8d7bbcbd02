"""Scoring layer, one partition a day: every active account scored by the champion
models (churn risk, expansion opportunities), the alerts on what got worse since the
previous day, and each CSM's work queue for the week."""

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    BackfillPolicy,
    Failure,
    MetadataValue,
    Output,
    TimeWindowPartitionMapping,
    asset,
    multi_asset,
)

from feature_repo.definitions import CHURN_FEATURE_SERVICE
from feature_repo.store import day_features
from features.event_vocabulary import readable_event_columns
from features.retention_kpis import churn_events
from models.alerts.engine import email_message, evaluate_alerts, webhook_payload
from models.alerts.routing import RoutingConfig, deliveries
from models.alerts.signals import unmeasured_signals
from models.alerts.work_queue import overflow_summary, work_queue
from models.expansion.opportunities import (
    OPPORTUNITY_COLUMNS,
    score_opportunities,
    validate_opportunities,
)
from models.scoring.playbook import win_back_candidates
from models.scoring.scores import account_owners, crm_records, score_accounts
from models.scoring.spark_scoring import score_accounts_on_spark
from models.tracking import EXPANSION_MODEL
from pipelines.assets.features import account_snapshot, feast_feature_store
from pipelines.assets.models import churn_model_promotion, expansion_model
from pipelines.engine import ComputeEngine
from pipelines.exports import export_day
from pipelines.partitions import daily_partitions, run_days
from pipelines.resources import (
    AccountHealthSettings,
    AlertEmail,
    AlertWebhook,
    FeastFeatureStore,
    MlflowTracking,
)


@asset(
    group_name="scoring",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    # the feature service's definition comes from the registry feast_feature_store applies
    deps=[account_snapshot, feast_feature_store, churn_model_promotion],
    ins={"accounts": AssetIn()},
    metadata={"partition_column": "as_of"},
)
def account_scores(context: AssetExecutionContext, settings: AccountHealthSettings,
                   engine: ComputeEngine, feast: FeastFeatureStore,
                   mlflow_tracking: MlflowTracking,
                   accounts: pd.DataFrame | None) -> pd.DataFrame:
    """Risk, health band, time to churn, reasons and action for every active account.

    Features are the training feature service's, read from the day's snapshot file (what
    Feast's point-in-time retrieval returns for that day, without scanning every day);
    each day is also exported as CSV and as CRM JSON records under ``output/scores/``.
    With the spark engine, account groups are scored in Spark tasks.
    """
    bundle, version, model_status = mlflow_tracking.load_scoring_model()
    if model_status != "champion":
        context.log.warning(f"scored by model v{version}, {model_status}")
    store = feast.open()
    days = run_days(context)
    config = settings.scoring_config()
    playbook = config.playbook()
    tables = []
    for day in days:
        snapshot_file = settings.asset_file("account_snapshot", day)
        if not snapshot_file.exists():
            raise Failure(f"no account_snapshot for {day:%Y-%m-%d}; materialise it first")
        features = day_features(store, snapshot_file, CHURN_FEATURE_SERVICE,
                                (day + pd.Timedelta(days=1)).tz_localize("UTC"))
        features["as_of_date"] = day
        options = {"model_version": version, "health": config.health, "playbook": playbook,
                   "n_reasons": config.n_reasons, "model_status": model_status,
                   "components": config.components}
        scores = (score_accounts_on_spark(engine.spark_session(), features, bundle, **options)
                  if engine.on_spark else score_accounts(features, bundle, **options))
        scores.insert(scores.columns.get_loc("plan") + 1, "csm_owner",
                      account_owners(scores["account_id"], accounts))
        export_day(settings, "scores", day, scores, records=crm_records(scores))
        tables.append(scores)
    result = pd.concat(tables, ignore_index=True)
    latest = tables[-1]
    context.add_output_metadata({
        "model_version": version, "model_status": model_status,
        "accounts_scored": len(result),
        "bands_on_last_day": MetadataValue.md(
            latest["band"].value_counts().to_frame().to_markdown()),
        "arr_at_risk_on_last_day": round(float(latest["arr_at_risk"].sum()), 2),
    })
    return result


@asset(
    group_name="scoring",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=[expansion_model],
    ins={"account_scores": AssetIn(), "event_vocabulary": AssetIn()},
    metadata={"partition_column": "created_date"},
    check_specs=[AssetCheckSpec(
        "opportunities_follow_schema", asset="scored_opportunities",
        description="The table follows the documented scored-opportunities schema")],
)
def scored_opportunities(context: AssetExecutionContext, settings: AccountHealthSettings,
                         mlflow_tracking: MlflowTracking, account_scores: pd.DataFrame,
                         event_vocabulary: pd.DataFrame | None):
    """Expansion opportunities of the day in the documented schema
    (``models.expansion.opportunities``), best first, from the expansion model's champion;
    accounts in the at-risk and critical churn bands are listed as "expansion after
    recovery", not handed over. Also exported as
    ``output/opportunities/<day>.csv``. Empty, with the reason, while the registry has no
    expansion champion (a model that does not beat the rubric is never one)."""
    champion = mlflow_tracking.load_champion(EXPANSION_MODEL, required=False)
    event_names = settings.event_taxonomy(event_vocabulary).tracked_events
    tables = []
    for day in run_days(context):
        if champion is None:
            table = pd.DataFrame({c: [] for c in OPPORTUNITY_COLUMNS})
        else:
            # stored by slot, the expansion model learned them by event name
            features = readable_event_columns(
                pd.read_parquet(settings.asset_file("account_snapshot", day)), event_names)
            scores = account_scores[pd.to_datetime(account_scores["as_of"]) == day]
            table = score_opportunities(features, scores, champion[0], day=day)
        export_day(settings, "opportunities", day, table)
        tables.append(table)
    result = pd.concat(tables, ignore_index=True)
    latest = tables[-1]
    handed_over = latest[latest["status"] == "open"]
    yield Output(result, metadata={
        "expansion_model_version": "none" if champion is None else champion[1],
        "accounts": len(latest),
        "tiers_handed_over": MetadataValue.md(
            handed_over["tier"].value_counts().to_frame().to_markdown()),
        "after_recovery": int((latest["status"] != "open").sum()),
        "projected_arr_high_tier": float(handed_over.loc[handed_over["tier"] == "High",
                                                         "projected_arr"].sum()),
        **({"reason": "no account-health-expansion@champion in the registry"}
           if champion is None else {})})
    problems = [p for table in tables for p in validate_opportunities(table)]
    yield AssetCheckResult(check_name="opportunities_follow_schema",
                           asset_key="scored_opportunities", passed=not problems,
                           metadata={"problems": "; ".join(problems) or "none"})


def _from_day_before(key: str, *, through_run: bool) -> AssetIn:
    """The run's partitions shifted to start one day earlier (``through_run``: up to the
    run's last day; otherwise only up to the day before it): the day before the first is
    what the first day is compared with. Days never stored are left out."""
    return AssetIn(key=key, metadata={"missing_ok": True},
                   partition_mapping=TimeWindowPartitionMapping(
                       start_offset=-1, end_offset=0 if through_run else -1,
                       allow_nonexistent_upstream_partitions=True))


def _snapshot_columns(settings: AccountHealthSettings, day: pd.Timestamp,
                      columns: set[str]) -> pd.DataFrame | None:
    """The day's snapshot rows, with only the columns the signals read that it has."""
    path = settings.asset_file("account_snapshot", day)
    if not path.exists():
        return None
    present = set(pq.read_schema(path).names)
    return pd.read_parquet(path, columns=["account_id", *sorted(columns & present - {
        "account_id", "health_score", "days_to_renewal"})])


def _on_day(frame: pd.DataFrame | None, day: pd.Timestamp) -> pd.DataFrame | None:
    if frame is None:
        return None
    rows = frame[pd.to_datetime(frame["as_of"]) == day]
    return rows.reset_index(drop=True) if len(rows) else None


def deliver_alerts(webhook: AlertWebhook, email: AlertEmail, alerts: pd.DataFrame,
             routing: RoutingConfig, ledger: Path) -> str:
    """Send each alert to its severity's destinations, one message per destination, except
    where the ledger says it already went there (so re-runs never send twice and a failed
    destination is retried). Raises ``OSError`` naming the destinations that failed, after
    trying every one."""
    plan = deliveries(alerts, routing, webhook.url)
    if not plan:
        return "no webhook or e-mail configured"
    done = set(ledger.read_text().splitlines()) if ledger.exists() else set()
    sent, failed = [], []
    for kind, address, group in plan:
        pending = group[~(group["alert_id"] + "\t" + address).isin(done)]
        if pending.empty:
            continue
        try:
            if kind == "webhook":
                webhook.post(webhook_payload(pending), url=address)
            else:
                name = hashlib.sha256("".join(sorted(pending["alert_id"])).encode()).hexdigest()
                email.send(email_message(pending, to=address, sender=email.sender), name[:16])
        except OSError as exc:
            failed.append(f"{kind} {address}: {exc}")
            continue
        ledger.parent.mkdir(parents=True, exist_ok=True)
        with ledger.open("a") as file:
            file.writelines(f"{alert_id}\t{address}\n" for alert_id in pending["alert_id"])
        sent.append(f"{len(pending)} to {kind} {address}")
    if failed:
        raise OSError("; ".join(failed))
    return "; ".join(sent) or "nothing new to send"


@multi_asset(
    outs={
        "account_alerts": AssetOut(
            description="Alerts fired on the day, with severity, owner and route: band "
                        "downgrades, health drops of 20+ points, newly critical accounts, "
                        "renewals within 90 days at health below 60, the early-warning "
                        "signals, and escalations of alerts left unanswered past their SLA",
            metadata={"partition_column": "as_of"}),
        "open_alerts": AssetOut(
            description="Alert conditions still holding at the end of the day (the state "
                        "that keeps an open alert from firing again)",
            metadata={"partition_column": "as_of"}),
    },
    ins={"account_scores": _from_day_before("account_scores", through_run=True),
         "open_alerts_before": _from_day_before("open_alerts", through_run=False),
         "cs_activities": AssetIn()},
    deps=[account_snapshot],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="scoring",
)
def account_alerts(context: AssetExecutionContext, settings: AccountHealthSettings,
                   alert_webhook: AlertWebhook, alert_email: AlertEmail,
                   account_scores: pd.DataFrame, open_alerts_before: pd.DataFrame | None,
                   cs_activities: pd.DataFrame | None):
    """Compares each day's scores with the previous day's, checks the early-warning signals
    on its features, and fires new alerts; escalates open ones nobody acted on.

    Days of a range are evaluated in order; the day before the range comes from its stored
    partitions, through a partition mapping (none: that day is the first, and only the
    alerts that need no comparison can fire). New alerts are exported to
    ``output/alerts/<day>.csv`` and sent to their severity's targets.
    """
    config = settings.scoring_config()
    days = run_days(context)
    day_before = days[0] - pd.Timedelta(days=1)
    previous = _on_day(account_scores, day_before)
    state = _on_day(open_alerts_before, day_before)
    if previous is None:
        context.log.info(f"no scores for the day before {days[0]:%Y-%m-%d}: it is the first "
                         "scored day, so only critical and renewal alerts can fire")
    as_of = pd.to_datetime(account_scores["as_of"])
    fired, still_open = [], []
    # tenure_days tells an unmeasured days_since_last_login (signals.unmeasured_signals)
    signal_columns = {c for rule in config.alerts.signals for c in rule.when} | {"tenure_days"}
    silent: set[str] = set()
    for day in days:
        today = account_scores[as_of == day]
        features = _snapshot_columns(settings, day, signal_columns)
        if features is not None:
            silent |= set(unmeasured_signals(features, config.alerts.signals))
        result = evaluate_alerts(today, previous, state, as_of=day, config=config.alerts,
                                 health=config.health, activities=cs_activities,
                                 features=features)
        export_day(settings, "alerts", day, result.fired)
        fired.append(result.fired)
        still_open.append(result.open)
        previous, state = today, result.open
    alerts = pd.concat(fired, ignore_index=True)
    try:
        delivery = deliver_alerts(alert_webhook, alert_email, alerts, config.alerts.routing,
                            settings.output_path / "alerts" / "delivered.txt")
    except OSError as exc:
        # The table is written either way; re-running the day retries what was not posted.
        delivery = f"FAILED: {exc}"
        context.log.error(f"alert delivery: {exc}; re-run the day to retry")
    if silent:
        context.log.warning(
            "signals not evaluated because the export does not measure their feature (the "
            "same value, or no login, for every account; for days_since_last_login map your "
            f"login event in mapping.yaml's login_events): {', '.join(sorted(silent))}")
    counts = alerts["alert_type"].value_counts()
    severities = alerts["severity"].value_counts()
    # open_alerts first: today's alerts depend on the open alerts of the day before
    yield Output(pd.concat(still_open, ignore_index=True), output_name="open_alerts",
                 metadata={"open_at_end": len(still_open[-1])})
    yield Output(alerts, output_name="account_alerts", metadata={
        "alerts": len(alerts), "delivery": delivery,
        "escalations": int(alerts["escalation"].sum()),
        "signals_not_evaluated": ", ".join(sorted(silent)) or "none",
        "by_severity": MetadataValue.md(severities.to_frame().to_markdown()
                                        if len(severities) else "none"),
        "by_type": MetadataValue.md(counts.to_frame().to_markdown() if len(counts) else "none"),
    })


@asset(
    ins={"account_scores": AssetIn(), "scored_opportunities": AssetIn(),
         "accounts": AssetIn(), "subscriptions": AssetIn(), "invoices": AssetIn()},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="scoring",
    metadata={"partition_column": "as_of"},
    check_specs=[AssetCheckSpec(
        "queue_within_capacity", asset="csm_work_queue",
        description="No CSM is scheduled more than their weekly capacity per queue, and every "
                    "candidate is either scheduled or reported as overflow")],
)
def csm_work_queue(context: AssetExecutionContext, settings: AccountHealthSettings,
                   account_scores: pd.DataFrame, scored_opportunities: pd.DataFrame,
                   accounts: pd.DataFrame | None, subscriptions: pd.DataFrame,
                   invoices: pd.DataFrame | None):
    """Each CSM's week: the retention queue (at-risk and critical accounts by expected ARR at
    risk), the expansion queue (open High and Medium opportunities by projected ARR) and the
    win-back queue (high-ARR accounts churned recently, the playbook's ``win_back``), each
    cut at the configured capacity per CSM; the rest is overflow, reported here and in
    ``output/work_queue/<day>.csv``."""
    scoring = settings.scoring_config()
    config, playbook = scoring.capacity, scoring.playbook()
    churned = churn_events(subscriptions, invoices, run_days(context)[-1])
    owners = (accounts.set_index("account_id")["csm_owner"]
              if accounts is not None and "csm_owner" in accounts else None)
    scores_day = pd.to_datetime(account_scores["as_of"])
    opportunities_day = pd.to_datetime(scored_opportunities["created_date"])
    queues = []
    for day in run_days(context):
        queue = work_queue(account_scores[scores_day == day],
                           scored_opportunities[opportunities_day == day], owners, config,
                           win_back=win_back_candidates(churned, day, playbook))
        queue.insert(0, "as_of", day.date())
        export_day(settings, "work_queue", day, queue)
        queues.append(queue)
    result = pd.concat(queues, ignore_index=True)
    summary = overflow_summary(queues[-1])
    yield Output(result, metadata={
        "capacity_per_csm_per_week": MetadataValue.json(config.model_dump(mode="json")),
        "last_day": MetadataValue.md(summary.to_markdown(index=False, floatfmt=",.0f"))})
    scheduled = result[result["status"] == "scheduled"].groupby(["as_of", "queue", "csm_owner"])
    limits = {"retention": config.retention_accounts_per_csm_per_week,
              "expansion": config.expansion_accounts_per_csm_per_week,
              "win_back": config.win_back_accounts_per_csm_per_week}
    most = scheduled.size().reset_index(name="accounts")
    over = most[most["accounts"] > most["queue"].map(limits)]
    yield AssetCheckResult(check_name="queue_within_capacity", asset_key="csm_work_queue",
                           passed=bool(over.empty and result["status"].isin(
                               ["scheduled", "overflow", "holdout"]).all()),
                           metadata={"owners_over_capacity": len(over),
                                     "overflow_accounts": int((result["status"]
                                                               == "overflow").sum()),
                                     "held_out_accounts": int((result["status"]
                                                               == "holdout").sum())})
