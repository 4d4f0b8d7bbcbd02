"""Whether customer-success interventions work.

An *episode* is one at-risk flag of one account (``cs_activities`` rows sharing account and
``flagged_at``): *treated* when someone reached out, *control* when the playbook held the
account out (an ``action_type = holdout`` row). Outcomes come from ``subscriptions``, never
from what the owner logged:

- churn within the horizon after the flag, for uplift and the alerts' false-positive rate,
  counted only for episodes whose window has closed (an early churn must not count before
  the quiet accounts of the same days can count as stayed);
- *saved*: still a customer after the predicted churn date, the end of the term running at
  the first action (at the flag for the control group), for the success rate by lead time.

Uplift is the control group's churn rate minus the treated group's, with a Newcombe
interval. The two-model uplift estimate (one churn model per arm, uplift = the difference of
their predictions) is fitted walk-forward on episodes whose window closed before each origin
and judged out of time with a Qini curve and the uplift in its top 10 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from features.billing import days_to_renewal
from features.contract import HOLDOUT_ACTION
from features.labels import active_periods, churn_labels

#: (label, lowest lead, highest lead) in days before the predicted churn date.
LEAD_TIME_BUCKETS = (("90+ days", 90, math.inf), ("60-90 days", 60, 90),
                     ("30-60 days", 30, 60), ("under 30 days", -math.inf, 30))
TREATED, CONTROL, BROKEN = "treated", "control", "holdout broken"


def intervention_episodes(activities: pd.DataFrame, subscriptions: pd.DataFrame, *,
                          horizon_days: int, observed_until: pd.Timestamp) -> pd.DataFrame:
    """One row per flagged episode of an account that was a customer on its flag day.

    Columns: ``account_id, flagged_at, flag_date, arm`` (treated / control / holdout broken:
    held out and contacted anyway), ``actions, first_action_at, days_to_first_action,
    predicted_churn_date, lead_days, churned_within_horizon, window_closed, saved,
    saved_known``.
    """
    observed_until = pd.Timestamp(observed_until).normalize()
    flagged = activities[activities["flagged_at"].notna()].copy()
    flagged["outreach"] = flagged["action_type"] != HOLDOUT_ACTION
    flagged["outreach_at"] = flagged["performed_at"].where(flagged["outreach"])
    episodes = flagged.groupby(["account_id", "flagged_at"], as_index=False).agg(
        actions=("outreach", "sum"), held_out=("outreach", lambda s: bool((~s).any())),
        first_action_at=("outreach_at", "min"))
    episodes["arm"] = np.select(
        [episodes["held_out"] & (episodes["actions"] > 0), episodes["held_out"]],
        [BROKEN, CONTROL], TREATED)
    episodes["flag_date"] = episodes["flagged_at"].dt.tz_localize(None).dt.normalize()
    episodes["days_to_first_action"] = (episodes["first_action_at"]
                                        - episodes["flagged_at"]).dt.total_seconds() / 86400

    # Churn after the flag: the end of the active period the flag day belongs to.
    periods = active_periods(subscriptions)
    labels = churn_labels(periods, pd.DatetimeIndex(episodes["flag_date"].unique()),
                          horizon_days=horizon_days, observed_until=observed_until)
    labels = labels.rename(columns={"as_of_date": "flag_date"})
    episodes = episodes.merge(labels[["account_id", "flag_date", "churned_within_horizon",
                                      "churn_observed", "duration_days"]],
                              on=["account_id", "flag_date"], how="inner")
    episodes["window_closed"] = (episodes["flag_date"] + pd.Timedelta(days=horizon_days)
                                 <= observed_until)
    churn_date = episodes["flag_date"] + pd.to_timedelta(episodes["duration_days"], unit="D")
    churn_date = churn_date.where(episodes["churn_observed"] == 1)

    reference = episodes["first_action_at"].fillna(episodes["flagged_at"])
    episodes["predicted_churn_date"] = predicted_churn_dates(
        episodes["account_id"], reference.dt.tz_localize(None).dt.normalize(), subscriptions)
    episodes["lead_days"] = (episodes["predicted_churn_date"]
                             - reference.dt.tz_localize(None).dt.normalize()).dt.days
    episodes["saved_known"] = (churn_date.notna()
                               | (episodes["predicted_churn_date"] <= observed_until))
    episodes["saved"] = churn_date.isna() | (churn_date > episodes["predicted_churn_date"])
    return episodes.drop(columns=["held_out", "churn_observed", "duration_days"]).sort_values(
        ["flagged_at", "account_id"], ignore_index=True)


def predicted_churn_dates(account_id: pd.Series, on: pd.Series,
                          subscriptions: pd.DataFrame) -> pd.Series:
    """The date each account can next leave: the latest next renewal among its subscriptions
    active on ``on`` (NaT when none is). A churn takes effect when a term ends, so it is
    the churn date the account is heading for, known on the day without any model."""
    asked = pd.DataFrame({"account_id": account_id.to_numpy(), "on": on.to_numpy(),
                          "row": np.arange(len(on))})
    pairs = asked.merge(subscriptions[["account_id", "start_date", "end_date",
                                       "billing_period"]], on="account_id")
    active = (pairs["start_date"] <= pairs["on"]) & (
        pairs["end_date"].isna() | (pairs["end_date"] > pairs["on"]))
    pairs = pairs[active]
    days = days_to_renewal(pairs["start_date"], pairs["billing_period"], pairs["on"])
    renewal = pairs["on"] + pd.to_timedelta(days, unit="D")
    latest = renewal.groupby(pairs["row"].to_numpy()).max()
    return pd.Series(latest.reindex(asked["row"]).to_numpy(), index=account_id.index)


def lead_time_bucket(lead_days: pd.Series) -> pd.Series:
    """The lead-time bucket of each lead (days before the predicted churn date)."""
    labels = pd.Series(pd.NA, index=lead_days.index, dtype="object")
    for label, low, high in LEAD_TIME_BUCKETS:
        labels[(lead_days >= low) & (lead_days < high)] = label
    return labels


def success_by_lead_time(episodes: pd.DataFrame) -> pd.DataFrame:
    """Saved / episodes per lead-time bucket and arm, over episodes whose predicted churn
    date has passed (or that churned): the treated rate is the intervention success rate,
    the control rate what the same flags came to without outreach."""
    known = episodes[episodes["saved_known"] & episodes["arm"].isin([TREATED, CONTROL])].copy()
    known["lead_time"] = lead_time_bucket(known["lead_days"])
    rows = []
    for label, _, _ in LEAD_TIME_BUCKETS:
        bucket = known[known["lead_time"] == label]
        row = {"lead_time": label}
        for arm in (TREATED, CONTROL):
            saved = bucket.loc[bucket["arm"] == arm, "saved"]
            row[f"{arm}_episodes"] = len(saved)
            row[f"{arm}_saved"] = int(saved.sum())
            row[f"{arm}_success_rate"] = saved.mean() if len(saved) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95
                    ) -> tuple[float, float]:
    """Wilson score interval of a proportion (NaN without trials)."""
    if trials == 0:
        return math.nan, math.nan
    z = norm.ppf(0.5 + confidence / 2)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (
        1 + z * z / trials)
    return centre - half, centre + half


def difference_interval(successes_a: int, trials_a: int, successes_b: int, trials_b: int,
                        confidence: float = 0.95) -> tuple[float, float, float]:
    """Difference of two proportions (a - b) with Newcombe's hybrid score interval (his
    method 10), which keeps its coverage with few events, unlike the Wald interval."""
    if trials_a == 0 or trials_b == 0:
        return math.nan, math.nan, math.nan
    p_a, p_b = successes_a / trials_a, successes_b / trials_b
    low_a, high_a = wilson_interval(successes_a, trials_a, confidence)
    low_b, high_b = wilson_interval(successes_b, trials_b, confidence)
    difference = p_a - p_b
    return (difference,
            difference - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2),
            difference + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2))


@dataclass(frozen=True)
class Uplift:
    """Churn within the horizon of held-out against treated episodes (closed windows)."""

    treated: int
    treated_churned: int
    control: int
    control_churned: int
    uplift: float  # control churn rate - treated churn rate: churn prevented per treated
    low: float
    high: float

    @property
    def treated_churn_rate(self) -> float:
        return self.treated_churned / self.treated if self.treated else math.nan

    @property
    def control_churn_rate(self) -> float:
        return self.control_churned / self.control if self.control else math.nan


def uplift(episodes: pd.DataFrame) -> Uplift:
    """Uplift of outreach on churn within the horizon, with a 95 % Newcombe interval."""
    closed = episodes[episodes["window_closed"]]
    churned = {arm: closed.loc[closed["arm"] == arm, "churned_within_horizon"]
               for arm in (TREATED, CONTROL)}
    counts = {arm: (len(c), int(c.sum())) for arm, c in churned.items()}
    difference, low, high = difference_interval(counts[CONTROL][1], counts[CONTROL][0],
                                                 counts[TREATED][1], counts[TREATED][0])
    return Uplift(treated=counts[TREATED][0], treated_churned=counts[TREATED][1],
                  control=counts[CONTROL][0], control_churned=counts[CONTROL][1],
                  uplift=difference, low=low, high=high)


def intervention_summary(episodes: pd.DataFrame, *, holdout_share: float) -> dict:
    """The headline figures: episodes per arm, the holdout share kept, the success rate,
    time to detection (days from flag to first action), the false-positive rate of at-risk
    flags (held-out accounts that did not churn within the horizon: without outreach, a
    flag that needed none) and the uplift."""
    arms = episodes["arm"].value_counts()
    treated = episodes[episodes["arm"] == TREATED]
    saved = treated.loc[treated["saved_known"], "saved"]
    closed_control = episodes[(episodes["arm"] == CONTROL) & episodes["window_closed"]]
    stayed = int((closed_control["churned_within_horizon"] == 0).sum())
    fp_low, fp_high = wilson_interval(stayed, len(closed_control))
    effect = uplift(episodes)
    delays = treated["days_to_first_action"]
    assigned = int(arms.get(TREATED, 0) + arms.get(CONTROL, 0))
    return {
        "episodes": len(episodes), "treated": int(arms.get(TREATED, 0)),
        "control": int(arms.get(CONTROL, 0)), "holdout_broken": int(arms.get(BROKEN, 0)),
        "holdout_share_configured": holdout_share,
        "holdout_share_observed": arms.get(CONTROL, 0) / assigned if assigned else math.nan,
        "success_rate": saved.mean() if len(saved) else math.nan,
        "success_episodes": len(saved),
        "days_to_first_action_median": delays.median(),
        "days_to_first_action_mean": delays.mean(),
        "days_to_first_action_p90": delays.quantile(0.9),
        "false_positive_rate": stayed / len(closed_control) if len(closed_control) else math.nan,
        "false_positive_low": fp_low, "false_positive_high": fp_high,
        "false_positive_episodes": len(closed_control),
        "uplift": effect.uplift, "uplift_low": effect.low, "uplift_high": effect.high,
        "treated_churn_rate": effect.treated_churn_rate,
        "control_churn_rate": effect.control_churn_rate,
        "uplift_treated": effect.treated, "uplift_control": effect.control,
    }


def qini_curve(score: np.ndarray, treated: np.ndarray, retained: np.ndarray) -> pd.DataFrame:
    """Qini curve of targeting by ``score`` (highest first): after targeting k episodes,
    ``qini`` = treated retained − control retained × treated / control among them (accounts
    kept by outreach), 0 while no control episode is among them; ``random`` is the line a
    random order would follow. Rows for k = 0..n."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    is_treated = np.asarray(treated, dtype=bool)[order]
    kept = np.asarray(retained, dtype=float)[order]
    n_treated = np.concatenate([[0], np.cumsum(is_treated)])
    n_control = np.concatenate([[0], np.cumsum(~is_treated)])
    kept_treated = np.concatenate([[0], np.cumsum(kept * is_treated)])
    kept_control = np.concatenate([[0], np.cumsum(kept * ~is_treated)])
    with np.errstate(divide="ignore", invalid="ignore"):
        qini = np.where(n_control > 0,
                        kept_treated - kept_control * n_treated / n_control, 0.0)
    targeted = np.arange(len(order) + 1)
    return pd.DataFrame({"targeted": targeted, "fraction": targeted / max(len(order), 1),
                         "qini": qini, "random": qini[-1] * targeted / max(len(order), 1)})


