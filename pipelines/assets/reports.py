"""Quarantine report: what was rejected, how much, and why — per table."""


import pandas as pd
from dagster import AssetExecutionContext, AssetIn, Failure, MetadataValue, asset

from features.contract import REQUIRED_TABLES
from features.validation import (
    LABEL_WARNING_COLUMNS,
    describe_quarantine,
    label_warnings,
    quarantine_stop,
    reason_kind,
)
from pipelines.resources import AccountHealthSettings

QUARANTINE_INPUTS = ["accounts", "subscriptions", "events", "invoices", "support_tickets",
                     "nps_responses", "cs_activities"]
#: Tables with descriptive columns whose values are documented (features.contract).
LABELLED_INPUTS = ["accounts", "support_tickets"]


def summarise_quarantine(inventory: pd.DataFrame, quarantine: pd.DataFrame) -> pd.DataFrame:
    """Per table: input rows, quarantined rows, quarantine rate and the count per reason."""
    counts = quarantine.groupby("table").size()
    summary = inventory.set_index("table")[["present", "rows"]].rename(
        columns={"rows": "input_rows"})
    summary["quarantined_rows"] = counts.reindex(summary.index).fillna(0).astype(int)
    summary["quarantine_rate"] = (summary["quarantined_rows"]
                                  / summary["input_rows"].where(summary["input_rows"] > 0))
    summary["quarantine_rate"] = summary["quarantine_rate"].fillna(0.0)
    if len(quarantine):
        kinds = reason_kind(quarantine["reason"].reset_index(drop=True))
        tables = quarantine["table"].reset_index(drop=True).loc[kinds.index]
        top = (pd.DataFrame({"table": tables.to_numpy(), "kind": kinds.to_numpy()})
               .value_counts().reset_index(name="n"))
        summary["reasons"] = top.groupby("table").apply(
            lambda g: "; ".join(f"{k} ×{n}" for k, n in zip(g["kind"], g["n"], strict=True)),
            include_groups=False).reindex(summary.index).fillna("")
    else:
        summary["reasons"] = ""
    return summary.reset_index()


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
    examples = describe_quarantine(everything, 20)
    markdown = (summary.to_markdown(index=False, floatfmt=".4f")
                + "\n\nExamples:\n" + "\n".join(f"- {line}" for line in examples) + "\n")
    if len(warnings):
        markdown += ("\nKept as given (not a documented value; to map one, add its line to "
                     "mapping.yaml):\n" + "\n".join(
                         f"- {w.table}.{w.column} '{w.value}' on {w.rows:,} rows: "
                         f"{w.mapping_line}" for w in warnings.itertuples()) + "\n")
    (out / "quarantine_report.md").write_text(markdown)
    context.add_output_metadata({"report": MetadataValue.md(markdown),
                                 "quarantined_rows": int(summary["quarantined_rows"].sum()),
                                 "label_warnings": len(warnings)})
    stop = quarantine_stop(summary, everything, limit=settings.max_required_quarantine_share,
                           tables=REQUIRED_TABLES)
    if stop:
        raise Failure(description=stop, metadata={"report": MetadataValue.md(markdown)})
    return summary
