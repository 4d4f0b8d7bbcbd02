"""The input contract: good rows flow, each bad row is quarantined with its reason."""

from pathlib import Path

import pandas as pd
import pytest

from features.contract import ContractError, ContractMapping, read_table
from features.row_checks import (
    check_table,
    describe_quarantine,
    to_utc,
    unplaceable_events,
)

NOW = pd.Timestamp("2026-11-01", tz="UTC")

SUBSCRIPTIONS_CSV = """\
subscription_id,account_id,plan,mrr,currency,start_date,end_date,billing_period,seats,\
status,cancel_reason
s1,a1,growth,100,USD,2025-01-01,,monthly,4,active,
s2,a2,starter,-5,USD,2025-01-01,,monthly,1,active,
s3,a3,growth,50,USD,2025-02-01,2025-01-03,annual,2,canceled,price
s4,a4,growth,50,USD,2025-02-01,,fortnightly,2,active,
s5,a5,growth,abc,USD,2025-02-01,,monthly,2,active,
s1,a1,growth,100,USD,2025-01-01,,monthly,4,active,
s6,a6,growth,70,EUR,2025-02-01,,annual,2,active,
s7,a7,growth,70,USD,not-a-date,,annual,2,active,
s8,,growth,70,USD,2025-03-01,,annual,2,active,
s9,a9,growth,70,USD,2027-03-01,,annual,2,active,
s10,a10,enterprise,900,USD,2025-03-01,2026-03-01,annual,30,canceled,price
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


EVENTS_HEADER = "event_id,account_id,user_id,event_time,event_name\n"


def validate_csv(tmp_path: Path, table: str, text: str, known=None,
                 mapping: ContractMapping | None = None):
    path = write(tmp_path, f"{table}.csv", text)
    frame = read_table(path, table, mapping or ContractMapping())
    return check_table(table, frame, source_file=path.name, now=NOW, known_accounts=known)


def validate_subscriptions(tmp_path: Path, known=None):
    return validate_csv(tmp_path, "subscriptions", SUBSCRIPTIONS_CSV, known)


def test_each_bad_subscription_row_is_quarantined_with_its_reason(tmp_path):
    result = validate_subscriptions(tmp_path)
    reasons = dict(zip(result.quarantine["source_row"], result.quarantine["reason"], strict=True))
    assert reasons == {
        2: "mrr -5.0 is negative",
        3: "end_date 2025-01-03 is before start_date 2025-02-01",
        4: "billing_period 'fortnightly' is not a whole number of months (monthly, quarterly, "
           "semiannual, annual, biennial or 'N months')",
        5: "mrr 'abc' is not a valid number",
        6: "duplicate subscription_id 's1' (exact copy, first kept at row 1)",
        7: "currency 'EUR' is not the reporting currency USD (set reporting_currency in "
           "mapping.yaml or convert the export)",
        8: "start_date 'not-a-date' is not a valid date",
        9: "account_id is missing",
        10: "start_date 2027-03-01 is in the future",
    }
    assert sorted(result.accepted["subscription_id"]) == ["s1", "s10"]
    # nothing is lost: every input row is either accepted or quarantined
    assert len(result.accepted) + len(result.quarantine) == 11


def test_quarantine_keeps_raw_values_and_readable_messages(tmp_path):
    result = validate_subscriptions(tmp_path)
    row = result.quarantine.set_index("source_row").loc[2]
    assert '"mrr": "-5"' in row["raw"] and row["record_id"] == "s2"
    assert describe_quarantine(result.quarantine)[0] == (
        "subscriptions.csv row 2: mrr -5.0 is negative — row quarantined")


def test_accepted_rows_are_typed(tmp_path):
    accepted = validate_subscriptions(tmp_path).accepted.set_index("subscription_id")
    assert accepted.loc["s10", "mrr"] == 900.0
    assert accepted.loc["s10", "end_date"] == pd.Timestamp("2026-03-01")
    assert pd.isna(accepted.loc["s1", "end_date"])
    assert accepted.loc["s1", "seats"] == 4


def test_unknown_accounts_are_quarantined(tmp_path):
    result = validate_subscriptions(tmp_path, known=pd.Index(["a1"]))
    reasons = result.quarantine.set_index("source_row")["reason"]
    assert reasons.loc[11] == "unknown account_id 'a10'"
    assert list(result.accepted["subscription_id"]) == ["s1"]


def test_conflicting_duplicate_is_reported_as_such(tmp_path):
    result = validate_csv(tmp_path, "events", EVENTS_HEADER
                          + "e1,a1,u1,2026-10-01T10:00:00Z,login\n"
                          + "e1,a1,u1,2026-10-01T11:00:00Z,login\n")
    assert list(result.quarantine["reason"]) == [
        "duplicate event_id 'e1' (conflicting values, first kept at row 1)"]
    assert result.accepted["event_time"].iloc[0] == pd.Timestamp("2026-10-01 10:00", tz="UTC")


def test_timestamps_are_normalised_to_utc(tmp_path):
    accepted = validate_csv(tmp_path, "events", EVENTS_HEADER
                            + "e1,a1,u1,2026-10-01T10:00:00+02:00,login\n"
                            + "e2,a1,u1,2026-10-01 10:00:00,login\n").accepted
    assert list(accepted["event_time"]) == [pd.Timestamp("2026-10-01 08:00", tz="UTC"),
                                            pd.Timestamp("2026-10-01 10:00", tz="UTC")]


def test_every_timestamp_layout_reads_as_pandas_reads_it():
    """The fast path for common layouts gives pandas' ISO 8601 answer, impossible dates
    included (Arrow's strptime alone would roll Feb 30 over to Mar 2)."""
    values = pd.Series(["2026-01-05T10:00:00Z", "2026-01-05T10:00:00", "2026-01-05",
                        "2026-01-05 10:00:00", " 2026-01-05T10:00:00Z ", "2026-01-05T10:00:00.5Z",
                        "2026-01-05T10:00:00+02:00", "2026-01-05T23:30:00-05:00", "2024-02-29",
                        "2026-02-30", "2026-02-30T10:00:00Z", "2026-04-31 10:00:00",
                        "2026-13-01", "garbage", "", None])
    expected = [pd.to_datetime(v.strip(), utc=True, format="ISO8601", errors="coerce")
                if v and v.strip() else pd.NaT for v in values]
    assert to_utc(values).tolist() == expected
    assert to_utc(values).iloc[9:13].isna().all()


def test_unplaceable_events_get_reasons(tmp_path):
    text = (EVENTS_HEADER
            + "e1,a1,u1,,login\n"
            "e2,a1,u1,yesterday,login\n"
            "e3,a1,u1,2030-01-01T00:00:00Z,login\n"
            "e4,a1,u1,2020-01-01T00:00:00Z,login\n"
            "e5,a1,u1,2026-10-01T00:00:00Z,login\n")
    path = write(tmp_path, "events.csv", text)
    frame = read_table(path, "events", ContractMapping())
    times = pd.to_datetime(frame["event_time"], utc=True, errors="coerce", format="ISO8601")
    quarantine = unplaceable_events(frame, times, source_file="events.csv",
                                    pipeline_start=pd.Timestamp("2025-01-01", tz="UTC"), now=NOW)
    assert list(quarantine["record_id"]) == ["e1", "e2", "e3", "e4"]
    assert quarantine["reason"].tolist()[:3] == [
        "event_time is missing", "event_time 'yesterday' is not a valid timestamp",
        "event_time 2030-01-01 00:00:00+00:00 is in the future"]
    assert quarantine["reason"].iloc[3].startswith("event_time 2020-01-01 00:00:00+00:00 is "
                                                   "before the pipeline start 2025-01-01")


def test_column_and_value_mapping_adapts_a_foreign_export(tmp_path):
    text = ("id,customer,tier,monthly_revenue,start,billing\n"
            "s1,a1,pro,10,2025-01-01,semiannual\n")
    path = write(tmp_path, "subscriptions.csv", text)
    mapping = ContractMapping.model_validate({
        "columns": {"subscriptions": {"id": "subscription_id", "customer": "account_id",
                                      "tier": "plan", "monthly_revenue": "mrr",
                                      "start": "start_date", "billing": "billing_period"}},
        "values": {"subscriptions": {"plan": {"pro": "growth"}}},
    })
    result = check_table("subscriptions", read_table(path, "subscriptions", mapping),
                            source_file=path.name, now=NOW)
    assert result.quarantine.empty
    assert result.accepted.loc[0, "plan"] == "growth"
    assert result.accepted.loc[0, "billing_period"] == "semiannual"
    assert result.accepted.loc[0, "mrr"] == 10.0


def test_missing_mandatory_column_fails_the_whole_table(tmp_path):
    path = write(tmp_path, "subscriptions.csv", "subscription_id,account_id\ns1,a1\n")
    with pytest.raises(ContractError, match="missing mandatory column.*plan.*mapping.yaml"):
        read_table(path, "subscriptions", ContractMapping())


def test_parquet_and_csv_are_read_the_same(tmp_path):
    csv_path = write(tmp_path, "subscriptions.csv", SUBSCRIPTIONS_CSV)
    frame = read_table(csv_path, "subscriptions", ContractMapping())
    parquet_path = tmp_path / "subscriptions.parquet"
    frame.drop(columns="source_row").to_parquet(parquet_path)
    from_parquet = read_table(parquet_path, "subscriptions", ContractMapping())
    a = check_table("subscriptions", frame, source_file="x", now=NOW)
    b = check_table("subscriptions", from_parquet, source_file="x", now=NOW)
    pd.testing.assert_frame_equal(a.accepted, b.accepted, check_dtype=False)
    assert list(a.quarantine["reason"]) == list(b.quarantine["reason"])


def test_reason_kinds_group_rows_and_examples_cover_every_kind(tmp_path):
    from features.row_checks import reason_kind

    result = validate_subscriptions(tmp_path)
    kinds = reason_kind(result.quarantine["reason"])
    assert kinds.loc[kinds.str.startswith("mrr")].tolist() == ["mrr … is negative",
                                                               "mrr '…' is not a valid number"]
    assert "end_date … is before start_date …" in kinds.tolist()
    lines = describe_quarantine(result.quarantine, per_kind=1)
    assert len(lines) == len(set(kinds))  # one example of each kind


def test_csv_exports_are_read_as_text_with_only_empty_fields_missing(tmp_path):
    path = write(tmp_path, "accounts.csv",
                 "\ufeffaccount_id,segment,industry\n"
                 'a1,"SMB, EU",\n'
                 'a2,"multi\nline",NA\n'
                 'a3,"",null\n'
                 "a4, padded ,007\n")
    frame = read_table(path, "accounts", ContractMapping())
    assert list(frame.columns[:3]) == ["source_row", "account_id", "segment"]
    assert frame["segment"].tolist()[:2] == ["SMB, EU", "multi\nline"]
    assert frame["segment"].isna().tolist() == [False, False, True, False]
    # "NA", "null" and leading zeros are values, not missing or numbers
    assert frame["industry"].tolist()[1:] == ["NA", "null", "007"]
    assert frame["industry"].isna().tolist()[0]
    assert frame["segment"].iloc[3] == " padded "


def test_any_whole_number_of_months_is_a_billing_period(tmp_path):
    header = SUBSCRIPTIONS_CSV.splitlines()[0]
    rows = [f"s{i},a{i},growth,10,USD,2025-01-01,,{period},1,active,"
            for i, period in enumerate(["Monthly", "quarterly", "semiannual", "Semi-Annual",
                                        "annual", "yearly", "biennial", "18 months",
                                        "2 month", "0 months", "fortnightly"])]
    result = validate_csv(tmp_path, "subscriptions", "\n".join([header, *rows]) + "\n")
    assert result.accepted["billing_period"].tolist() == [
        "monthly", "quarterly", "semiannual", "semiannual", "annual", "annual", "biennial",
        "18 months", "2 months"]
    assert result.quarantine["record_id"].tolist() == ["s9", "s10"]


def test_descriptive_labels_never_quarantine_a_row(tmp_path):
    from features.row_checks import label_warnings

    accounts = validate_csv(tmp_path, "accounts", "account_id,segment,industry\n"
                            "a1,smb,retail\na2,appstore1,\na3,Mid Market,x\na4,web,\n"
                            "a5,appstore1,\n")
    assert accounts.quarantine.empty
    assert accounts.accepted["segment"].tolist() == ["SMB", "appstore1", "mid-market", "web",
                                                     "appstore1"]
    warnings = label_warnings("accounts", accounts.accepted)
    assert warnings[["value", "rows"]].values.tolist() == [["appstore1", 2], ["web", 1]]
    assert warnings["mapping_line"].iloc[0] == (
        'values: {accounts: {segment: {"appstore1": <SMB|mid-market|enterprise>}}}')
    tickets = validate_csv(tmp_path, "support_tickets", "ticket_id,account_id,opened_at,"
                           "priority\nt1,a1,2026-01-01,P1\nt2,a1,2026-01-01,HIGH\n")
    assert tickets.quarantine.empty
    assert tickets.accepted["priority"].tolist() == ["P1", "high"]


def test_values_the_pipeline_computes_with_still_quarantine(tmp_path):
    result = validate_csv(tmp_path, "invoices", "invoice_id,account_id,issued_at,amount,"
                          "status\ni1,a1,2026-01-01,10,Paid\ni2,a1,2026-01-01,10,void\n")
    assert result.accepted["status"].tolist() == ["paid"]
    assert result.quarantine["reason"].str.startswith("status 'void' is not one of").all()


def test_a_rejected_account_row_keeps_its_dependants(tmp_path):
    from features.row_checks import export_account_ids

    path = write(tmp_path, "accounts.csv", "account_id,segment,signup_date\n"
                 "a1,SMB,2025-01-01\na10,enterprise,not-a-date\n")
    accounts = read_table(path, "accounts", ContractMapping())
    assert check_table("accounts", accounts, source_file="accounts.csv",
                          now=NOW).quarantine["record_id"].tolist() == ["a10"]
    result = validate_subscriptions(tmp_path, known=export_account_ids(accounts))
    # a10's own row was rejected, but the account is in the export: its subscription stays
    assert "s10" in result.accepted["subscription_id"].tolist()
    unknown = result.quarantine[result.quarantine["reason"].str.contains("unknown account_id")]
    assert unknown["record_id"].tolist() == ["s2", "s3", "s4", "s5", "s6", "s7", "s9"]


def test_non_finite_numbers_are_quarantined_with_a_reason(tmp_path):
    subscriptions = ("subscription_id,account_id,plan,mrr,currency,start_date,end_date,"
                     "billing_period,seats,status,cancel_reason\n"
                     + "".join(f"s{i},a{i},growth,{mrr},USD,2025-01-01,,monthly,4,active,\n"
                               for i, mrr in enumerate(["100", "inf", "-inf", "1e400"])))
    result = validate_csv(tmp_path, "subscriptions", subscriptions)
    assert result.accepted["subscription_id"].tolist() == ["s0"]
    reasons = result.quarantine.set_index("record_id")["reason"]
    assert reasons["s1"] == "mrr 'inf' is not a finite number"
    assert reasons["s2"].startswith("mrr '-inf' is not a finite number")
    assert reasons["s3"].startswith("mrr '1e400' is not")
    invoices = validate_csv(tmp_path, "invoices", "invoice_id,account_id,issued_at,amount,"
                            "status\ni1,a1,2026-01-01,Infinity,paid\ni2,a1,2026-01-01,10,paid\n")
    assert invoices.accepted["invoice_id"].tolist() == ["i2"]
    assert invoices.quarantine["reason"].tolist() == ["amount 'Infinity' is not a finite number"]


def test_epoch_times_read_as_the_same_instants_as_their_iso_twins(tmp_path):
    iso = ["2026-10-01T08:00:00Z", "2026-10-02T09:30:15Z"]
    seconds = ["1790841600", "1790933415"]  # written by hand: 2026-10-01 08:00:00 UTC, ...
    milliseconds = ["1790841600000", "1790933415250"]
    frames = {}
    for name, times in (("iso", iso), ("s", seconds), ("ms", milliseconds)):
        rows = "".join(f"e{i},a1,u1,{t},login\n" for i, t in enumerate(times))
        frames[name] = validate_csv(tmp_path, "events", EVENTS_HEADER + rows).accepted
    assert frames["s"]["event_time"].tolist() == frames["iso"]["event_time"].tolist()
    assert frames["ms"]["event_time"].iloc[0] == frames["iso"]["event_time"].iloc[0]
    assert frames["ms"]["event_time"].iloc[1] == (frames["iso"]["event_time"].iloc[1]
                                                  + pd.Timedelta(milliseconds=250))
    # numbers in a Parquet export too; a compact ISO date is still a date
    assert to_utc(pd.Series([1790841600])).iloc[0] == frames["iso"]["event_time"].iloc[0]
    assert to_utc(pd.Series(["20261001"])).iloc[0] == pd.Timestamp("2026-10-01", tz="UTC")
