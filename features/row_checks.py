"""Row-level validation of contract tables: accepted rows flow on, bad rows are quarantined.

Every rejected row keeps its original values (``raw``, JSON) and every reason it failed, so
nothing is lost and a user can fix the export. Validation is deterministic: the same input
gives the same accepted rows and the same quarantine, whatever the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract import (
    CONTRACT,
    TableSpec,
    billing_period_months,
    billing_period_name,
    canonical_label,
)

QUARANTINE_COLUMNS = ["table", "source_file", "source_row", "record_id", "reason", "raw"]


@dataclass(frozen=True)
class RowCheckResult:
    """Typed accepted rows (contract columns only) and the quarantined rows with reasons."""

    accepted: pd.DataFrame
    quarantine: pd.DataFrame


_EXPLICIT_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"


def to_utc(values: pd.Series) -> pd.Series:
    """Parse ISO 8601 values to UTC timestamps; naive values are taken as UTC. Bad -> NaT.

    Values with and without a UTC offset may be mixed in one export; each kind is parsed on
    its own so a naive value is never read in another row's offset.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
    text = values.astype(pd.ArrowDtype(pa.string())).str.strip()
    parsed = _common_formats(text)
    rest = text.notna() & parsed.isna()
    if not rest.any():
        return parsed
    numeric = rest & text.str.fullmatch(_EPOCH_NUMBER).fillna(False).astype(bool)
    if numeric.any():
        # a compact date such as 20250101 is too small for an epoch time and reads as ISO
        epoch = epoch_times(text[numeric]).dropna()
        parsed[epoch.index] = epoch
        rest[epoch.index] = False
    text = text[rest]
    has_offset = text.str.contains(_EXPLICIT_OFFSET, regex=True).fillna(False).astype(bool)
    for mask in (has_offset, ~has_offset):
        if mask.any():
            parsed[mask[mask].index] = pd.to_datetime(
                text[mask].astype(object), utc=True, errors="coerce", format="ISO8601")
    return parsed


#: A bare number where a time is expected: time since 1970 (``epoch_times``).
_EPOCH_NUMBER = r"-?\d+(?:\.\d+)?"
#: Units of epoch numbers by magnitude (lower bound of |value|): for instants between 1973
#: and 5138 the four units do not overlap, so the magnitude tells which one an export used.
_EPOCH_UNITS = ((1e17, "ns"), (1e14, "us"), (1e11, "ms"), (1e8, "s"))


def epoch_times(numbers: pd.Series) -> pd.Series:
    """UTC timestamps of epoch numbers (seconds, milliseconds, microseconds or nanoseconds
    since 1970-01-01 UTC, told apart by magnitude); NaT for a number too small to be any."""
    values = pd.to_numeric(numbers.astype(object), errors="coerce")
    magnitude = values.abs()
    result = pd.Series(pd.NaT, index=numbers.index, dtype="datetime64[ns, UTC]")
    upper = np.inf
    for lower, unit in _EPOCH_UNITS:
        in_unit = (magnitude >= lower) & (magnitude < upper)
        if in_unit.any():
            result[in_unit] = pd.to_datetime(values[in_unit], unit=unit, utc=True)
        upper = lower
    return result


