"""Quarantine report: what was rejected, how much, and why — per table."""


import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MetadataValue, asset

from features.validation import describe_quarantine, reason_kind
from pipelines.resources import AccountHealthSettings

QUARANTINE_INPUTS = ["accounts", "subscriptions", "events", "invoices", "support_tickets",
                     "nps_responses", "cs_activities"]


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
    },
)
def quarantine_report(context: AssetExecutionContext, settings: AccountHealthSettings,
                      source_files: pd.DataFrame, events_unplaceable: pd.DataFrame,
                      **quarantines: pd.DataFrame) -> pd.DataFrame:
    """Counts and reasons of every quarantined row; writes reports/quarantine_report.{csv,md}.

    The rows themselves stay in the ``*_quarantine`` assets with their raw values.
    """
    frames = [q.drop(columns="partition_date", errors="ignore") for q in quarantines.values()]
    everything = pd.concat([*frames, events_unplaceable], ignore_index=True)
    summary = summarise_quarantine(source_files, everything)
    out = settings.reports_dir()
    summary.to_csv(out / "quarantine_report.csv", index=False)
    examples = describe_quarantine(everything, 20)
    markdown = (summary.to_markdown(index=False, floatfmt=".4f")
                + "\n\nExamples:\n" + "\n".join(f"- {line}" for line in examples) + "\n")
    (out / "quarantine_report.md").write_text(markdown)
    context.add_output_metadata({"report": MetadataValue.md(markdown),
                                 "quarantined_rows": int(summary["quarantined_rows"].sum())})
    return summary