def qini_coefficient(curve: pd.DataFrame) -> float:
    """Mean height of the Qini curve above the random line over k = 1..n."""
    gap = (curve["qini"] - curve["random"]).to_numpy()[1:]
    return float(gap.mean()) if gap.size else math.nan


def uplift_at(score: np.ndarray, treated: np.ndarray, retained: np.ndarray,
              fraction: float = 0.1) -> tuple[float, int, int]:
    """Retention of treated minus control among the top ``fraction`` by score, with how
    many treated and control episodes that is (NaN when an arm is missing)."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    top = order[: max(1, math.ceil(fraction * len(order)))]
    is_treated = np.asarray(treated, dtype=bool)[top]
    kept = np.asarray(retained, dtype=float)[top]
    n_treated, n_control = int(is_treated.sum()), int((~is_treated).sum())
    if not n_treated or not n_control:
        return math.nan, n_treated, n_control
    return kept[is_treated].mean() - kept[~is_treated].mean(), n_treated, n_control


def with_features(episodes: pd.DataFrame, training_set: pd.DataFrame,
                  features: list[str]) -> pd.DataFrame:
    """Each episode with the account's features as of the last snapshot before its flag
    day (the training set's month-ends), so nothing known after the flag enters."""
    rows = training_set[["account_id", "as_of_date", *features]].sort_values("as_of_date")
    left = episodes.assign(known_until=episodes["flag_date"] - pd.Timedelta(days=1))
    joined = pd.merge_asof(left.sort_values("known_until"), rows, left_on="known_until",
                           right_on="as_of_date", by="account_id", direction="backward")
    return joined.rename(columns={"as_of_date": "features_as_of"}).drop(columns="known_until")


def _churn_model():
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         LogisticRegression(C=0.1, max_iter=2000))