#: Layouts nearly every export uses, parsed by Arrow's C++ strptime (about 20 times faster
#: than pandas' ISO 8601 parser, which matters for whole invoice and ticket exports every
#: morning); anything else, or anything they reject, goes through pandas.
_COMMON_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def _common_formats(text: pd.Series) -> pd.Series:
    """UTC timestamps of the values in a common layout ("Z" or no offset: UTC); NaT else."""
    array = pa.array(text)
    parsed = pa.nulls(len(array), pa.timestamp("ns"))
    for layout in _COMMON_FORMATS:
        parsed = pc.coalesce(parsed, pc.strptime(array, format=layout, unit="ns",
                                                 error_is_null=True))
        if parsed.null_count == array.null_count:  # every value parsed: no layout is left
            break                                  # to fill anything in
    # strptime rolls impossible dates over (Feb 30 -> Mar 2): keep a value only when its day
    # is the one written, so those fall through to pandas, which rejects them
    written_day = pc.utf8_slice_codeunits(array, 8, 10)
    parsed_day = pc.utf8_lpad(pc.cast(pc.day(parsed), pa.string()), width=2, padding="0")
    parsed = pc.if_else(pc.fill_null(pc.equal(written_day, parsed_day), False), parsed,
                        pa.scalar(None, pa.timestamp("ns")))
    return pd.Series(parsed.to_numpy(zero_copy_only=False), index=text.index).dt.tz_localize(
        "UTC").astype("datetime64[ns, UTC]")


def _strings(values: pd.Series) -> pd.Series:
    """Trimmed strings with empty values as missing, vectorised through Arrow."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.rename_categories(lambda v: str(v).strip())
    text = values.astype(pd.ArrowDtype(pa.string())).str.strip()
    return text.where(text != "")


_EMPTY_DTYPES = {"id": pd.ArrowDtype(pa.string()), "text": pd.ArrowDtype(pa.string()),
                 "timestamp": "datetime64[ns, UTC]", "date": "datetime64[ns]",
                 "number": "float64", "integer": "float64"}


def _parse(frame: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed columns, and for each column whether a value was present in the export."""
    typed = pd.DataFrame(index=frame.index)
    present = pd.DataFrame(index=frame.index)
    for column, kind in spec.columns.items():
        if column not in frame.columns:
            typed[column] = pd.Series(None, index=frame.index, dtype=_EMPTY_DTYPES[kind])
            present[column] = False
            continue
        values = frame[column]
        if kind in ("id", "text") or not (pd.api.types.is_numeric_dtype(values)
                                          or pd.api.types.is_datetime64_any_dtype(values)):
            values = _strings(values)
        present[column] = values.notna()
        if kind == "timestamp":
            typed[column] = to_utc(values)
        elif kind == "date":
            typed[column] = to_utc(values).dt.tz_localize(None).dt.normalize()
        elif kind in ("number", "integer"):
            typed[column] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:
            typed[column] = values
    return typed, present


class _Reasons:
    """Collects, per row, every reason it is rejected (vectorised; messages built lazily)."""

    def __init__(self, index: pd.Index) -> None:
        self.text = pd.Series("", index=index, dtype="object")

    def add(self, mask: pd.Series, message: Callable[[pd.Index], pd.Series | str]) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        rows = mask[mask].index
        msg = message(rows)
        prefix = self.text.loc[rows].where(self.text.loc[rows] == "", self.text.loc[rows] + "; ")
        self.text.loc[rows] = prefix + msg

    @property
    def rejected(self) -> pd.Series:
        return self.text != ""


def _show(values: pd.Series) -> pd.Series:
    return values.astype(str)


