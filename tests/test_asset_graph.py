"""What one step hands to another travels on the asset graph's edges, not in side files; the
modules keep to their jobs."""

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


def test_no_step_reads_back_a_csv_or_json_side_file():
    root = ASSETS.parent.parent
    readers = [str(path.relative_to(root))
               for top in ("pipelines", "feature_repo") for path in (root / top).rglob("*.py")
               if re.search(r"read_csv\(|json\.loads\([^)]*read_text", path.read_text())]
    assert not readers


def test_assets_get_the_event_vocabulary_as_an_input():
    for asset in ("usage_rollup", "account_snapshot", "training_set", "churn_model",
                  "scored_opportunities", "feature_drift"):
        assert "event_vocabulary" in parents(asset), asset


def test_the_vocabulary_is_kept_for_its_data_and_chosen_anew_for_other_data(tmp_path):
    import pandas as pd
    from dagster import build_asset_context

    from pipelines.assets.features_snapshot import event_vocabulary
    from tests.conftest import make_settings, storage_of

    settings = make_settings(tmp_path / "data", tmp_path / "out")
    (tmp_path / "data").mkdir()
    storage_of(settings).partition_dir("events").mkdir(parents=True)

    def day_file(day: str, accounts_by_name: dict[str, int]) -> None:
        pd.DataFrame([{"account_id": f"a{k}", "event_name": name}
                      for name, accounts in accounts_by_name.items()
                      for k in range(accounts)]).to_parquet(
            storage_of(settings).asset_file("events", day))

    def chosen(run_settings) -> list[str]:
        storage = storage_of(run_settings)
        value = event_vocabulary(build_asset_context(), settings=run_settings, storage=storage)
        value.to_parquet(storage.asset_file("event_vocabulary"))  # as the IO manager
        return list(value["event_name"])

    day_file("2026-01-01", {"post": 3, "like": 1})
    assert chosen(settings) == ["post", "like"]
    day_file("2026-01-02", {"like": 9})  # "like" is now the most used
    assert chosen(settings) == ["post", "like"]  # kept: slot 1 still means "post"
    other_data = make_settings(tmp_path / "other", tmp_path / "out")
    assert chosen(other_data) == ["like", "post"]
    # a stored value that does not say its data directory is kept as it is
    pd.DataFrame({"slot": ["event_1"], "event_name": ["share"]}).to_parquet(
        storage_of(settings).asset_file("event_vocabulary"))
    assert chosen(settings) == ["share"]


def test_no_asset_module_is_named_like_a_package_of_the_product():
    root = ASSETS.parent.parent
    packages = {init.parent.name
                for top in ("account_health", "feature_repo", "features", "models", "pipelines")
                for init in (root / top).rglob("__init__.py")}
    assert not {path.stem for path in ASSETS.glob("*.py")} & (packages - {"assets"})


def test_only_the_environment_module_reads_the_process_environment():
    root = ASSETS.parent.parent
    readers = sorted(
        str(path.relative_to(root))
        for top in ("pipelines", "features", "models", "feature_repo", "account_health")
        for path in (root / top).rglob("*.py")
        if re.search(r"os\.environ|os\.getenv", path.read_text())
        and path != root / "pipelines" / "environment.py")
    assert not readers


def test_asset_modules_only_wire():
    # logic lives in features/ and models/; an asset module that grows past this is doing
    # their work
    longest = {path.name: len(path.read_text().splitlines()) for path in ASSETS.glob("*.py")}
    assert {name: lines for name, lines in longest.items() if lines > 150} == {}


def test_only_the_storage_builds_paths_into_the_assets_directory():
    root = ASSETS.parent.parent
    builders = sorted(
        str(path.relative_to(root))
        for top in ("pipelines", "account_health", "models", "features")
        for path in (root / top).rglob("*.py")
        if re.search(r'["/]assets["/]|"assets"', path.read_text())
        and path != root / "pipelines" / "storage.py")
    assert not builders
