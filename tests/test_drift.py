"""Feature drift: PSI by hand, quiet on a resample, loud on planted shifts."""

import numpy as np
import pandas as pd
import pytest

from models.analysis.drift import (
    DriftThresholds,
    feature_drift,
    ks_statistic,
    population_stability_index,
    psi_from_shares,
)


def test_psi_by_hand():
    # (0.25 - 0.5) ln(0.25/0.5) + (0.75 - 0.5) ln(0.75/0.5) = 0.25 (ln 2 + ln 1.5)
    assert psi_from_shares([0.5, 0.5], [0.25, 0.75]) == pytest.approx(
        0.25 * (np.log(2) + np.log(1.5)))
    assert psi_from_shares([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0


def test_an_empty_bin_gives_a_large_finite_psi():
    psi = psi_from_shares([0.5, 0.5, 0.0], [0.4, 0.4, 0.2])
    assert np.isfinite(psi) and psi > 1


def frames(seed: int = 0, n: int = 4000):
    rng = np.random.default_rng(seed)
    def sample(shift: float = 0.0, enterprise_share: float = 0.2, missing: float = 0.05):
        usage = rng.normal(10 + shift, 3, n)
        usage[rng.random(n) < missing] = np.nan
        return pd.DataFrame({
            "events_30d": usage,
            "seats": rng.poisson(12, n),
            "segment": np.where(rng.random(n) < enterprise_share, "enterprise", "SMB"),
        })
    return sample


FEATURES = ["events_30d", "seats", "segment"]


def test_a_resample_of_the_same_population_is_quiet():
    sample = frames()
    table = feature_drift(sample(), sample(), FEATURES)
    assert not table["drifted"].any()
    assert table["psi"].max() < 0.05
    assert table["ks_statistic"].max() < 0.05


def test_a_planted_shift_in_a_numeric_feature_is_flagged():
    sample = frames()
    table = feature_drift(sample(), sample(shift=3.0), FEATURES).set_index("feature")
    assert table.loc["events_30d", "drifted"]
    assert table.loc["events_30d", "psi"] > 0.25 and table.loc["events_30d", "ks_statistic"] > 0.3
    assert not table.loc[["seats", "segment"], "drifted"].any()
    assert table.index[0] == "events_30d"  # largest PSI first


def test_a_planted_shift_in_a_category_mix_is_flagged():
    sample = frames()
    table = feature_drift(sample(), sample(enterprise_share=0.6), FEATURES).set_index("feature")
    assert table.loc["segment", "drifted"] and np.isnan(table.loc["segment", "ks_statistic"])
    assert table.loc["segment", "kind"] == "categorical"


def test_a_jump_in_missing_values_is_drift():
    sample = frames()
    table = feature_drift(sample(), sample(missing=0.5), FEATURES).set_index("feature")
    assert table.loc["events_30d", "drifted"]
    assert table.loc["events_30d", "missing_current"] == pytest.approx(0.5, abs=0.03)


def test_unseen_categories_count_as_drift():
    reference = pd.Series(["a", "b"] * 500)
    current = pd.Series(["a", "b", "c", "c"] * 250)
    assert population_stability_index(reference, current) > 0.25


def test_thresholds_are_configurable():
    sample = frames()
    reference, current = sample(), sample(shift=0.5)
    assert not feature_drift(reference, current, FEATURES)["drifted"].any()
    strict = DriftThresholds(psi=0.01, ks=0.02)
    assert feature_drift(reference, current, FEATURES, thresholds=strict).set_index(
        "feature").loc["events_30d", "drifted"]


def test_an_exempt_feature_is_measured_but_never_drifted():
    sample = frames()
    table = feature_drift(sample(), sample(shift=3.0), FEATURES,
                          exempt=("events_30d",)).set_index("feature")
    assert table.loc["events_30d", "psi"] > 0.25
    assert table.loc["events_30d", "exempt"] and not table.loc["events_30d", "drifted"]


def test_a_sampled_reference_measures_what_the_whole_one_does():
    sample = frames(n=20000)
    reference, today = sample(), sample(shift=1.0)
    whole = feature_drift(reference, today, FEATURES).set_index("feature")
    sampled = feature_drift(reference, today, FEATURES,
                            max_reference_rows=5000).set_index("feature")
    assert sampled["psi"].to_numpy() == pytest.approx(whole["psi"].to_numpy(), abs=0.02)
    assert sampled["ks_statistic"].dropna().to_numpy() == pytest.approx(
        whole["ks_statistic"].dropna().to_numpy(), abs=0.02)
    assert (sampled["drifted"] == whole["drifted"]).all()
    # and it is a sample: a tiny one measures differently
    tiny = feature_drift(reference, today, FEATURES, max_reference_rows=20).set_index("feature")
    assert not np.allclose(tiny["psi"].to_numpy(), whole["psi"].to_numpy(), atol=0.02)


def test_ks_statistic_by_hand_and_as_scipy_computes_it():
    from scipy import stats

    # ECDFs of [1, 2, 3] and [2, 3, 4] differ by 1/3 from 1 to 4
    assert ks_statistic(np.array([1.0, 2, 3]), np.array([2.0, 3, 4])) == pytest.approx(1 / 3)
    rng = np.random.default_rng(3)
    reference, current = rng.poisson(4, 500).astype(float), rng.poisson(5, 700).astype(float)
    assert ks_statistic(reference, current) == stats.ks_2samp(reference, current).statistic
