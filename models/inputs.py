"""Which training-set columns are model inputs, and how they are typed for the models."""

from __future__ import annotations

import pandas as pd

from features.snapshot import FEATURE_GROUPS

LABEL = "churned_within_horizon"
CATEGORICAL = tuple(c for group in FEATURE_GROUPS.values() for c, kind in group.items()
                    if kind == "str")


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """Snapshot features present in ``frame``, in catalogue order."""
    return [c for group in FEATURE_GROUPS.values() for c in group if c in frame.columns]


def informative_columns(frame: pd.DataFrame,
                        columns: list[str]) -> tuple[list[str], list[str]]:
    """(kept, dropped): a column with fewer than two distinct values (empty or constant)
    teaches a model nothing and would break its fit, so it is left out."""
    kept = [c for c in columns if frame[c].nunique(dropna=True) >= 2]
    return kept, [c for c in columns if c not in kept]


def model_matrix(frame: pd.DataFrame, columns: list[str],
                 categories: dict[str, list[str]]) -> pd.DataFrame:
    """Features typed for XGBoost: numbers as float, strings as categories fixed at training.

    A category unseen at training becomes missing instead of a new code.
    """
    matrix = pd.DataFrame(index=frame.index)
    for column in columns:
        if column in categories:
            matrix[column] = pd.Categorical(frame[column].astype("object"),
                                            categories=categories[column])
        else:
            matrix[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return matrix


def learn_categories(frame: pd.DataFrame, columns: list[str]) -> dict[str, list[str]]:
    """Sorted category values of the categorical feature columns seen in training."""
    return {c: sorted(frame[c].dropna().astype(str).unique()) for c in columns
            if c in CATEGORICAL}


def model_input(frame: pd.DataFrame) -> pd.DataFrame:
    """The feature columns as the registered model's signature declares them: numbers as
    float64 (nullable), categories as strings. Use it before calling the pyfunc model."""
    columns = feature_columns(frame)
    typed = frame[columns].copy()
    for column in columns:
        if column in CATEGORICAL:
            typed[column] = typed[column].astype("object")
        else:
            typed[column] = pd.to_numeric(typed[column], errors="coerce").astype("float64")
    return typed
