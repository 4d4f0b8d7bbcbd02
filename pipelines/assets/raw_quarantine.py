"""Raw layer, quarantine: what was rejected and why, and the stop on a mostly rejected
required table."""

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    Failure,
    MetadataValue,
    asset,
)

from features.contract import REQUIRED_TABLES
from features.quarantine_report import quarantine_markdown, summarise_quarantine
from features.row_checks import (
    LABEL_WARNING_COLUMNS,
    describe_quarantine,
    label_warnings,
    quarantine_stop,
)
from pipelines.resources import AccountHealthSettings

GROUP = "raw"


QUARANTINE_INPUTS = ["accounts", "subscriptions", "events", "invoices", "support_tickets",
                     "nps_responses", "cs_activities"]
#: Tables with descriptive columns whose values are documented (features.contract).
LABELLED_INPUTS = ["accounts", "support_tickets"]


@asset(
    group_name="raw",
    ins={
        "source_files": AssetIn(),
        "events_unplaceable": AssetIn(),
        **{f"{t}_quarantine": AssetIn() for t in QUARANTINE_INPUTS},
        **{t: AssetIn() for t in LABELLED_INPUTS},
    },
)
def quarantine_report(context: AssetExecutionContext, settings: AccountHealthSettings,
                      source_files: pd.DataFrame, events_unplaceable: pd.DataFrame,
                      **inputs: pd.DataFrame | None) -> pd.DataFrame:
    """Counts and reasons of every quarantined row, and descriptive values kept outside the
    documented sets (warnings with the mapping line that would map them); writes
    reports/quarantine_report.{csv,md} and reports/label_warnings.csv.

    The rows themselves stay in the ``*_quarantine`` assets with their raw values. Stops the
    run when more than ``max_required_quarantine_share`` of a required table was rejected.
    """
    frames = [inputs[f"{t}_quarantine"].drop(columns="partition_date", errors="ignore")
              for t in QUARANTINE_INPUTS]
    everything = pd.concat([*frames, events_unplaceable], ignore_index=True)
    summary = summarise_quarantine(source_files, everything)
    warnings = pd.concat([pd.DataFrame(columns=LABEL_WARNING_COLUMNS)] + [
        label_warnings(t, inputs[t]) for t in LABELLED_INPUTS if inputs[t] is not None],
        ignore_index=True)
    out = settings.reports_dir()
    summary.to_csv(out / "quarantine_report.csv", index=False)
    warnings.to_csv(out / "label_warnings.csv", index=False)
    markdown = quarantine_markdown(summary, describe_quarantine(everything, 20), warnings)
    (out / "quarantine_report.md").write_text(markdown)
    context.add_output_metadata({"report": MetadataValue.md(markdown),
                                 "quarantined_rows": int(summary["quarantined_rows"].sum()),
                                 "label_warnings": len(warnings)})
    stop = quarantine_stop(summary, everything, limit=settings.data.max_required_quarantine_share,
                           tables=REQUIRED_TABLES)
    if stop:
        raise Failure(description=stop, metadata={"report": MetadataValue.md(markdown)})
    return summary
