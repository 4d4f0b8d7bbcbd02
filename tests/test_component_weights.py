"""Component weights learned from the data: the predictive component weighs more, judged
walk-forward against the configured weights, and written into the scoring YAML on request."""

import numpy as np
import pandas as pd
import yaml

from models.scoring.component_weights import fit_component_weights, with_weights
from models.scoring.components import Component, Signal
from models.scoring.config import ScoringConfig
from models.walk_forward import Fold

COMPONENTS = {"usage": Component(weight=0.2, signals={"usage_level": Signal(
    weight=1, green=1.0, red=0.0)}),
              "noise": Component(weight=0.8, signals={"noise_level": Signal(
                  weight=1, green=1.0, red=0.0)})}
DATES = pd.date_range("2026-01-04", periods=8, freq="7D")


def training(seed: int = 0) -> pd.DataFrame:
    """400 accounts a date: churn is likelier the lower their usage; noise says nothing."""
    rng = np.random.default_rng(seed)
    frames = []
    for date in DATES:
        usage = rng.uniform(0, 1, 400)
        frames.append(pd.DataFrame({
            "account_id": [f"a{i}" for i in range(400)], "as_of_date": date,
            "usage_level": usage, "noise_level": rng.uniform(0, 1, 400),
            "churned_within_horizon": (rng.uniform(0, 1, 400) < 0.4 * (1 - usage)).astype(int),
            "label_complete": True}))
    return pd.concat(frames, ignore_index=True)


def folds() -> list[Fold]:
    return [Fold(number=k, origin=DATES[k], train_dates=DATES[:k]) for k in (5, 6, 7)]


def test_the_predictive_component_gets_the_weight_and_the_composite_ranks_better():
    fit = fit_component_weights(training(), COMPONENTS, folds())
    assert fit.current == {"usage": 0.2, "noise": 0.8}
    assert fit.learned["usage"] > 0.8 and fit.learned["noise"] < 0.2
    assert abs(sum(fit.learned.values()) - 1) < 1e-9
    assert fit.auc_learned > fit.auc_current + 0.05
    assert fit.test_rows == 3 * 400 and fit.accounts == 400
    assert 0 < fit.accounts_changing_band <= 400
    table = fit.table().set_index("component")
    assert table.loc["usage", "learned_weight"] == round(fit.learned["usage"], 3)


def test_learned_weights_go_into_the_yaml_keeping_everything_else():
    config = {"n_reasons": 2, "components": {"usage": {"weight": 0.2, "signals": {
        "usage_level": {"weight": 1, "green": 1.0, "red": 0.0}}}}}
    updated = with_weights(config, {"usage": 0.9, "noise": 0.0}, COMPONENTS)
    assert updated["n_reasons"] == 2 and updated["components"]["usage"]["weight"] == 0.9
    # a component the YAML did not list is written whole; a zero weight is (almost) off
    assert updated["components"]["noise"]["signals"]["noise_level"]["green"] == 1.0
    loaded = ScoringConfig.model_validate(yaml.safe_load(yaml.safe_dump(updated)))
    assert loaded.components["noise"].weight == 0.0001
    assert config["components"]["usage"]["weight"] == 0.2  # the input is left alone


def test_the_weights_command_writes_beside_the_data(tmp_path, monkeypatch, capsys):
    from account_health.cli import main
    from pipelines.environment import read_environment
    from pipelines.resources import settings_from
    from tests.conftest import storage_of

    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    monkeypatch.setenv("ACCOUNT_HEALTH_DATA_DIR", str(data))
    monkeypatch.setenv("ACCOUNT_HEALTH_OUTPUT_DIR", str(out))
    monkeypatch.delenv("ACCOUNT_HEALTH_SCORING_CONFIG", raising=False)
    settings = settings_from(read_environment())
    learned = {"product_usage": 0.4, "engagement": 0.3, "support": 0.1, "billing": 0.2,
               "growth": 0.0}
    table = pd.DataFrame({"component": list(learned), "current_weight": 0.2,
                          "learned_weight": list(learned.values()),
                          "walk_forward_auc_current": 0.70,
                          "walk_forward_auc_learned": 0.72, "accounts_changing_band": 12,
                          "accounts": 100})
    path = storage_of(settings).asset_file("component_weights")
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(path)
    main(["weights"])
    assert "0.720 learned against 0.700 configured; 12 of 100" in capsys.readouterr().out
    assert not (data / "scoring.yaml").exists()
    main(["weights", "--apply"])
    assert (data / "scoring.yaml").exists()
    weights = {name: c.weight for name, c in settings.scoring_config().components.items()}
    assert weights == {**learned, "growth": 0.0001}
