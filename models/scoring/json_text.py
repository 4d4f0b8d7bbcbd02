"""JSON text of many small records, written as ``json.dumps`` writes it.

At 10^5 accounts, a ``json.dumps`` call per account's reasons (and again per CRM record)
cost seconds of encoder set-up; most values repeat (feature names, sentences, bands), so
each distinct value is encoded once and records are joined as text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np


class JsonText:
    """``json.dumps`` of values, each distinct (type, value) encoded once."""

    def __init__(self) -> None:
        self._known: dict[tuple[type, object], str] = {}

    def __call__(self, value: object) -> str:
        if type(value) is float:  # noqa: E721 (bool and int subclasses print otherwise)
            # json writes a finite float as its repr; floats rarely repeat
            return repr(value) if math.isfinite(value) else json.dumps(value)
        key = (type(value), value)
        try:
            return self._known[key]
        except KeyError:
            text = self._known[key] = json.dumps(value)
            return text
        except TypeError:  # unhashable: lists, dicts
            return json.dumps(value)


def json_objects(names: Sequence[str], columns: Sequence[Sequence[str]]) -> list[str]:
    """One JSON object's text per row of already-encoded ``columns`` (one per name)."""
    keys = [f"{json.dumps(name)}: " for name in names]
    if not keys:
        return []
    template = "{{" + ", ".join(key.replace("{", "{{").replace("}", "}}") + "{}"
                                for key in keys) + "}}"
    return [template.format(*row) for row in zip(*columns, strict=True)]


def json_arrays(items: Sequence[str], sizes: Sequence[int]) -> list[str]:
    """JSON arrays of consecutive already-encoded ``items``, ``sizes[i]`` in the i-th."""
    ends = np.cumsum(sizes, dtype=np.int64).tolist()
    return ["[" + ", ".join(items[start:end]) + "]"
            for start, end in zip([0, *ends[:-1]], ends, strict=True)]
