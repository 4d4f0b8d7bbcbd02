"""What one step hands to another travels on the asset graph's edges, not in side files."""

import re
from pathlib import Path

from dagster import AssetKey

from pipelines.definitions import defs

ASSETS = Path(__file__).resolve().parent.parent / "pipelines" / "assets"


def parents(asset: str) -> set[str]:
    node = defs.resolve_asset_graph().get(AssetKey(asset))
    return {key.to_user_string() for key in node.parent_keys}


def test_the_monthly_report_gets_the_retention_tables_as_inputs():
    assert {"retention_kpis", "renewal_rates", "churn_by_kind"} <= parents(
        "monthly_executive_report")


def test_no_asset_reads_a_csv_another_step_wrote():
    readers = [path.name for path in ASSETS.glob("*.py")
               if re.search(r"read_csv\(", path.read_text())]
    assert not readers
