"""The playbook: which action, owner and SLA an account gets, from configurable rules."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, Field

from features.contract import label_key

DEFAULT_PLAYBOOK = Path(__file__).with_name("playbook.yaml")
HOLDOUT_RULE = "holdout"
HOLDOUT_ACTION_TEXT = ("Hold out: no outreach (control group); record a holdout activity in "
                       "the CS platform")


class Bounds(BaseModel):
    """Inclusive bounds on one value; an absent bound does not constrain."""

    min: float | None = None
    max: float | None = None


def within_bounds(frame: pd.DataFrame, bounds: dict[str, Bounds]) -> np.ndarray:
    """Whether each row's values lie within every bound. A missing value, or a column the
    frame does not have (a feature of a table the export lacks), matches no bound."""
    match = np.ones(len(frame), dtype=bool)
    for column, bound in bounds.items():
        if column not in frame:
            return np.zeros(len(frame), dtype=bool)
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
        with np.errstate(invalid="ignore"):
            if bound.min is not None:
                match &= values >= bound.min
            if bound.max is not None:
                match &= values <= bound.max
    return match


class Condition(BaseModel):
    """What a rule requires (all given parts must hold)."""

    bands: list[str] | None = None
    arr_tiers: list[str] | None = None
    #: the account's segment or plan, as in the export (case and spacing ignored)
    segments: list[str] | None = None
    plans: list[str] | None = None
    reasons: list[str] | None = None
    max_days_to_renewal: float | None = None
    #: bounds on any snapshot feature or score column (health_score, churn_probability, arr)
    features: dict[str, Bounds] = Field(default_factory=dict)


class Rule(BaseModel):
    name: str
    when: Condition = Field(default_factory=Condition)
    action: str
    owner: str
    sla_hours: int


class WinBack(BaseModel):
    """What to do about accounts that churned recently in the given ARR tiers: a win-back
    call after a voluntary churn, payment recovery after an involuntary one."""

    arr_tiers: list[str] = Field(default_factory=lambda: ["high"])
    within_days: int = Field(60, ge=1)
    action: str = "Win-back call: learn why they left and what would bring them back"
    involuntary_action: str = "Recover the failed payment and reinstate the subscription"
    owner: str = "CSM"
    sla_hours: int = 72


class Playbook(BaseModel):
    """Ordered rules (first match wins) and the ARR tiers they refer to."""

    arr_tiers: dict[str, float]
    rules: list[Rule]
    win_back: WinBack = Field(default_factory=WinBack)
    #: Share of flagged accounts held out of outreach, so the playbook's effect is measurable
    #: (the control group of ``intervention_effects``).
    holdout_share: float = Field(0.1, ge=0, lt=1)
    #: The bands whose accounts are flagged, and so may be held out.
    holdout_bands: list[str] = Field(default_factory=lambda: ["critical", "at-risk"])
    #: Seed of the holdout draw: the same salt keeps an account in (or out of) the control
    #: group from one morning to the next; a new one (e.g. each quarter) draws a new group.
    holdout_salt: str = "2026"
    #: What one activity of each playbook (``cs_activities.action_type``) costs, for the
    #: cost per retained dollar of ARR (models.analysis.playbooks); none: not computed.
    activity_costs: dict[str, float] = Field(default_factory=dict)

    def held_out(self, account_id: pd.Series) -> np.ndarray:
        """Whether each account is in the control group: a uniform draw from a hash of the
        salt and the account id, below ``holdout_share`` (stable across runs and machines)."""
        draws = np.fromiter(
            (int.from_bytes(hashlib.blake2b(f"{self.holdout_salt}:{account}".encode(),
                                            digest_size=8).digest(), "big")
             for account in account_id), dtype=np.uint64, count=len(account_id))
        return draws / 2.0**64 < self.holdout_share

    @classmethod
    def load(cls, path: Path | None = None) -> Playbook:
        return cls.model_validate(yaml.safe_load((path or DEFAULT_PLAYBOOK).read_text()))

    def arr_tier(self, arr) -> np.ndarray:
        """Tier name per ARR value (the highest tier whose floor the ARR reaches)."""
        tiers = sorted(self.arr_tiers.items(), key=lambda t: t[1])
        floors = np.array([floor for _, floor in tiers])
        index = np.clip(np.searchsorted(floors, np.asarray(arr, float), side="right") - 1, 0,
                        len(tiers) - 1)
        return np.array([name for name, _ in tiers])[index]


def _label_in(accounts: pd.DataFrame, column: str, wanted: list[str]) -> np.ndarray:
    if column not in accounts:
        return np.zeros(len(accounts), dtype=bool)
    keys = {label_key(w) for w in wanted}
    return accounts[column].astype("string").fillna("").map(label_key).isin(keys).to_numpy()


def recommend_actions(accounts: pd.DataFrame, playbook: Playbook | None = None) -> pd.DataFrame:
    """``rule, action, owner, sla_hours, holdout`` per account.

    A flagged account (band in ``holdout_bands``) drawn into the holdout gets the holdout
    action instead of its rule's, when ``accounts`` has ``account_id``.

    ``accounts`` needs ``band``, ``arr``, ``days_to_renewal`` and ``risk_reasons`` (a list of
    the features that raise the account's risk); rules on features, ``segment`` or ``plan``
    read those columns, and match nobody where a column is absent.
    """
    playbook = playbook or Playbook.load()
    n = len(accounts)
    tier = playbook.arr_tier(accounts["arr"])
    reasons = accounts["risk_reasons"].apply(
        lambda r: set(r) if isinstance(r, list | tuple | set | np.ndarray) else set())
    chosen = np.full(n, -1)
    for index, rule in enumerate(playbook.rules):
        when = rule.when
        match = np.ones(n, dtype=bool)
        if when.bands is not None:
            match &= accounts["band"].isin(when.bands).to_numpy()
        if when.arr_tiers is not None:
            match &= np.isin(tier, when.arr_tiers)
        if when.reasons is not None:
            wanted = set(when.reasons)
            match &= reasons.apply(lambda r, w=wanted: bool(r & w)).to_numpy()
        if when.max_days_to_renewal is not None:
            match &= (accounts["days_to_renewal"] <= when.max_days_to_renewal).to_numpy()
        for column, wanted in (("segment", when.segments), ("plan", when.plans)):
            if wanted is not None:
                match &= _label_in(accounts, column, wanted)
        match &= within_bounds(accounts, when.features)
        chosen = np.where((chosen < 0) & match, index, chosen)
    if (chosen < 0).any():
        raise ValueError("playbook has no rule for some accounts; end it with a rule whose "
                         "`when` is empty")
    rules = playbook.rules
    actions = pd.DataFrame({
        "rule": [rules[i].name for i in chosen], "action": [rules[i].action for i in chosen],
        "owner": [rules[i].owner for i in chosen],
        "sla_hours": [rules[i].sla_hours for i in chosen],
    }, index=accounts.index)
    holdout = np.zeros(n, dtype=bool)
    if "account_id" in accounts:
        # only flagged accounts are drawn (hashing every id is wasted on the healthy majority)
        flagged = accounts["band"].isin(playbook.holdout_bands).to_numpy()
        holdout[flagged] = playbook.held_out(accounts["account_id"][flagged])
    actions.loc[holdout, ["rule", "action", "owner", "sla_hours"]] = [
        HOLDOUT_RULE, HOLDOUT_ACTION_TEXT, "CSM (record only)", 24]
    return actions.assign(holdout=holdout)


def win_back_candidates(churned: pd.DataFrame, as_of: pd.Timestamp,
                        playbook: Playbook | None = None) -> pd.DataFrame:
    """Accounts that churned in the ``win_back.within_days`` up to ``as_of`` with ARR in the
    win-back tiers (``churned``: ``features.retention_kpis.churn_events``), with their
    action: ``account_id, churn_date, arr, kind, action, owner, sla_hours``."""
    playbook = playbook or Playbook.load()
    rule = playbook.win_back
    day = pd.Timestamp(as_of).normalize()
    recent = churned[(churned["churn_date"] <= day)
                     & (churned["churn_date"] > day - pd.Timedelta(days=rule.within_days))]
    chosen = recent[np.isin(playbook.arr_tier(recent["arr"]), rule.arr_tiers)]
    return chosen.assign(
        action=np.where(chosen["kind"] == "involuntary", rule.involuntary_action, rule.action),
        owner=rule.owner, sla_hours=rule.sla_hours)[
        ["account_id", "churn_date", "arr", "kind", "action", "owner", "sla_hours"]]