def walk_forward_uplift(episodes: pd.DataFrame, features: list[str], *, horizon_days: int,
                        n_folds: int = 3, min_per_arm: int = 20
                        ) -> tuple[pd.DataFrame | None, str]:
    """Out-of-time two-model uplift scores for closed-window episodes.

    Origins split the episodes' flag dates into ``n_folds`` + 1 equal parts; at each origin
    one logistic churn model per arm is fitted on episodes whose window closed before it and
    scores the episodes flagged until the next origin. Uplift score = predicted churn
    without outreach − with it. Returns the scored episodes (``uplift_score``) and "", or
    None and why the data do not allow it (a fold with fewer than ``min_per_arm`` episodes
    of an arm, or one outcome only, is skipped).
    """
    closed = episodes[episodes["window_closed"] & episodes["arm"].isin([TREATED, CONTROL])]
    closed = closed.sort_values("flagged_at", ignore_index=True)
    if closed.empty:
        return None, "no episode's outcome window has closed"
    edges = closed["flag_date"].quantile(np.linspace(0, 1, n_folds + 2)).dt.normalize()
    origins = list(edges.iloc[1:-1])
    scored, skipped = [], []
    for index, origin in enumerate(origins):
        train = closed[closed["flag_date"] + pd.Timedelta(days=horizon_days) <= origin]
        later = origins[index + 1] if index + 1 < len(origins) else None
        test = closed[(closed["flag_date"] >= origin)
                      & ((closed["flag_date"] < later) if later is not None else True)]
        arms = {arm: train[train["arm"] == arm] for arm in (TREATED, CONTROL)}
        short = [arm for arm, rows in arms.items()
                 if len(rows) < min_per_arm or rows["churned_within_horizon"].nunique() < 2]
        if short or test.empty:
            skipped.append(f"{origin:%Y-%m-%d}: " + (
                f"under {min_per_arm} {' and '.join(short)} episodes with both outcomes "
                "before it" if short else "nothing after it"))
            continue
        predicted = {}
        for arm, rows in arms.items():
            model = _churn_model().fit(rows[features], rows["churned_within_horizon"])
            predicted[arm] = model.predict_proba(test[features])[:, 1]
        scored.append(test.assign(uplift_score=predicted[CONTROL] - predicted[TREATED],
                                  origin=origin))
    if not scored:
        return None, "; ".join(skipped)
    result = pd.concat(scored, ignore_index=True)
    if result["arm"].nunique() < 2:
        return None, "the out-of-time episodes hold one arm only"
    return result, "; ".join(skipped)
