"""Event day files validated on Spark: one task per batch of files, each file checked by the
same ``check_event_day`` as the local engine, so both quarantine the same rows for the same
reasons."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pandas as pd

from features.contract import ContractError, ContractMapping, read_table
from features.row_checks import RowCheckResult, check_event_day
from features.spark_frames import RESULT_SCHEMA, collect_parts, result_rows


def check_event_days_on_spark(spark, files: dict[pd.Timestamp, str], *, directory_name: str,
                              mapping: ContractMapping, pipeline_start: pd.Timestamp,
                              now: pd.Timestamp,
                              known_accounts: pd.Index | None) -> list[RowCheckResult]:
    """Each day file of ``files`` (day -> path or URL Spark can read, e.g. ``s3a://``)
    read and checked on Spark; the results in day order.

    A file that cannot be read raises ``ContractError`` with the local engine's message.
    """
    if not files:
        return []
    days = {PurePosixPath(str(path)).name: day for day, path in files.items()}
    mapping_json = mapping.model_dump_json()

    def check_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        file_mapping = ContractMapping.model_validate_json(mapping_json)
        for batch in batches:
            for path, content in zip(batch["path"], batch["content"], strict=True):
                name = PurePosixPath(path).name
                yield result_rows(name, _check_file(name, content, days[name], file_mapping,
                                                    directory_name, pipeline_start, now,
                                                    known_accounts))

    results = (spark.read.format("binaryFile").load([str(path) for path in files.values()])
               .select("path", "content").mapInPandas(check_batches, RESULT_SCHEMA)
               .toPandas())
    parts = collect_parts(results)
    if "error" in parts:
        raise ContractError(parts["error"][0]["message"].iloc[0])
    return [RowCheckResult(accepted, quarantine) for accepted, quarantine
            in zip(parts.get("accepted", []), parts.get("quarantine", []), strict=True)]


def _check_file(name: str, content: bytes, day: pd.Timestamp, mapping: ContractMapping,
                directory_name: str, pipeline_start: pd.Timestamp, now: pd.Timestamp,
                known_accounts: pd.Index | None) -> dict[str, pd.DataFrame]:
    # read_table reads a path: the bytes go to a file of the same name, so the suffix picks
    # the parser and messages name the file as the local engine does
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / name
        path.write_bytes(content)
        try:
            frame = read_table(path, "events", mapping)
        except ContractError as exc:
            return {"error": pd.DataFrame({"message": [str(exc)]})}
    result = check_event_day(frame, day, source_file=f"{directory_name}/{name}",
                             pipeline_start=pipeline_start, now=now,
                             known_accounts=known_accounts)
    return {"accepted": result.accepted, "quarantine": result.quarantine}
