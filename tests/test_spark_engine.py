"""The spark engine (Spark in local[2] mode) stores what the local engine stores: the same
validated events and quarantine, rollups and snapshots, day by day."""

from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetSelection, DagsterInstance

from account_health.demo_data import generate_to_dir
from pipelines.run import run_pipeline
from tests.conftest import TINY, make_settings, storage_of

pytestmark = [pytest.mark.slow, pytest.mark.spark]

FEATURES = AssetSelection.groups("raw") | AssetSelection.assets(
    "event_vocabulary", "usage_rollup", "account_snapshot")
#: The rollups of the first run's days are kept, so the second run's snapshots read stored
#: rollups for most of their lookback and validated events for their own days.
FIRST_RUN, SECOND_RUN = ("2026-06-01", "2026-10-20"), ("2026-10-21", "2026-10-31")
#: A day whose export file is missing: both engines store it without rows.
MISSING_DAY = "2026-08-15"


def stored(settings, asset: str) -> dict[str, pd.DataFrame]:
    base = Path(settings.output_dir) / "assets" / asset
    return {p.stem: pd.read_parquet(p) for p in sorted(base.glob("*.parquet"))}


def build(data: Path, output: Path, monkeypatch, engine: str):
    monkeypatch.setenv("ACCOUNT_HEALTH_ENGINE", engine)
    monkeypatch.setenv("ACCOUNT_HEALTH_SPARK_MASTER", "local[2]")
    settings = make_settings(data, output)
    for first, last in (FIRST_RUN, SECOND_RUN):
        result = run_pipeline(settings, DagsterInstance.ephemeral(), first_day=first,
                              last_day=last, selection=FEATURES)
        assert result.success
    return settings


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """The feature pipeline over day files, run by each engine into its own output."""
    data = tmp_path_factory.mktemp("spark_days")
    generate_to_dir(data, TINY, events_by_day=True)
    (data / "events" / f"{MISSING_DAY}.parquet").unlink()
    with pytest.MonkeyPatch.context() as monkeypatch:
        local = build(data, tmp_path_factory.mktemp("local_engine"), monkeypatch, "local")
        spark = build(data, tmp_path_factory.mktemp("spark_engine"), monkeypatch, "spark")
    return local, spark


def assert_same_days(local, spark, asset: str, **tolerance) -> int:
    local_days, spark_days = stored(local, asset), stored(spark, asset)
    assert list(spark_days) == list(local_days)
    for day, frame in local_days.items():
        pd.testing.assert_frame_equal(spark_days[day], frame, obj=f"{asset} {day}", **tolerance)
    return sum(len(frame) for frame in local_days.values())


def test_snapshots_equal_day_by_day(engines):
    rows = assert_same_days(*engines, "account_snapshot", check_exact=False, rtol=0, atol=1e-9)
    assert rows > 1000


def test_validated_events_and_rollups_equal(engines):
    assert assert_same_days(*engines, "events") > 10_000
    assert assert_same_days(*engines, "usage_rollup") > 1000
    _, spark = engines
    for asset in ("events", "events_quarantine", "usage_rollup"):
        assert stored(spark, asset)[MISSING_DAY].empty


def test_unreadable_day_file_fails_with_the_local_message(engines, tmp_path):
    from pyspark.sql import SparkSession

    from features.contract import ContractError, read_table
    from features.spark_ingestion import check_event_days_on_spark

    settings, _ = engines
    broken = tmp_path / "events" / "2026-10-31.parquet"
    broken.parent.mkdir()
    broken.write_bytes(b"not parquet")
    with pytest.raises(ContractError) as local:
        read_table(broken, "events", settings.mapping())
    day = pd.Timestamp("2026-10-31")
    with pytest.raises(ContractError) as spark:
        check_event_days_on_spark(
            SparkSession.getActiveSession(), pd.DatetimeIndex([day]), {day: str(broken)},
            directory_name="events", mapping=settings.mapping(),
            pipeline_start=settings.data.start_timestamp(), now=settings.data.current_time(),
            known_accounts=None, events_dir=tmp_path / "out", quarantine_dir=tmp_path / "q")
    assert str(spark.value) == str(local.value)


def test_quarantine_same_rows_and_reasons(engines):
    local, spark = engines
    quarantined = assert_same_days(local, spark, "events_quarantine")
    # the demo's dirty rows: duplicates, unknown accounts and missing times
    reasons = pd.concat(stored(spark, "events_quarantine").values())["reason"]
    assert quarantined == len(reasons) > 0
    assert reasons.str.contains("duplicate event_id").any()
    assert reasons.str.contains("unknown account_id").any()


def test_spark_engine_ran_on_spark(engines):
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    assert session is not None and session.sparkContext.master == "local[2]"
    # ingestion, rollup and snapshot jobs of both runs
    assert len(session.sparkContext.statusTracker().getJobIdsForGroup()) >= 6


@pytest.fixture(scope="module")
def feast_stores(engines, tmp_path_factory):
    """The local snapshot files applied to a DuckDB-backed store and a Spark-backed one."""
    from feature_repo.store import LOCAL_CONFIG, SPARK_CONFIG, apply_definitions, open_store
    from features.snapshot import feature_groups_for
    from pipelines.engine import ComputeEngine

    local, _ = engines
    ComputeEngine(name="spark", spark_master="local[2]").spark_session()
    groups = feature_groups_for({"events", "subscriptions", "accounts", "invoices",
                                 "support_tickets", "nps_responses"})
    stores = {}
    for name, config in (("duckdb", LOCAL_CONFIG), ("spark", SPARK_CONFIG)):
        store = open_store(tmp_path_factory.mktemp(f"feast_{name}"), config)
        apply_definitions(
            store, str(storage_of(local).partition_dir("account_snapshot") / "*.parquet"), groups)
        stores[name] = store
    return local, stores


def test_training_set_from_spark_offline_store_equals_local(feast_stores):
    from feature_repo.definitions import CHURN_FEATURE_SERVICE
    from features.training_set import build_training_set, label_rows

    settings, stores = feast_stores
    labels = label_rows(pd.read_parquet(storage_of(settings).asset_file("subscriptions")),
                        pd.date_range("2026-09-06", "2026-10-31", freq="7D"),
                        horizon_days=30, observed_until=pd.Timestamp("2026-10-31"))
    local, spark = (build_training_set(stores[name], labels,
                                       feature_service=CHURN_FEATURE_SERVICE)
                    for name in ("duckdb", "spark"))
    assert len(local) == len(labels) > 200
    assert local["events_30d"].notna().all()
    pd.testing.assert_frame_equal(spark, local, check_exact=False, rtol=0, atol=1e-9)


def test_spark_materialisation_serves_the_latest_day(feast_stores):
    from feature_repo.definitions import CHURN_FEATURE_SERVICE
    from feature_repo.online_write import materialize_day, uses_spark_materialisation

    settings, stores = feast_stores
    store = stores["spark"]
    assert uses_spark_materialisation(store)
    day = pd.read_parquet(storage_of(settings).asset_file("account_snapshot", SECOND_RUN[1]))
    assert materialize_day(store, day) > 0
    online = store.get_online_features(
        features=store.get_feature_service(CHURN_FEATURE_SERVICE),
        entity_rows=[{"account_id": a} for a in day["account_id"]]).to_df()
    columns = ["mrr", "seats", "events_30d", "days_to_renewal"]
    pd.testing.assert_frame_equal(online.set_index("account_id")[columns].astype(float),
                                  day.set_index("account_id")[columns].astype(float))
