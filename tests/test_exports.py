"""Day exports as CSV: every row and value back when read, times as ISO text."""

import pandas as pd

from pipelines.exports import write_csv


def test_a_csv_export_reads_back_the_same_rows(tmp_path):
    table = pd.DataFrame({
        "account_id": ["acc_1", "acc,2", 'say "hi"'],
        "churn_probability": [0.125, None, 1e-07],
        "holdout": [True, False, True],
        "as_of": pd.to_datetime(["2026-10-31"] * 3).date,
        "feature_snapshot_timestamp": pd.to_datetime(["2026-11-01"] * 3, utc=True),
        "opened_at": pd.to_datetime(["2026-11-01 08:00:00.250"] * 3, utc=True),
    })
    path = tmp_path / "day.csv"
    write_csv(table, path)
    back = pd.read_csv(path)
    assert back["account_id"].tolist() == table["account_id"].tolist()
    assert back["holdout"].tolist() == [True, False, True]
    pd.testing.assert_series_equal(back["churn_probability"], table["churn_probability"])
    assert back["as_of"].tolist() == ["2026-10-31"] * 3
    assert back["feature_snapshot_timestamp"].tolist() == ["2026-11-01 00:00:00Z"] * 3
    assert (pd.to_datetime(back["opened_at"]) == table["opened_at"]).all()  # fractions kept


def test_a_column_of_mixed_kinds_is_still_written(tmp_path):
    table = pd.DataFrame({"value": [1, "two", 3.5]})
    write_csv(table, tmp_path / "mixed.csv")
    assert pd.read_csv(tmp_path / "mixed.csv")["value"].astype(str).tolist() == [
        "1", "two", "3.5"]
