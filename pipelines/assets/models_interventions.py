"""Models layer, interventions: the measured effect of CS outreach against the holdout."""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    MetadataValue,
    Output,
    asset,
)

from models.analysis.interventions import (
    TREATED,
    intervention_episodes,
    intervention_summary,
    qini_coefficient,
    qini_curve,
    success_by_lead_time,
    uplift_at,
    walk_forward_uplift,
    wilson_interval,
    with_features,
)
from models.inputs import feature_columns
from models.reports.interventions import render_absent_page, render_interventions_page
from pipelines.resources import AccountHealthSettings
from pipelines.storage import AssetStorage

GROUP = "models"


CHECK = "holdout_kept_as_configured"


@asset(
    group_name="models",
    ins={"cs_activities": AssetIn(), "subscriptions": AssetIn(), "training_set": AssetIn()},
    check_specs=[AssetCheckSpec(
        CHECK, asset="intervention_effects",
        description="The share of flagged accounts held out of outreach is the playbook's "
                    "holdout_share (within a 99% interval) and no held-out account was "
                    "contacted: without that, the control group is not a control group. "
                    "Passes, saying so, when there is no cs_activities table.")],
)
def intervention_effects(context: AssetExecutionContext, settings: AccountHealthSettings,
                         storage: AssetStorage,
                         cs_activities: pd.DataFrame | None, subscriptions: pd.DataFrame,
                         training_set: pd.DataFrame):
    """Flagged episodes of ``cs_activities`` with their outcomes, and what they say: success
    rate by lead time, time to detection, the at-risk alerts' false-positive rate, uplift
    against the holdout with a Newcombe interval, and a walk-forward two-model uplift
    estimate with its Qini curve and uplift@10%."""
    page = settings.reports_dir() / "interventions.html"
    links = {"report": MetadataValue.path(str(page)), "open": MetadataValue.url(page.as_uri())}
    flagged = (cs_activities is not None) and cs_activities["flagged_at"].notna().any()
    if not flagged:
        reason = ("No cs_activities table was supplied." if cs_activities is None else
                  "cs_activities has no activity tied to an at-risk flag (flagged_at).")
        page.write_text(render_absent_page(reason))
        yield Output(pd.DataFrame({"account_id": pd.Series(dtype="object")}),
                     metadata={"status": reason, **links})
        yield AssetCheckResult(check_name=CHECK, passed=True, metadata={"status": reason})
        return

    horizon = settings.training.horizon_days
    holdout_share = settings.scoring_config().playbook().holdout_share
    observed_until = pd.Timestamp(storage.stored_days("account_snapshot")[-1])
    episodes = intervention_episodes(cs_activities, subscriptions, horizon_days=horizon,
                                     observed_until=observed_until)
    summary = intervention_summary(episodes, holdout_share=holdout_share)
    by_lead_time = success_by_lead_time(episodes)
    features = [c for c in feature_columns(training_set)
                if pd.api.types.is_numeric_dtype(training_set[c])]
    scored, note = walk_forward_uplift(with_features(episodes, training_set, features),
                                       features, horizon_days=horizon)
    curve, model = None, {}
    if scored is not None:
        treated = (scored["arm"] == TREATED).to_numpy()
        retained = 1 - scored["churned_within_horizon"].to_numpy()
        curve = qini_curve(scored["uplift_score"], treated, retained)
        at_10, top_treated, top_control = uplift_at(scored["uplift_score"], treated, retained)
        model = {"episodes": len(scored), "qini_coefficient": qini_coefficient(curve),
                 "uplift_at_10": at_10, "top_treated": top_treated, "top_control": top_control}
        episodes = episodes.merge(scored[["account_id", "flagged_at", "uplift_score"]],
                                  on=["account_id", "flagged_at"], how="left")
    page.write_text(render_interventions_page(
        summary, by_lead_time, horizon_days=horizon, qini_curve=curve, uplift_model=model,
        uplift_model_note=note))
    figures = {key: MetadataValue.float(float(value)) for key, value in summary.items()
               if isinstance(value, float) and pd.notna(value)}
    yield Output(episodes, metadata={
        **figures, "episodes": len(episodes), "observed_until": str(observed_until.date()),
        "success_by_lead_time": MetadataValue.md(by_lead_time.to_markdown(
            index=False, floatfmt=".3f")),
        **{f"uplift_model.{k}": MetadataValue.float(float(v)) for k, v in model.items()
           if pd.notna(v)},
        "uplift_model_note": note or "estimated", **links})

    assigned = summary["treated"] + summary["control"]
    low, high = wilson_interval(summary["control"], assigned, confidence=0.99)
    within = assigned > 0 and low <= holdout_share <= high
    yield AssetCheckResult(
        check_name=CHECK, passed=bool(within and summary["holdout_broken"] == 0),
        severity=AssetCheckSeverity.WARN,
        metadata={"holdout_share_configured": holdout_share,
                  "holdout_share_observed": MetadataValue.float(
                      float(summary["holdout_share_observed"])),
                  "interval_99": f"{low:.3f} to {high:.3f}",
                  "held_out_but_contacted": summary["holdout_broken"]})
