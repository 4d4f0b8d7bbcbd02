"""The input contract: which tables a user drops in the data directory and how they are read.

See docs/data-contract.md for the user-facing description. Column names and category values
of a user's export can be mapped onto the contract with a ``ContractMapping`` so nobody has to
rewrite their export.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import yaml
from pydantic import BaseModel, Field

ColumnKind = Literal["id", "text", "timestamp", "date", "number", "integer"]


@dataclass(frozen=True)
class TableSpec:
    """One contract table: its columns, which are mandatory, its key and allowed values."""

    name: str
    required: bool
    key: tuple[str, ...]
    columns: dict[str, ColumnKind]
    mandatory: tuple[str, ...]
    #: Values the pipeline computes with: any other value quarantines its row.
    allowed_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Descriptive labels with documented values: another value is kept as given (and
    #: reported as a warning), never a reason to lose the row.
    documented_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    time_column: str | None = None


CONTRACT: dict[str, TableSpec] = {
    spec.name: spec
    for spec in [
        TableSpec(
            name="accounts", required=False, key=("account_id",),
            columns={"account_id": "id", "segment": "text", "industry": "text",
                     "signup_date": "date", "csm_owner": "text"},
            mandatory=("account_id",),
            documented_values={"segment": ("SMB", "mid-market", "enterprise")},
        ),
        TableSpec(
            name="subscriptions", required=True, key=("subscription_id",),
            columns={"subscription_id": "id", "account_id": "id", "plan": "text",
                     "mrr": "number", "currency": "text", "start_date": "date",
                     "end_date": "date", "billing_period": "text", "seats": "integer",
                     "status": "text", "cancel_reason": "text"},
            mandatory=("subscription_id", "account_id", "plan", "mrr", "start_date",
                       "billing_period"),
        ),
        TableSpec(
            name="events", required=True, key=("event_id",),
            columns={"event_id": "id", "account_id": "id", "user_id": "id",
                     "event_time": "timestamp", "event_name": "text", "properties": "text",
                     # a row may stand for several events (exports of daily aggregates)
                     "event_count": "integer"},
            mandatory=("event_id", "account_id", "user_id", "event_time", "event_name"),
            time_column="event_time",
        ),
        TableSpec(
            name="invoices", required=False, key=("invoice_id",),
            columns={"invoice_id": "id", "account_id": "id", "issued_at": "timestamp",
                     "due_at": "timestamp", "paid_at": "timestamp", "amount": "number",
                     "status": "text"},
            mandatory=("invoice_id", "account_id", "issued_at", "amount", "status"),
            allowed_values={"status": ("paid", "failed", "refunded", "open")},
        ),
        TableSpec(
            name="support_tickets", required=False, key=("ticket_id",),
            columns={"ticket_id": "id", "account_id": "id", "opened_at": "timestamp",
                     "closed_at": "timestamp", "priority": "text", "csat": "number",
                     "sentiment": "text"},
            mandatory=("ticket_id", "account_id", "opened_at", "priority"),
            documented_values={"priority": ("low", "normal", "high", "urgent")},
        ),
        TableSpec(
            name="nps_responses", required=False, key=("account_id", "user_id", "responded_at"),
            columns={"account_id": "id", "user_id": "id", "responded_at": "timestamp",
                     "score": "integer"},
            mandatory=("account_id", "responded_at", "score"),
        ),
        TableSpec(
            # What customer success did. A row with action_type "holdout" records a flagged
            # account deliberately left alone (the playbook's control group); flagged_at ties
            # an activity to the at-risk alert that prompted it.
            name="cs_activities", required=False, key=("activity_id",),
            columns={"activity_id": "id", "account_id": "id", "performed_at": "timestamp",
                     "action_type": "text", "owner": "text", "outcome": "text",
                     "flagged_at": "timestamp"},
            mandatory=("activity_id", "account_id", "performed_at", "action_type"),
        ),
    ]
}
#: ``cs_activities.action_type`` of a flagged account held out of outreach (control group).
HOLDOUT_ACTION = "holdout"
REQUIRED_TABLES = tuple(name for name, spec in CONTRACT.items() if spec.required)
OPTIONAL_TABLES = tuple(name for name, spec in CONTRACT.items() if not spec.required)
SUPPORTED_SUFFIXES = (".csv", ".parquet")

#: Named billing periods and their length in months; ``N months`` names any other length.
BILLING_PERIODS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12,
                   "biennial": 24}
_BILLING_PERIOD_ALIASES = {"month": 1, "quarter": 3, "semi-annual": 6, "semi-annually": 6,
                           "half-yearly": 6, "yearly": 12, "year": 12, "annually": 12,
                           "biennially": 24}
_MONTHS_PATTERN = re.compile(r"^(\d+)[ -]?(?:months?|mo)$")


def billing_period_months(values: pd.Series) -> pd.Series:
    """Months per billing term of each ``billing_period`` value (``monthly``, ``quarterly``,
    ``semiannual``, ``annual``, ``biennial`` or ``N months``; case and spacing do not
    matter); NaN for a value that names no whole, positive number of months."""
    unique = pd.Series(values.dropna().unique())
    months = {value: _months(str(value)) for value in unique}
    return values.map(months).astype("float64")


def _months(value: str) -> float:
    text = " ".join(value.strip().lower().replace("_", " ").split())
    known = BILLING_PERIODS.get(text) or _BILLING_PERIOD_ALIASES.get(text.replace(" ", "-"))
    if known:
        return float(known)
    match = _MONTHS_PATTERN.match(text)
    return float(match.group(1)) if match and int(match.group(1)) > 0 else float("nan")


def billing_period_name(months: float) -> str:
    """The canonical name of a term of ``months`` months (``N months`` when it has none)."""
    names = {m: name for name, m in BILLING_PERIODS.items()}
    return names.get(int(months), f"{int(months)} months")


def canonical_label(value: str, documented: tuple[str, ...]) -> str:
    """``value`` as the documented label it matches ignoring case, spaces, ``-`` and ``_``
    (``smb`` -> ``SMB``, ``Mid Market`` -> ``mid-market``); otherwise ``value`` as given."""
    key = label_key(value)
    return next((label for label in documented if label_key(label) == key), value)


def label_key(value: str) -> str:
    """A label reduced for comparison: lower case, without spaces, `-` or `_`."""
    return re.sub(r"[\s_\-]+", "", str(value)).lower()


class ContractError(Exception):
    """A whole table cannot be used: missing, unreadable, or lacking mandatory columns."""


#: Event names that get usage features of their own (``event_1_30d``, ...), whatever they
#: mean: the export's own vocabulary, most widely used first.
TRACKED_EVENT_SLOTS = 12


class EventTaxonomy(BaseModel):
    """What a user's event names mean: which are logins, errors and core-feature use, and
    which names get per-event features (``tracked_events``; empty: the most widely used
    names of the export, chosen by the pipeline)."""

    login_events: list[str] = Field(default_factory=lambda: ["login"])
    error_events: list[str] = Field(default_factory=lambda: ["error"])
    core_events: list[str] = Field(default_factory=lambda: [
        "dashboards", "reports", "automations", "integrations", "alerts", "exports"])
    tracked_events: list[str] = Field(default_factory=list, max_length=TRACKED_EVENT_SLOTS)


class ActivityTaxonomy(BaseModel):
    """What ``cs_activities.action_type`` values mean for the engagement features: which are
    meetings (calls, QBRs, trainings) and which reach the customer's executives."""

    meeting_actions: list[str] = Field(default_factory=lambda: [
        "meeting", "call", "qbr", "ebr", "executive_meeting", "training", "onboarding_session"])
    executive_actions: list[str] = Field(default_factory=lambda: [
        "ebr", "executive_meeting", "executive_sponsor_call"])


