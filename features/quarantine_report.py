"""The quarantine report: per table, what was rejected and why, in numbers and in words."""

from __future__ import annotations

import pandas as pd

from features.row_checks import reason_kind


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


def quarantine_markdown(summary: pd.DataFrame, examples: list[str],
                        label_warnings: pd.DataFrame) -> str:
    """The report as people read it: the summary table, example rows, and the descriptive
    values kept as given with the mapping line that would map each."""
    markdown = (summary.to_markdown(index=False, floatfmt=".4f")
                + "\n\nExamples:\n" + "\n".join(f"- {line}" for line in examples) + "\n")
    if len(label_warnings):
        markdown += ("\nKept as given (not a documented value; to map one, add its line to "
                     "mapping.yaml):\n" + "\n".join(
                         f"- {w.table}.{w.column} '{w.value}' on {w.rows:,} rows: "
                         f"{w.mapping_line}" for w in label_warnings.itertuples()) + "\n")
    return markdown
