"""Engagement features from the routine rows of ``cs_activities`` (values worked out in the
comments; the hand-made fixture's as-of date is 2026-04-10)."""

import pandas as pd

from features.contract import ActivityTaxonomy
from features.snapshot import FEATURE_GROUPS, compute_snapshots
from models.inputs import informative_columns, recency_measured
from models.scoring.components import Component, Signal, component_scores
from tests import fixtures as fx

ENGAGEMENT = list(FEATURE_GROUPS["account_engagement"])


def activities(rows: list[tuple[str, str, str, str | None]]) -> pd.DataFrame:
    """``cs_activities`` rows of (account, performed_at, action_type, flagged_at)."""
    return pd.DataFrame({
        "activity_id": [f"act{i}" for i in range(len(rows))],
        "account_id": [r[0] for r in rows],
        "performed_at": pd.to_datetime([r[1] for r in rows], utc=True),
        "action_type": [r[2] for r in rows],
        "owner": "ana", "outcome": "completed",
        "flagged_at": pd.to_datetime([r[3] for r in rows], utc=True),
    })


def snapshot(table: pd.DataFrame | None, taxonomy: ActivityTaxonomy | None = None,
             as_of: str = "2026-04-10") -> pd.DataFrame:
    return compute_snapshots(pd.DatetimeIndex([as_of]), events=fx.events(),
                             subscriptions=fx.subscriptions(), cs_activities=table,
                             activity_taxonomy=taxonomy).set_index("account_id")


TOUCHES = [
    ("a1", "2026-04-10T23:00:00", "check_in", None),  # the as-of day counts
    ("a1", "2026-04-11T00:00:00", "qbr", None),  # the next day does not
    ("a1", "2026-03-20T10:00:00", "qbr", None),  # 21 days before: in 30 and 90 days
    ("a1", "2026-02-01T10:00:00", "executive_meeting", None),  # 68 days: in 90 days
    ("a1", "2025-11-01T10:00:00", "ebr", None),  # 160 days: executive within 180 only
    # prompted by an at-risk flag, or a holdout: the team's answer to an alert, not counted
    ("a1", "2026-04-09T10:00:00", "health_check", "2026-04-08T10:00:00"),
    ("a1", "2026-04-08T10:00:00", "holdout", "2026-04-08T10:00:00"),
    ("a2", "2026-01-05T10:00:00", "call", None),
]


def test_routine_touches_by_window_and_kind():
    frame = snapshot(activities(TOUCHES))
    a1, a2 = frame.loc["a1"], frame.loc["a2"]
    assert a1["cs_touches_30d"] == 2  # Apr 10 and Mar 20
    assert a1["cs_touches_90d"] == 3  # and Feb 1
    assert a1["cs_meetings_90d"] == 2  # the QBR and the executive meeting (a check-in is not)
    assert a1["executive_contacts_180d"] == 2  # the executive meeting and the EBR
    assert a1["days_since_last_cs_touch"] == 0
    # a2's call on Jan 5 is 95 days before: outside every count window
    # (counted as zero, not missing)
    assert a2[["cs_touches_30d", "cs_touches_90d", "cs_meetings_90d"]].tolist() == [0, 0, 0]
    assert a2["days_since_last_cs_touch"] == 95


def test_a_touch_after_the_as_of_date_changes_nothing():
    before = snapshot(activities(TOUCHES))
    later = activities([*TOUCHES, ("a2", "2026-04-11T08:00:00", "qbr", None)])
    pd.testing.assert_frame_equal(before, snapshot(later))


def test_the_mapping_names_meeting_and_executive_actions():
    renamed = [(a, t, {"qbr": "Business Review", "executive_meeting": "Exec Sync"}.get(k, k),
                f) for a, t, k, f in TOUCHES]
    taxonomy = ActivityTaxonomy(meeting_actions=["business review", "exec sync"],
                                executive_actions=["exec sync"])
    a1 = snapshot(activities(renamed), taxonomy).loc["a1"]
    assert a1["cs_meetings_90d"] == 2
    assert a1["executive_contacts_180d"] == 1  # the EBR is no longer named executive


def test_days_since_touch_is_capped_by_age_and_unmeasured_without_routine_touches():
    frame = snapshot(activities([("a2", "2026-01-05T10:00:00", "call", None)]))
    # a1 was never touched: it shows its age (it started on Jan 15)
    assert frame.loc["a1", "days_since_last_cs_touch"] == (
        pd.Timestamp("2026-04-10") - pd.Timestamp("2026-01-15")).days
    assert frame.loc["a2", "days_since_last_cs_touch"] == 95
    assert recency_measured(frame, "days_since_last_cs_touch")
    # only flagged outreach: every account sits at its capped age, which measures nothing,
    # so models drop the feature and the engagement component leaves the signal out
    flagged_only = snapshot(activities([row for row in TOUCHES if row[3] is not None]))
    assert (flagged_only["cs_touches_90d"] == 0).all()
    assert not recency_measured(flagged_only, "days_since_last_cs_touch")
    kept, _ = informative_columns(flagged_only, ["days_since_last_cs_touch", "mrr"])
    assert kept == ["mrr"]
    only_touch = {"engagement": Component(weight=1, signals={
        "days_since_last_cs_touch": Signal(weight=1, green=30, red=90)})}
    assert component_scores(flagged_only, only_touch)["health_engagement"].isna().all()
    assert component_scores(frame, only_touch)["health_engagement"].notna().all()


def test_without_cs_activities_the_group_is_absent():
    frame = snapshot(None)
    assert not set(ENGAGEMENT) & set(frame.columns)
    assert set(ENGAGEMENT) <= set(snapshot(activities(TOUCHES)).columns)