class ContractMapping(BaseModel):
    """How a user's export maps onto the contract (loaded from ``mapping.yaml``).

    ``columns``: per table, export column name -> contract column name.
    ``values``: per table and contract column, export value -> contract value
    (e.g. ``segment: {appstore1: SMB}``).
    """

    columns: dict[str, dict[str, str]] = Field(default_factory=dict)
    values: dict[str, dict[str, dict[str, str]]] = Field(default_factory=dict)
    reporting_currency: str = "USD"
    event_taxonomy: EventTaxonomy = Field(default_factory=EventTaxonomy)
    activity_taxonomy: ActivityTaxonomy = Field(default_factory=ActivityTaxonomy)

    @classmethod
    def from_file(cls, path: Path | None) -> ContractMapping:
        """Load a mapping file; a missing file means "the export already follows the contract"."""
        if path is None or not path.exists():
            return cls()
        return cls.model_validate(yaml.safe_load(path.read_text()) or {})


#: Tables that may arrive as a directory of one file per UTC day (``events/2026-10-31.csv``),
#: so a daily run reads only the days it covers.
DAY_FILE_TABLES = ("events",)


def find_table_file(data_dir: Path, table: str) -> Path | None:
    """Where ``table`` is in ``data_dir``: ``<table>.csv``, ``<table>.parquet`` or, for
    ``DAY_FILE_TABLES``, a ``<table>/`` directory of day files."""
    matches = [data_dir / f"{table}{suffix}" for suffix in SUPPORTED_SUFFIXES
               if (data_dir / f"{table}{suffix}").exists()]
    if table in DAY_FILE_TABLES and (data_dir / table).is_dir():
        matches.append(data_dir / table)
    if len(matches) > 1:
        raise ContractError(
            f"{table}: both {matches[0].name} and {matches[1].name} exist in {data_dir}; "
            "keep one so the input is unambiguous")
    return matches[0] if matches else None


