"""Signals measured on the walk-forward test dates: precision against the base rate, lead
time, and a signal without lift switched off unless its rule says otherwise."""

import pandas as pd

from models.alerts.signal_quality import (
    EARNS_ITS_PLACE,
    NO_LIFT,
    NOT_MEASURED,
    UNPROVEN,
    signal_quality,
    signals_switched_on,
)
from models.alerts.signals import SignalRule
from models.scoring.playbook import Bounds
from models.walk_forward import Fold

ORIGINS = pd.to_datetime(["2026-03-01", "2026-04-01", "2026-05-01"])
TRAIN_DATE = pd.Timestamp("2026-01-01")


def rule(name: str, column: str, **kwargs) -> SignalRule:
    return SignalRule(name=name, severity="high", when={column: Bounds(min=1)},
                      message="{account_id}", **kwargs)


RULES = [rule("strong", "strong_flag"), rule("useless", "useless_flag"),
         rule("thin", "thin_flag"), rule("absent", "no_such_column")]


def history() -> pd.DataFrame:
    """100 accounts on each test date, accounts 0-9 churn (10 %, churning index + 5 days
    later); on the training date the useless flag would look perfect."""
    frames = []
    for date in [TRAIN_DATE, *ORIGINS]:
        account = pd.Series(range(100))
        churned = account < 10
        useless = (account == 0) | account.between(10, 18)
        if date == TRAIN_DATE:
            useless = churned
        frames.append(pd.DataFrame({
            "account_id": account.map("a{}".format), "as_of_date": date,
            "churned_within_horizon": churned.astype(int), "label_complete": True,
            "duration_days": account + 5,
            "strong_flag": (account < 15).astype(int),
            "useless_flag": useless.astype(int),
            "thin_flag": (account.isin([0, 1]) | account.between(20, 27)).astype(int)}))
    # a row whose label is not known yet is left out, whatever it says
    frames.append(frames[-1].head(1).assign(account_id="late", label_complete=False,
                                            churned_within_horizon=0))
    return pd.concat(frames, ignore_index=True)


def folds() -> list[Fold]:
    return [Fold(number=i, origin=o, train_dates=pd.DatetimeIndex([TRAIN_DATE]))
            for i, o in enumerate(ORIGINS)]


def test_precision_lift_and_lead_time_come_from_the_test_dates_only():
    table = signal_quality(history(), RULES, folds()).set_index("signal")
    strong = table.loc["strong"]
    assert (strong["alerted"], strong["churned"]) == (45, 30)
    assert strong["precision"] == 30 / 45 and strong["base_rate"] == 0.1
    assert strong["lift"] == (30 / 45) / 0.1
    assert strong["median_lead_days"] == 9.5   # churners 0-9 churn 5-14 days later
    assert (table.loc["useless", "alerted"], table.loc["useless", "churned"]) == (30, 3)


def test_verdicts_and_which_signals_stay_on():
    table = signal_quality(history(), RULES, folds()).set_index("signal")
    assert table["verdict"].to_dict() == {"strong": EARNS_ITS_PLACE, "useless": NO_LIFT,
                                          "thin": UNPROVEN, "absent": NOT_MEASURED}
    assert table["on"].to_dict() == {"strong": True, "useless": False, "thin": True,
                                     "absent": True}
    on = [r.name for r in signals_switched_on(RULES, table.reset_index())]
    assert on == ["strong", "thin", "absent"]


def test_a_rule_set_on_or_off_overrides_the_history():
    rules = [rule("useless", "useless_flag", enabled=True),
             rule("strong", "strong_flag", enabled=False)]
    table = signal_quality(history(), rules, folds())
    assert table.set_index("signal")["on"].to_dict() == {"useless": True, "strong": False}
    assert [r.name for r in signals_switched_on(rules, table)] == ["useless"]
    # before anything was measured every rule is on unless it says otherwise
    assert [r.name for r in signals_switched_on(rules, None)] == ["useless"]
    assert [r.name for r in signals_switched_on(RULES, None)] == [r.name for r in RULES]