def check_table(
    table: str,
    frame: pd.DataFrame,
    *,
    source_file: str,
    now: pd.Timestamp,
    known_accounts: pd.Index | None = None,
    reporting_currency: str = "USD",
) -> RowCheckResult:
    """Validate rows of ``table`` (as returned by ``read_table``) against the contract.

    ``now`` (UTC) bounds timestamps: anything later is "in the future". ``known_accounts``,
    when given, rejects rows of accounts nobody has heard of.
    """
    spec = CONTRACT[table]
    typed, present = _parse(frame, spec)
    reasons = _Reasons(frame.index)
    now = pd.Timestamp(now).tz_convert("UTC") if pd.Timestamp(now).tzinfo else pd.Timestamp(
        now, tz="UTC")

    for column in spec.mandatory:
        reasons.add(~present[column], lambda rows, c=column: f"{c} is missing")
    for column, kind in spec.columns.items():
        if column not in frame.columns:
            continue
        if kind in ("timestamp", "date", "number", "integer"):
            reasons.add(present[column] & typed[column].isna(),
                        lambda rows, c=column, k=kind: f"{c} '" + _show(frame.loc[rows, c])
                        + f"' is not a valid {k}")
        if kind in ("number", "integer"):
            reasons.add(np.isinf(typed[column]),
                        lambda rows, c=column: f"{c} '" + _show(frame.loc[rows, c])
                        + "' is not a finite number")
        if kind == "integer":
            fractional = typed[column].notna() & (typed[column] % 1 != 0)
            reasons.add(fractional, lambda rows, c=column: f"{c} '" + _show(frame.loc[rows, c])
                        + "' is not a whole number")
        if kind == "timestamp":
            reasons.add(typed[column] > now,
                        lambda rows, c=column: f"{c} " + _show(typed.loc[rows, c])
                        + " is in the future")
        if kind == "date":
            reasons.add(typed[column] > now.tz_localize(None),
                        lambda rows, c=column: f"{c} " + _show(typed.loc[rows, c].dt.date)
                        + " is in the future")
    for column, labels in {**spec.documented_values, **spec.allowed_values}.items():
        if column in frame.columns:
            typed[column] = _canonical_labels(typed[column], labels)
    for column, allowed in spec.allowed_values.items():
        if column not in frame.columns:
            continue
        bad = typed[column].notna() & ~typed[column].isin(allowed)
        reasons.add(bad, lambda rows, c=column, a=allowed: f"{c} '" + _show(typed.loc[rows, c])
                    + f"' is not one of {', '.join(a)} (map it in mapping.yaml)")
    if table == "subscriptions":
        _billing_periods(typed, reasons)
    if known_accounts is not None and table != "accounts":
        unknown = typed["account_id"].notna() & ~typed["account_id"].isin(known_accounts)
        reasons.add(unknown, lambda rows: "unknown account_id '"
                    + _show(typed.loc[rows, "account_id"]) + "'")
    _table_rules(table, typed, reasons, reporting_currency)
    _duplicate_rule(spec, frame, typed, reasons)

    rejected = reasons.rejected
    accepted = typed.loc[~rejected, list(spec.columns)].reset_index(drop=True)
    quarantine = quarantine_rows(table, source_file, frame.loc[rejected], reasons.text[rejected])
    return RowCheckResult(accepted=accepted, quarantine=quarantine)


def _canonical_labels(values: pd.Series, labels: tuple[str, ...]) -> pd.Series:
    """Values matching a documented label but for case or spacing, written as the label."""
    unique = values.dropna().unique()
    renamed = {v: canonical_label(str(v), labels) for v in unique}
    renamed = {v: label for v, label in renamed.items() if label != v}
    return values.replace(renamed) if renamed else values


def _billing_periods(typed: pd.DataFrame, reasons: _Reasons) -> None:
    """Billing periods as their canonical name; a value naming no whole number of months
    quarantines the row (renewal dates are computed from it)."""
    period = typed["billing_period"]
    months = billing_period_months(period)
    reasons.add(period.notna() & months.isna(),
                lambda rows: "billing_period '" + _show(period.loc[rows]) + "' is not a whole "
                "number of months (monthly, quarterly, semiannual, annual, biennial or "
                "'N months')")
    names = {m: billing_period_name(m) for m in months.dropna().unique()}
    typed["billing_period"] = months.map(names).where(months.notna(), period).astype(
        period.dtype)


def label_warnings(table: str, accepted: pd.DataFrame) -> pd.DataFrame:
    """Descriptive values outside the documented set (kept as given): per table, column and
    value, how many rows have it and the ``mapping.yaml`` line that would map it."""
    spec = CONTRACT[table]
    rows = []
    for column, labels in spec.documented_values.items():
        if column not in accepted.columns:
            continue
        values = accepted[column].dropna()
        counts = values[~values.isin(labels)].astype(str).value_counts()
        for value, n in counts.sort_index().items():
            rows.append({
                "table": table, "column": column, "value": value, "rows": int(n),
                "documented": ", ".join(labels),
                "mapping_line": f"values: {{{table}: {{{column}: {{{json.dumps(value)}: "
                                f"<{'|'.join(labels)}>}}}}}}"})
    return pd.DataFrame(rows, columns=LABEL_WARNING_COLUMNS)


