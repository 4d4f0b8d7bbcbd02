"""Raw layer, tables: the exports found, and each table validated row by row and stored with
its quarantine."""

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetOut,
    Failure,
    MetadataValue,
    Output,
    asset,
    multi_asset,
)

from features.contract import CONTRACT, ContractError, read_table
from features.event_ingestion import (
    PARENT_TABLES,
    parent_account_ids,
)
from features.row_checks import (
    RowCheckResult,
    check_table,
    describe_quarantine,
    empty_quarantine,
)
from features.source_inventory import inventory_row
from pipelines.resources import AccountHealthSettings

GROUP = "raw"


@asset(group_name=GROUP)
def source_files(context: AssetExecutionContext, settings: AccountHealthSettings) -> pd.DataFrame:
    """Inventory of the data directory: which contract tables are present, their size and hash.

    Fails the run when a required table is missing or ambiguous.
    """
    rows = []
    for table, spec in CONTRACT.items():
        try:
            path = settings.table_file(table)
        except ContractError as exc:
            raise Failure(str(exc)) from exc
        if path is None and spec.required:
            raise Failure(
                f"required table '{table}' not found in {settings.data_dir}: expected "
                f"{table}.csv or {table}.parquet (see docs/data-contract.md)")
        rows.append(inventory_row(table, spec.required, path))
    inventory = pd.DataFrame(rows)
    context.add_output_metadata({
        "data_dir": settings.data_dir,
        "tables": MetadataValue.md(inventory.drop(columns="sha256").to_markdown(index=False)),
    })
    return inventory


def _validate_file(settings: AccountHealthSettings, table: str,
                   known: pd.Index | None) -> tuple[RowCheckResult | None, str]:
    """Validated table, or None with the reason when an optional table is absent/unreadable."""
    path = settings.table_file(table)
    if path is None:
        return None, "absent"
    mapping = settings.mapping()
    try:
        frame = read_table(path, table, mapping)
    except ContractError as exc:
        if CONTRACT[table].required:
            raise Failure(str(exc)) from exc
        return None, f"unreadable, left out: {exc}"
    result = check_table(table, frame, source_file=path.name, now=settings.data.current_time(),
                            known_accounts=known, reporting_currency=mapping.reporting_currency)
    return result, "present"


def _parent_account_ids(settings: AccountHealthSettings,
                        tables: tuple[str, ...] = PARENT_TABLES) -> pd.Index | None:
    return parent_account_ids(settings.table_file, settings.mapping(), tables)


def _outputs(table: str, result: RowCheckResult | None, status: str):
    quarantine = result.quarantine if result is not None else empty_quarantine()
    meta = {"status": status, "accepted_rows": 0 if result is None else len(result.accepted),
            "quarantined_rows": len(quarantine)}
    if len(quarantine):
        meta["examples"] = MetadataValue.md("\n".join(f"- {line}" for line in
                                                      describe_quarantine(quarantine, 10)))
    yield Output(None if result is None else result.accepted, output_name=table, metadata=meta)
    yield Output(quarantine, output_name=f"{table}_quarantine",
                 metadata={"rows": len(quarantine)})


def _table_outs(table: str) -> dict[str, AssetOut]:
    return {
        table: AssetOut(description=f"Validated {table} (contract columns, typed, deduplicated)"),
        f"{table}_quarantine": AssetOut(description=f"Rejected {table} rows with reasons"),
    }


@multi_asset(outs=_table_outs("accounts"), group_name=GROUP, deps=[source_files])
def accounts(settings: AccountHealthSettings):
    """Accounts (optional): segment, industry, signup date, CSM owner."""
    result, status = _validate_file(settings, "accounts", None)
    yield from _outputs("accounts", result, status)


@multi_asset(outs=_table_outs("subscriptions"), group_name=GROUP, deps=["accounts"])
def subscriptions(settings: AccountHealthSettings):
    """Subscriptions (required): plans, MRR, seats and their start and end dates."""
    result, status = _validate_file(settings, "subscriptions",
                                    _parent_account_ids(settings, ("accounts",)))
    yield from _outputs("subscriptions", result, status)


def _optional_table_asset(table: str, description: str):
    @multi_asset(name=f"{table}_ingestion", outs=_table_outs(table), group_name=GROUP,
                 deps=["accounts", "subscriptions"], description=description)
    def _ingest(settings: AccountHealthSettings):
        result, status = _validate_file(settings, table, _parent_account_ids(settings))
        yield from _outputs(table, result, status)

    return _ingest


invoices = _optional_table_asset("invoices", "Invoices (optional): payments, late and failed.")
support_tickets = _optional_table_asset("support_tickets", "Support tickets (optional).")
nps_responses = _optional_table_asset("nps_responses", "NPS survey responses (optional).")
cs_activities = _optional_table_asset(
    "cs_activities", "Customer-success activities (optional): outreach and holdouts of flagged "
    "accounts, for measuring whether interventions work.")
