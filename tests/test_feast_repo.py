"""feature_repo/ is a Feast repository: Feast's own CLI applies and lists its objects."""

import json
import os
import subprocess
import sys
from pathlib import Path

from feature_repo.definitions import (
    CHURN_FEATURE_SERVICE,
    FEATURE_VIEW,
    applied_groups_file,
)
from feature_repo.store import REPO_DIR, open_store
from features.snapshot import FEATURE_GROUPS

FEAST = str(Path(sys.executable).with_name("feast"))


def feast_cli(output_dir: Path, *args: str) -> str:
    env = {**os.environ, "ACCOUNT_HEALTH_OUTPUT_DIR": str(output_dir)}
    env.pop("ACCOUNT_HEALTH_ENV", None)
    done = subprocess.run([FEAST, "-c", str(REPO_DIR), *args], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_feast_apply_and_list_find_the_view_and_the_service(tmp_path):
    feast_cli(tmp_path, "apply")
    assert FEATURE_VIEW in feast_cli(tmp_path, "feature-views", "list")
    assert CHURN_FEATURE_SERVICE in feast_cli(tmp_path, "feature-services", "list")


def test_feast_apply_registers_the_groups_the_pipeline_applied(tmp_path):
    groups = [g for g in FEATURE_GROUPS if g not in ("account_support", "account_nps")]
    assert len(groups) < len(FEATURE_GROUPS)
    applied_groups_file(tmp_path).parent.mkdir(parents=True)
    applied_groups_file(tmp_path).write_text(json.dumps(groups))
    feast_cli(tmp_path, "apply")
    view = open_store(tmp_path).get_feature_view(FEATURE_VIEW)
    expected = [name for group in groups for name in FEATURE_GROUPS[group]]
    assert [field.name for field in view.features] == expected
