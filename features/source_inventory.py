"""What an export's files hold before any row is read: rows, bytes and a content digest per
contract table, for the inventory the pipeline starts from."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow.parquet as pq


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content; of a directory of day files, of its listing (names and
    sizes): hashing the whole history's content every morning would undo the point of day
    files."""
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(path.iterdir()):
            digest.update(f"{file.name}\t{file.stat().st_size}\n".encode())
        return digest.hexdigest()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def count_rows(path: Path) -> int:
    """Data rows of a CSV or Parquet file, or of a directory of day files (a day file that
    cannot be read is left to fail the run of its own day, not every run)."""
    if path.is_dir():
        return sum(count_rows(file) for file in path.iterdir()
                   if file.suffix != ".parquet" or readable_parquet(file))
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    with path.open("rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


def readable_parquet(path: Path) -> bool:
    """Whether Arrow can open the file as Parquet."""
    try:
        pq.ParquetFile(path)
    except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
        return False
    return True


def total_size(path: Path) -> int:
    """Bytes of a file, or of the files of a directory."""
    return sum(f.stat().st_size for f in path.iterdir()) if path.is_dir() else path.stat().st_size


def inventory_row(table: str, required: bool, path: Path | None) -> dict:
    """One contract table's line of the inventory."""
    return {"table": table, "required": required, "present": path is not None,
            "file": path.name if path else None, "rows": count_rows(path) if path else 0,
            "bytes": total_size(path) if path else 0,
            "sha256": file_digest(path) if path else None}