LABEL_WARNING_COLUMNS = ["table", "column", "value", "rows", "documented", "mapping_line"]


def _table_rules(table: str, typed: pd.DataFrame, reasons: _Reasons, currency: str) -> None:
    def before(later: str, earlier: str) -> None:
        reasons.add(typed[later] < typed[earlier],
                    lambda rows: f"{later} " + _show(typed.loc[rows, later])
                    + f" is before {earlier} " + _show(typed.loc[rows, earlier]))

    def below(column: str, floor: float, text: str) -> None:
        reasons.add(typed[column] < floor,
                    lambda rows: f"{column} " + _show(typed.loc[rows, column]) + f" {text}")

    if table == "subscriptions":
        below("mrr", 0, "is negative")
        below("seats", 1, "must be at least 1")
        before("end_date", "start_date")
        reasons.add(typed["currency"].notna() & (typed["currency"] != currency),
                    lambda rows: "currency '" + _show(typed.loc[rows, "currency"])
                    + f"' is not the reporting currency {currency} (set reporting_currency "
                    "in mapping.yaml or convert the export)")
    elif table == "invoices":
        below("amount", 0, "is negative")
        before("due_at", "issued_at")
        before("paid_at", "issued_at")
    elif table == "support_tickets":
        before("closed_at", "opened_at")
        reasons.add((typed["csat"] < 1) | (typed["csat"] > 5),
                    lambda rows: "csat " + _show(typed.loc[rows, "csat"]) + " is outside 1-5")
    elif table == "events":
        below("event_count", 1, "must be at least 1")
    elif table == "cs_activities":
        before("performed_at", "flagged_at")
    elif table == "nps_responses":
        reasons.add((typed["score"] < 0) | (typed["score"] > 10),
                    lambda rows: "score " + _show(typed.loc[rows, "score"]) + " is outside 0-10")


def _duplicate_rule(spec: TableSpec, frame: pd.DataFrame, typed: pd.DataFrame,
                    reasons: _Reasons) -> None:
    """Among otherwise valid rows, keep the first occurrence of each key."""
    candidates = typed.loc[~reasons.rejected, list(spec.key)]
    involved = candidates.duplicated(keep=False)
    if not involved.any():
        return
    group = candidates.loc[involved[involved].index].astype(str).agg("/".join, axis=1)
    rows = group.index
    content = typed.loc[rows, list(spec.columns)].astype(str).agg("|".join, axis=1)
    first_row = frame.loc[rows, "source_row"].groupby(group, sort=False).transform("first")
    first_content = content.groupby(group, sort=False).transform("first")
    later = group.duplicated(keep="first")
    dup_index = later[later].index
    kind = pd.Series(np.where(content == first_content, "exact copy", "conflicting values"),
                     index=rows)
    mask = pd.Series(False, index=frame.index)
    mask.loc[dup_index] = True
    reasons.add(mask, lambda r: f"duplicate {'/'.join(spec.key)} '" + group.loc[r]
                + "' (" + kind.loc[r] + ", first kept at row "
                + first_row.loc[r].astype(str) + ")")


