"""Every test here needs the services of docker-compose.yml (PostgreSQL, Redis)."""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.fspath).resolve().parents:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.slow)