def day_files(directory: Path) -> dict[pd.Timestamp, Path]:
    """The day files of a day-file table, by day: ``YYYY-MM-DD.csv`` or ``.parquet``.

    Raises ``ContractError`` for a file named otherwise or two files for one day, rather
    than guessing which rows belong to which day.
    """
    files: dict[pd.Timestamp, Path] = {}
    for path in sorted(p for p in directory.iterdir() if not p.name.startswith(".")):
        day = pd.to_datetime(path.stem, format="%Y-%m-%d", errors="coerce")
        if path.suffix not in SUPPORTED_SUFFIXES or pd.isna(day):
            raise ContractError(
                f"{directory.name}/{path.name}: day files are named YYYY-MM-DD.csv or "
                "YYYY-MM-DD.parquet (one per UTC day)")
        if day in files:
            raise ContractError(f"{directory.name}: both {files[day].name} and {path.name} "
                                f"hold {day:%Y-%m-%d}; keep one")
        files[day] = path
    return files


def _read_csv_as_text(path: Path) -> pd.DataFrame:
    """Every column as text, empty fields (quoted or not) missing, other values as written.

    Arrow's multithreaded reader, about ten times pandas' on the whole invoice and ticket
    exports read every morning."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle))
    table = pa_csv.read_csv(
        path, parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=_text_columns(header))
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def _text_columns(header: list[str]) -> pa_csv.ConvertOptions:
    return pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in header}, null_values=[""],
        strings_can_be_null=True, quoted_strings_can_be_null=True)


def read_table(path: Path, table: str, mapping: ContractMapping) -> pd.DataFrame:
    """Read one export file, apply the mapping and add ``source_row`` (1-based data row).

    Values are kept as they arrive (CSV: strings); typing happens in validation so a bad
    value quarantines its row instead of failing the read.
    """
    try:
        if path.suffix == ".csv":
            frame = _read_csv_as_text(path)
        else:
            frame = pq.read_table(path).to_pandas()
    except Exception as exc:  # any parser error means the file as a whole is unusable
        raise ContractError(f"{path.name}: cannot be read ({exc})") from exc
    return _conform(frame, path, table, mapping, first_row=1)


#: Bytes of a CSV export read at a time by ``read_table_batches`` (some 250,000 event rows).
CSV_BATCH_BYTES = 16 << 20


def read_table_batches(path: Path, table: str, mapping: ContractMapping, *,
                       batch_rows: int = 250_000) -> Iterator[pd.DataFrame]:
    """``read_table`` in consecutive batches (Parquet: ``batch_rows`` rows; CSV:
    ``CSV_BATCH_BYTES``), ``source_row`` counting on across them, so a check of a large
    export holds one batch at a time."""
    first_row = 1
    try:
        if path.suffix == ".csv":
            with open(path, newline="", encoding="utf-8-sig") as handle:
                header = next(csv.reader(handle))
            reader = pa_csv.open_csv(
                path, read_options=pa_csv.ReadOptions(block_size=CSV_BATCH_BYTES),
                parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                convert_options=_text_columns(header))
            batches = (pa.Table.from_batches([b]) for b in reader)
        else:
            batches = (pa.Table.from_batches([b]) for b in
                       pq.ParquetFile(path).iter_batches(batch_size=batch_rows))
        for batch in batches:
            frame = _conform(batch.to_pandas(types_mapper=pd.ArrowDtype)
                             if path.suffix == ".csv" else batch.to_pandas(),
                             path, table, mapping, first_row=first_row)
            first_row += len(frame)
            yield frame
    except ContractError:
        raise
    except Exception as exc:  # as read_table: a parser error makes the file unusable
        raise ContractError(f"{path.name}: cannot be read ({exc})") from exc


def _conform(frame: pd.DataFrame, path: Path, table: str, mapping: ContractMapping, *,
             first_row: int) -> pd.DataFrame:
    """The mapping applied to a read frame: renamed and re-valued columns, the contract's
    columns only, ``source_row`` from ``first_row``."""
    spec = CONTRACT[table]
    frame = frame.rename(columns=mapping.columns.get(table, {}))
    missing = [c for c in spec.mandatory if c not in frame.columns]
    if missing:
        raise ContractError(
            f"{path.name}: missing mandatory column(s) {', '.join(missing)}; found "
            f"{', '.join(map(str, frame.columns))}. Map your column names in mapping.yaml")
    for column, value_map in mapping.values.get(table, {}).items():
        if column in frame.columns and value_map:
            frame[column] = frame[column].astype("object").replace(value_map)
    frame = frame[[c for c in spec.columns if c in frame.columns]].copy()
    frame.insert(0, "source_row", range(first_row, first_row + len(frame)))
    return frame
