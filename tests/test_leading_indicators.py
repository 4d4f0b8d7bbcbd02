"""Leading indicators: lead-time outcomes, AUC with account-bootstrap intervals, correlations,
collinear groups and data-driven health weights, by hand on small fixtures and on the demo."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from account_health.demo_data import PLANTED_DRIVERS, PLANTED_EXPANSION_DRIVERS
from models.analysis.leading_indicators import (
    auc_with_interval,
    bootstrap_weights,
    collinear_groups,
    indicator_table,
    lead_outcomes,
    univariate_association,
)
from models.churn.baselines import CorrelationWeightedHealthBaseline, correlation_weights
from models.metrics import weighted_auc


def test_lead_outcomes_by_hand():
    # churn on day 10, day 45, day 80, never (followed 200 days), never (followed 50 days)
    days = np.array([10, 45, 80, np.nan, np.nan])
    followed = np.array([10, 45, 80, 200, 50])
    outcomes = lead_outcomes(days, followed, leads=(30, 60, 90), window_days=30)
    np.testing.assert_array_equal(outcomes[30], [1, 0, 0, 0, 0])
    # day 10 churned before the (30, 60] window: no longer at risk, left out
    np.testing.assert_array_equal(outcomes[60], [np.nan, 1, 0, 0, np.nan])
    np.testing.assert_array_equal(outcomes[90], [np.nan, np.nan, 1, 0, np.nan])


def test_weighted_auc_matches_sklearn_and_repeated_rows():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 5, 200).astype(float)  # many ties
    outcome = (rng.random(200) < 0.2 + 0.1 * values).astype(float)
    assert weighted_auc(values, outcome, np.ones((1, 200)))[0] == pytest.approx(
        roc_auc_score(outcome, values))
    counts = rng.integers(0, 3, 200)
    repeated = np.repeat(np.arange(200), counts)
    assert weighted_auc(values, outcome, counts[None, :].astype(float))[0] == pytest.approx(
        roc_auc_score(outcome[repeated], values[repeated]))


def test_auc_interval_resamples_accounts():
    rng = np.random.default_rng(1)
    accounts = np.repeat(np.arange(300), 4)
    signal = np.repeat(rng.normal(size=300), 4)
    outcome = (rng.random(1200) < 1 / (1 + np.exp(-2 * signal))).astype(float)
    weights = bootstrap_weights(accounts, n_boot=300, seed=3)
    # an account's rows are drawn together, and every replicate draws 300 accounts
    assert (weights.reshape(300, 300, 4) == weights.reshape(300, 300, 4)[:, :, :1]).all()
    np.testing.assert_array_equal(weights.sum(axis=1), 1200)
    auc, low, high = auc_with_interval(signal, outcome, weights)
    assert low < auc < high
    assert auc == pytest.approx(roc_auc_score(outcome, signal))
    again = auc_with_interval(signal, outcome, bootstrap_weights(accounts, n_boot=300, seed=3))
    assert again == (auc, low, high)
    # treating an account's four rows as independent rows narrows the interval
    _, row_low, row_high = auc_with_interval(
        signal, outcome, bootstrap_weights(np.arange(1200), n_boot=300, seed=3))
    assert high - low > row_high - row_low


def test_univariate_association_by_hand():
    values = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    outcome = np.array([0.0, 0.0, 1.0, 1.0, 1.0])
    figures = univariate_association(values, outcome, bootstrap_weights(np.arange(5)))
    assert figures["rows"] == 4 and figures["events"] == 2
    assert figures["auc"] == 1.0
    assert figures["point_biserial"] == pytest.approx(np.corrcoef([1, 2, 3, 4], [0, 0, 1, 1])[0, 1])
    assert figures["spearman"] == pytest.approx(figures["point_biserial"])  # ranks = values
    none = univariate_association(values, np.zeros(5), bootstrap_weights(np.arange(5)))
    assert np.isnan(none["auc"]) and none["events"] == 0


def test_indicator_table_ranks_the_real_signal_first_in_every_scope():
    rng = np.random.default_rng(2)
    n = 1200
    frame = pd.DataFrame({"account_id": np.arange(n), "segment": rng.choice(["A", "B"], n),
                          "signal": rng.normal(size=n), "noise": rng.normal(size=n)})
    days = np.where(rng.random(n) < 1 / (1 + np.exp(-(2 * frame["signal"] - 2))),
                    rng.integers(1, 90, n), np.nan)
    outcomes = {"churn": lead_outcomes(days, np.full(n, 120.0))}
    table = indicator_table(frame, ["signal", "noise"], outcomes, n_boot=50)
    assert len(table) == 3 * 3 * 2  # leads × (all, A, B) × features
    first = table[table["rank"] == 1]
    assert set(first["feature"]) == {"signal"}
    assert first["direction"].eq("higher means more likely").all()
    assert table.loc[table["feature"] == "signal", "interval_excludes_chance"].all()


def test_indicator_table_is_the_same_in_parallel_processes(monkeypatch):
    import models.parallel

    rng = np.random.default_rng(3)
    n = 600
    frame = pd.DataFrame({"account_id": rng.integers(0, 150, n),
                          "segment": rng.choice(["A", "B"], n),
                          "signal": rng.normal(size=n), "noise": rng.normal(size=n)})
    days = np.where(rng.random(n) < 0.2, rng.integers(1, 90, n), np.nan)
    outcomes = {"churn": lead_outcomes(days, np.full(n, 120.0))}
    serial = indicator_table(frame, ["signal", "noise"], outcomes, n_boot=30)
    monkeypatch.setattr(models.parallel, "PARALLEL_MIN_CELLS", 0)
    parallel = indicator_table(frame, ["signal", "noise"], outcomes, n_boot=30)
    pd.testing.assert_frame_equal(parallel, serial)


def test_collinear_groups_and_vif():
    rng = np.random.default_rng(4)
    x = rng.normal(size=500)
    frame = pd.DataFrame({"a": x, "b": 2 * x + rng.normal(0, 0.05, 500),
                          "c": -x + rng.normal(0, 0.05, 500), "d": rng.normal(size=500)})
    groups = collinear_groups(frame, ["a", "b", "c", "d"]).set_index("feature")
    assert groups.loc["a", "collinear_group"] == groups.loc["b", "collinear_group"] \
        == groups.loc["c", "collinear_group"] != groups.loc["d", "collinear_group"]
    assert (groups.loc[["a", "b", "c"], "vif"] > 10).all()
    assert 1 <= groups.loc["d", "vif"] < 1.5


def test_correlation_weights_follow_the_separating_component():
    rng = np.random.default_rng(5)
    n = 2000
    frame = pd.DataFrame({"active_users_per_seat": rng.uniform(0, 1, n),
                          "core_feature_breadth_30d": rng.uniform(0, 1, n),
                          "days_since_last_login": rng.integers(0, 40, n)})
    churn = (rng.random(n) < 0.6 - 0.5 * frame["active_users_per_seat"]).astype(int)
    weights = correlation_weights(frame, churn)
    assert set(weights) == {"usage", "engagement", "recency"}
    assert sum(weights.values()) == pytest.approx(1.0)
    assert weights["usage"] > 0.7
    risk = CorrelationWeightedHealthBaseline().fit(frame, churn).predict_proba(frame)
    assert roc_auc_score(churn, risk) > 0.6


@pytest.fixture(scope="module")
def demo_indicators():
    from features.expansion_events import expansion_events
    from models.analysis.leading_indicators import churn_outcomes, expansion_outcomes
    from models.inputs import feature_columns
    from tests.conftest import demo_tables, labelled_snapshots
    from tests.test_models import MODEL_DEMO

    tables = demo_tables(MODEL_DEMO)
    training = labelled_snapshots(MODEL_DEMO, tables=tables)
    # the features the drivers are planted through; the per-event-name features (event_k_*)
    # restate the same usage in the demo's event names and would crowd the top ranks
    numeric = [c for c in feature_columns(training)
               if pd.api.types.is_numeric_dtype(training[c]) and not c.startswith("event_")]
    outcomes = {"churn": churn_outcomes(training),
                "expansion": expansion_outcomes(training,
                                                expansion_events(tables["subscriptions"]),
                                                observed_until=pd.Timestamp(
                                                    MODEL_DEMO.end_date))}
    return indicator_table(training, numeric, outcomes, segment_column=None, n_boot=50)


def _planted_in_top(table: pd.DataFrame, drivers: dict, top: int = 10) -> list[str]:
    """Planted drivers with a feature among the ``top`` signals whose interval excludes
    chance."""
    best = table.nsmallest(top, "rank")
    strong = set(best.loc[best["interval_excludes_chance"], "feature"])
    return [name for name, driver in drivers.items()
            if driver["coefficient"] and set(driver["features"]) & strong]


@pytest.mark.parametrize("lead", [30, 60, 90])
def test_planted_churn_drivers_lead_on_the_demo(demo_indicators, lead):
    table = demo_indicators[(demo_indicators["lead_days"] == lead)
                            & (demo_indicators["outcome"] == "churn")]
    leading = _planted_in_top(table, PLANTED_DRIVERS)
    # usage decline, shallow adoption and detractor NPS lead by 90 days; tickets and failed
    # payments are rarer in 800 accounts
    assert len(leading) >= 3, table.nsmallest(10, "rank")[["feature", "auc", "auc_low",
                                                            "auc_high"]]


@pytest.mark.parametrize("lead", [30, 60, 90])
def test_planted_expansion_drivers_lead_on_the_demo(demo_indicators, lead):
    table = demo_indicators[(demo_indicators["lead_days"] == lead)
                            & (demo_indicators["outcome"] == "expansion")]
    leading = _planted_in_top(table, PLANTED_EXPANSION_DRIVERS)
    assert {"deep_core_adoption", "engaged_team"} <= set(leading), table.nsmallest(
        10, "rank")[["feature", "auc", "auc_low", "auc_high"]]
