"""docker-compose.yml as the tests read it: parsed, interpolated the way Compose does, and
pointed at the services of this machine instead of the compose network.

The integration tests take their commands and environment from here, so what they prove is
what `docker compose up` runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; $$ is a literal $.
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def load_compose() -> dict:
    """docker-compose.yml as YAML (merge keys resolved), not yet interpolated."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Fill in ``text``'s variables from ``variables`` with Compose's rules.

    Raises ``KeyError`` naming the variable where Compose would refuse to start
    (``${NAME?error}`` unset, ``${NAME:?error}`` unset or empty).
    """

    def fill(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        value = variables.get(name)
        if op == ":-":
            return value or arg
        if op == "-":
            return arg if value is None else value
        if (op == ":?" and not value) or (op == "?" and value is None):
            raise KeyError(f"{name}: {arg}")
        return value or ""

    return _VARIABLE.sub(fill, text)


def variables_in(text: str) -> set[str]:
    """Names of the variables ``text`` refers to."""
    return {m.group("name") for m in _VARIABLE.finditer(text) if m.group("name")}


def service_environment(service: str, variables: dict[str, str],
                        replacements: dict[str, str] | None = None) -> dict[str, str]:
    """A service's environment, interpolated, with each ``replacements`` key (a compose
    address such as ``postgres:5432``, or a container path such as ``/data/output``) replaced
    wherever it occurs."""
    environment = load_compose()["services"][service].get("environment", {})
    result = {}
    for name, value in environment.items():
        value = interpolate(str(value), variables)
        for old, new in (replacements or {}).items():
            value = value.replace(old, new)
        result[name] = value
    return result


def service_command(service: str) -> list[str]:
    """A service's command, as a list."""
    return list(load_compose()["services"][service]["command"])


def replace_option(command: list[str], option: str, value: str) -> list[str]:
    """``command`` with the value after ``option`` replaced (e.g. a port)."""
    index = command.index(option)
    return [*command[:index + 1], value, *command[index + 2:]]
