"""Open the Feast feature store for an output directory and keep its registry in sync."""

from __future__ import annotations

from pathlib import Path
from string import Template

import yaml
from feast import FeatureStore, FeatureView
from feast.repo_config import RepoConfig

from feature_repo.definitions import repo_objects

REPO_DIR = Path(__file__).resolve().parent


def store_config(output_dir: Path,
                 config_file: Path = REPO_DIR / "feature_store.yaml") -> RepoConfig:
    """The repo's feature_store.yaml with ``${ACCOUNT_HEALTH_OUTPUT_DIR}`` filled in."""
    text = Template(config_file.read_text()).substitute(
        ACCOUNT_HEALTH_OUTPUT_DIR=str(Path(output_dir).resolve()))
    return RepoConfig(repo_path=REPO_DIR, **yaml.safe_load(text))


def open_store(output_dir: Path) -> FeatureStore:
    """A FeatureStore over the embedded default stores under ``output_dir/feast``."""
    (Path(output_dir) / "feast").mkdir(parents=True, exist_ok=True)
    return FeatureStore(config=store_config(output_dir))


def apply_definitions(store: FeatureStore, snapshot_glob: str, groups: list[str]) -> list[str]:
    """Apply the objects for ``groups`` and delete views of groups no longer present.

    Returns the names of the applied feature views.
    """
    objects = repo_objects(snapshot_glob, groups)
    applied = {o.name for o in objects if isinstance(o, FeatureView)}
    stale = [v for v in store.list_feature_views() if v.name not in applied]
    store.apply(objects, objects_to_delete=stale, partial=False)
    return sorted(applied)
