"""Scoring on Spark: the day's feature rows split into account groups, each scored with SHAP
reasons by ``score_accounts`` in a ``mapInPandas`` task, then ranked together."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from features.spark_frames import (
    RESULT_SCHEMA,
    bytes_frame,
    collect_parts,
    frame_bytes,
    result_rows,
)
from models.churn.bundle import ChurnModelBundle
from models.scoring.scores import ranked_by_risk, score_accounts

#: Accounts per scoring task: SHAP costs about a millisecond per account, so a task's
#: start-up is small beside its work.
ACCOUNTS_PER_TASK = 20_000


def score_accounts_on_spark(spark, features: pd.DataFrame, bundle: ChurnModelBundle, *,
                            accounts_per_task: int = ACCOUNTS_PER_TASK,
                            **options) -> pd.DataFrame:
    """``score_accounts(features, bundle, **options)`` computed on Spark: the same table."""
    frame = features.reset_index(drop=True)
    n_tasks = max(spark.sparkContext.defaultParallelism, -(-len(frame) // accounts_per_task), 1)
    chunks = [frame.iloc[rows] for rows in np.array_split(np.arange(len(frame)), n_tasks)
              if len(rows)]
    if not chunks:
        return score_accounts(frame, bundle, **options)
    groups = [f"{i:08d}" for i in range(len(chunks))]
    inputs = spark.createDataFrame(pd.DataFrame({
        "group": groups, "part": "features",
        "payload": [frame_bytes(chunk) for chunk in chunks]}), RESULT_SCHEMA)

    def score_chunks(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for group, payload in zip(batch["group"], batch["payload"], strict=True):
                yield result_rows(group, {"scores": score_accounts(bytes_frame(payload),
                                                                   bundle, **options)})

    results = (inputs.repartition(len(chunks), "group")
               .mapInPandas(score_chunks, RESULT_SCHEMA).toPandas())
    return ranked_by_risk(pd.concat(collect_parts(results)["scores"], ignore_index=True))
