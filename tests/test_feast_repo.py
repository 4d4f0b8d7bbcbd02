"""feature_repo/ is a Feast repository: Feast's own CLI applies and lists its objects, from
a shell with none of the product's variables set."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from feature_repo.definitions import (
    CHURN_FEATURE_SERVICE,
    FEATURE_VIEW,
    repo_objects,
)
from feature_repo.store import REPO_DIR, open_store
from features.snapshot import FEATURE_GROUPS, empty_snapshot

pytestmark = pytest.mark.slow

FEAST = str(Path(sys.executable).with_name("feast"))


def feast_cli(output_dir: Path, *args: str) -> str:
    """Feast's CLI on a copy of feature_repo/ whose default output directory is
    ``output_dir`` (a sibling named ``output``, as ./output is of feature_repo/): the same
    files, without touching the checkout's own output."""
    assert output_dir.name == "output"
    output_dir.mkdir(exist_ok=True)  # as after make run
    repo = output_dir.parent / "feature_repo"
    if not repo.exists():
        repo.mkdir()
        for name in ("definitions.py", "feature_store.yaml"):
            shutil.copy(REPO_DIR / name, repo / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCOUNT_HEALTH_")}
    done = subprocess.run([FEAST, "-c", str(repo), *args], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_feast_apply_and_list_find_the_view_and_the_service(tmp_path):
    output = tmp_path / "output"
    feast_cli(output, "apply")
    assert (output / "feast" / "registry.db").exists()
    assert FEATURE_VIEW in feast_cli(output, "feature-views", "list")
    assert CHURN_FEATURE_SERVICE in feast_cli(output, "feature-services", "list")


def test_the_cli_lists_what_the_pipeline_applied_in_the_default_output(tmp_path):
    # the pipeline opens the store for its output directory; Feast's CLI, told nothing,
    # finds the same registry through feature_store.yaml's relative paths
    output = tmp_path / "output"
    open_store(output).apply(repo_objects(str(output / "snapshot" / "*.parquet"),
                                          list(FEATURE_GROUPS)))
    assert (output / "feast" / "registry.db").exists()
    assert FEATURE_VIEW in feast_cli(output, "feature-views", "list")


def test_feast_apply_registers_the_groups_the_stored_snapshot_holds(tmp_path):
    tmp_path = tmp_path / "output"
    groups = [g for g in FEATURE_GROUPS if g not in ("account_support", "account_nps")]
    assert len(groups) < len(FEATURE_GROUPS)
    snapshot_dir = tmp_path / "assets" / "account_snapshot"
    snapshot_dir.mkdir(parents=True)
    empty_snapshot(groups).to_parquet(snapshot_dir / "2026-10-31.parquet")
    feast_cli(tmp_path, "apply")
    view = open_store(tmp_path).get_feature_view(FEATURE_VIEW)
    expected = [name for group in groups for name in FEATURE_GROUPS[group]]
    assert [field.name for field in view.features] == expected