def empty_quarantine() -> pd.DataFrame:
    """A quarantine table with no rows (for absent tables)."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in QUARANTINE_COLUMNS}).astype(
        {"source_row": "int64"})


def quarantine_rows(table: str, source_file: str, rows: pd.DataFrame,
                    reasons: pd.Series | str) -> pd.DataFrame:
    """Quarantine records: where each row came from, why it was rejected, and its raw values."""
    spec = CONTRACT[table]
    if rows.empty:
        return empty_quarantine()
    raw_values = rows.drop(columns="source_row").astype("object")
    raw_values = raw_values.where(raw_values.notna(), None)
    raw = [json.dumps(record, default=str) for record in raw_values.to_dict(orient="records")]
    record_id = rows[list(spec.key)].astype(str).agg("/".join, axis=1)
    return pd.DataFrame({
        "table": table,
        "source_file": source_file,
        "source_row": rows["source_row"].astype("int64").to_numpy(),
        "record_id": record_id.to_numpy(),
        "reason": reasons.to_numpy() if isinstance(reasons, pd.Series) else reasons,
        "raw": raw,
    })


def describe_quarantine(quarantine: pd.DataFrame, limit: int = 20,
                        per_kind: int = 2) -> list[str]:
    """Readable lines like 'subscriptions.csv row 17: ... — row quarantined'.

    Shows up to ``per_kind`` rows of every kind of reason, so one frequent problem does not
    hide the others.
    """
    ordered = quarantine.sort_values(["source_file", "source_row"])
    first_kind = ordered["reason"].str.split("; ").str[0]
    kinds = reason_kind(first_kind)
    sample = ordered[kinds.groupby(kinds).cumcount() < per_kind].head(limit)
    return [f"{r.source_file} row {r.source_row}: {r.reason} — row quarantined"
            for r in sample.itertuples()]


def event_times(frame: pd.DataFrame) -> pd.Series:
    """Parsed UTC ``event_time`` of raw event rows (NaT where missing or unparseable)."""
    return to_utc(frame["event_time"])


def run_day_range(first: pd.Timestamp, last: pd.Timestamp, now: pd.Timestamp
                  ) -> tuple[str, str]:
    """The UTC days (YYYY-MM-DD) a run over placeable events from ``first`` to ``last``
    covers: the last no later than yesterday, the latest complete day."""
    yesterday = (now - pd.Timedelta(days=1)).normalize()
    return (f"{first.normalize():%Y-%m-%d}",
            f"{min(last.normalize(), yesterday):%Y-%m-%d}")


def unplaceable_events(frame: pd.DataFrame, times: pd.Series, *, source_file: str,
                       pipeline_start: pd.Timestamp, now: pd.Timestamp) -> pd.DataFrame:
    """Quarantine for event rows that no daily partition can hold.

    Those are rows whose time is missing or unparseable, in the future, or before the
    pipeline's first partition. Every other row belongs to exactly one day partition.
    """
    raw = frame["event_time"]
    if pd.api.types.is_datetime64_any_dtype(raw):
        missing = raw.isna()
    else:
        missing = times.isna() & _strings(raw.astype("object")).isna()
    unparseable = times.isna() & ~missing
    future = times > now
    early = times < pipeline_start
    reasons = pd.Series("", index=frame.index, dtype="object")
    reasons[missing] = "event_time is missing"
    reasons[unparseable] = ("event_time '" + frame.loc[unparseable, "event_time"].astype(str)
                            + "' is not a valid timestamp")
    reasons[future] = "event_time " + times[future].astype(str) + " is in the future"
    reasons[early] = ("event_time " + times[early].astype(str)
                      + f" is before the pipeline start {pipeline_start.date()} "
                      "(set ACCOUNT_HEALTH_START_DATE to include it)")
    bad = reasons != ""
    return quarantine_rows("events", source_file, frame.loc[bad], reasons[bad])


def export_account_ids(frame: pd.DataFrame) -> pd.Index:
    """Account ids present in an export's rows (as read, before validation): the parents
    other tables may reference. A row whose own values were rejected still proves its
    account exists, so its dependants are kept."""
    return pd.Index(_strings(frame["account_id"]).dropna().astype(str).unique())


def reason_kind(reasons: pd.Series) -> pd.Series:
    """Each single reason with its values blanked, so 'unknown account_id' rows group together.

    A row with several reasons yields several entries (same index).
    """
    return (reasons.str.split("; ").explode()
            .str.replace(r"'[^']*'", "'…'", regex=True)
            .str.replace(r"-?\d+(?:[\-:.+ T]+\d+)*", "…", regex=True))


_VALUE_REASON = re.compile(
    r"^(\w+) '([^']*)' is not (?:one of ([^(]*) \(|a whole number of months)")


def quarantine_stop(summary: pd.DataFrame, quarantine: pd.DataFrame, *, limit: float,
                    tables: tuple[str, ...]) -> str | None:
    """Why the run must stop after ingestion, or None: a table of ``tables`` of which more
    than ``limit`` (a share) was quarantined. The message names the share, the top reasons
    and the ``mapping.yaml`` lines that would map rejected values."""
    over = summary[summary["table"].isin(tables) & (summary["quarantine_rate"] > limit)]
    if over.empty:
        return None
    lines = []
    for row in over.itertuples():
        lines.append(f"{row.table}: {row.quarantine_rate:.0%} of {row.input_rows:,} rows "
                     f"quarantined, more than the {limit:.0%} allowed "
                     "(ACCOUNT_HEALTH_MAX_QUARANTINE_SHARE); the run stops here rather than "
                     "learn from what is left.")
        reasons = quarantine.loc[quarantine["table"] == row.table, "reason"]
        kinds = reason_kind(reasons.reset_index(drop=True)).value_counts().head(5)
        lines += [f"  {n:,} × {kind}" for kind, n in kinds.items()]
        fixes = _mapping_lines(row.table, reasons)
        if fixes:
            lines.append("  to map the rejected values, add to mapping.yaml (pick the value):")
            lines += [f"    {line}" for line in fixes]
    return "\n".join(lines)


def _mapping_lines(table: str, reasons: pd.Series, limit: int = 10) -> list[str]:
    found = reasons.str.split("; ").explode().str.extract(_VALUE_REASON).dropna(
        subset=[0]).drop_duplicates(subset=[0, 1]).head(limit)
    lines = []
    for column, value, allowed in found.itertuples(index=False):
        choices = ("|".join(a.strip() for a in allowed.split(",")) if isinstance(allowed, str)
                   else "monthly|quarterly|semiannual|annual|biennial|N months")
        lines.append(f"values: {{{table}: {{{column}: {{{json.dumps(value)}: <{choices}>}}}}}}")
    return lines


def check_event_day(frame: pd.DataFrame, day: pd.Timestamp, *, source_file: str,
                    pipeline_start: pd.Timestamp, now: pd.Timestamp,
                    known_accounts: pd.Index | None) -> RowCheckResult:
    """The checks of one events day file (``read_table`` output) for UTC ``day``.

    A row of a day file belongs to that day: one whose time is missing, in the future,
    before the pipeline start or on another day is quarantined with the reason (a late event
    would otherwise change a day already scored); the rest go through ``check_table``. The
    quarantine carries the day as ``partition_date``. Both engines call this per file.
    """
    times = event_times(frame)
    unplaceable = unplaceable_events(frame, times, source_file=source_file,
                                     pipeline_start=pipeline_start, now=now)
    placeable = ~frame["source_row"].isin(unplaceable["source_row"])
    elsewhere = placeable & (times.dt.floor("D") != pd.Timestamp(day).tz_localize("UTC"))
    misplaced = quarantine_rows(
        "events", source_file, frame[elsewhere],
        "event_time " + times[elsewhere].astype(str) + f" is not on {day:%Y-%m-%d}, the "
        "day of its file")
    result = check_table("events", frame[placeable & ~elsewhere], source_file=source_file,
                         now=now, known_accounts=known_accounts)
    quarantine = pd.concat([unplaceable, misplaced, result.quarantine], ignore_index=True)
    return RowCheckResult(result.accepted,
                          quarantine.assign(partition_date=f"{pd.Timestamp(day):%Y-%m-%d}"))
