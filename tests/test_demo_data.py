"""The demo generator: seeded, contract-valid, and with its churn drivers recorded."""

import json
from dataclasses import replace

import pandas as pd

from account_health.demo_data import DemoConfig, generate, generate_to_dir
from features.billing import days_to_renewal
from features.contract import CONTRACT
from features.labels import active_periods
from features.row_checks import check_table
from features.snapshot import FEATURE_GROUPS
from tests.conftest import NOW, TINY


def test_same_seed_same_data_other_seed_other_data():
    first, again = generate(TINY), generate(TINY)
    other = generate(replace(TINY, seed=TINY.seed + 1))
    for table in first:
        pd.testing.assert_frame_equal(first[table], again[table])
    assert not first["events"]["event_id"].equals(other["events"]["event_id"])


def test_clean_demo_data_passes_the_contract_entirely():
    tables = generate(replace(TINY, dirty_fraction=0.0))
    for table, frame in tables.items():
        frame = frame.copy()
        frame.insert(0, "source_row", range(1, len(frame) + 1))
        result = check_table(table, frame, source_file=table, now=pd.Timestamp(NOW, tz="UTC"))
        assert result.quarantine.empty, (table, result.quarantine["reason"].head().tolist())
        assert len(result.accepted) == len(frame)


def test_dirty_rows_are_the_kinds_real_exports_have():
    tables = generate(TINY)
    events = tables["events"]
    assert events["event_id"].duplicated().any()
    assert events["event_time"].isna().any()
    assert (events["account_id"] == "acc_unknown").any()


def test_all_contract_tables_and_planted_drivers_are_written(tmp_path):
    counts = generate_to_dir(tmp_path, TINY)
    assert set(counts) == set(CONTRACT)
    drivers = json.loads((tmp_path / "planted_drivers.json").read_text())["drivers"]
    known_features = {f for group in FEATURE_GROUPS.values() for f in group}
    for name, driver in drivers.items():
        assert set(driver["features"]) <= known_features, name


def test_churn_happens_on_a_renewal_date():
    subs = generate(replace(TINY, accounts=200, dirty_fraction=0.0))["subscriptions"]
    subs = subs.assign(start_date=pd.to_datetime(subs["start_date"]),
                       end_date=pd.to_datetime(subs["end_date"]))
    periods = active_periods(subs)
    churned = periods.dropna(subset=["period_end"])
    assert len(churned) > 5
    last_sub = (subs.sort_values("start_date").groupby("account_id").last()
                .loc[churned["account_id"]])
    day_before = churned["period_end"].to_numpy() - pd.Timedelta(days=1)
    to_renewal = days_to_renewal(last_sub["start_date"], last_sub["billing_period"],
                                 pd.Series(day_before))
    assert (to_renewal == 1).all()


def test_demo_scales_with_accounts_and_months():
    small = generate(DemoConfig(accounts=20, months=3, seed=1, end_date=TINY.end_date))
    assert small["accounts"].shape[0] == 20
    times = small["events"]["event_time"].dropna()
    assert times.min() >= pd.Timestamp("2026-08-01", tz="UTC")


def test_cli_writes_the_requested_demo(tmp_path, capsys):
    from account_health.cli import main

    main(["demo", "--accounts", "15", "--months", "2", "--end-date", "2026-10-31",
          "--out", str(tmp_path)])
    assert pd.read_csv(tmp_path / "accounts.csv").shape[0] == 15
    assert "events" in capsys.readouterr().out


def test_demo_data_is_reused_only_when_the_same_generator_wrote_it(tmp_path):
    import json

    from account_health.run import ensure_demo_data

    config = replace(TINY, accounts=40, months=3)
    assert ensure_demo_data(tmp_path, config)
    assert not ensure_demo_data(tmp_path, config)
    marker = tmp_path / "demo_config.json"
    older = json.loads(marker.read_text())
    older["generator"] -= 1
    marker.write_text(json.dumps(older))
    assert ensure_demo_data(tmp_path, config)
    assert (tmp_path / "cs_activities.csv").exists()



def test_routine_touches_fade_before_a_churn():
    """Routine CSM touches (no flag) are planted to thin out in the 60 days before an account
    leaves: churners that were customers for the 120 days before leaving have fewer touches
    in the last 60 than in the 60 before; larger accounts hold QBRs."""
    tables = generate(replace(TINY, accounts=1500, months=12))
    activities = tables["cs_activities"]
    routine = activities[activities["flagged_at"].isna()]
    assert {"qbr", "check_in"} <= set(routine["action_type"])
    subscriptions = tables["subscriptions"]
    churn = pd.to_datetime(subscriptions.loc[subscriptions["status"] == "canceled"]
                           .groupby("account_id")["end_date"].max())
    signup = pd.to_datetime(tables["accounts"].set_index("account_id")["signup_date"])
    window_start = pd.Timestamp(TINY.end_date) - pd.DateOffset(months=12)
    churn = churn[(churn - pd.Timedelta(days=120) > signup.reindex(churn.index))
                  & (churn - pd.Timedelta(days=120) > window_start)]
    assert len(churn) > 30
    routine = routine[routine["account_id"].isin(churn.index)]
    performed = pd.to_datetime(routine["performed_at"]).dt.tz_localize(None)
    days_before = (routine["account_id"].map(churn) - performed).dt.days
    last_60, previous_60 = (days_before < 60).sum(), days_before.between(60, 119).sum()
    assert last_60 < 0.55 * previous_60  # 0.4 as planted; about 0.67 from declines alone
