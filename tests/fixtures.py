"""A hand-made two-account world whose feature values are worked out by hand in the tests."""

import pandas as pd

AS_OF = pd.Timestamp("2026-04-10")


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def subscriptions() -> pd.DataFrame:
    return pd.DataFrame({
        "subscription_id": ["s1", "s1b", "s2"],
        "account_id": ["a1", "a1", "a2"],
        "plan": ["growth", "business", "starter"],
        "mrr": [100.0, 150.0, 30.0],
        "currency": "USD",
        "start_date": pd.to_datetime(["2026-01-15", "2026-03-15", "2025-06-10"]),
        "end_date": pd.to_datetime(["2026-03-15", None, "2026-04-20"]),
        "billing_period": ["monthly", "monthly", "annual"],
        "seats": [4, 6, 2],
        "status": ["upgraded", "active", "canceled"],
        "cancel_reason": [None, None, "price"],
    })


def events() -> pd.DataFrame:
    rows = [
        ("e1", "a1", "u1", "2026-04-10T09:00:00Z", "login"),
        ("e2", "a1", "u1", "2026-04-10T10:00:00Z", "reports"),
        ("e3", "a1", "u1", "2026-04-09T10:00:00Z", "error"),
        ("e4", "a1", "u2", "2026-04-01T10:00:00Z", "login"),
        ("e5", "a1", "u2", "2026-04-01T11:00:00Z", "dashboards"),
        ("e6", "a1", "u3", "2026-03-05T10:00:00Z", "login"),
        # after the as-of date: must never be seen by the snapshot for 2026-04-10
        ("e7", "a1", "u4", "2026-04-11T00:30:00Z", "login"),
        ("e8", "a1", "u1", "2026-04-11T08:00:00Z", "automations"),
    ]
    frame = pd.DataFrame(rows, columns=["event_id", "account_id", "user_id", "event_time",
                                        "event_name"])
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    return frame


def invoices() -> pd.DataFrame:
    rows = [
        # paid four days after its due date: late
        ("i1", "a1", "2026-03-15", "2026-03-29", "2026-04-02", 150.0, "paid"),
        # due after the as-of date: not counted yet
        ("i2", "a1", "2026-04-01", "2026-04-15", None, 150.0, "failed"),
        # due before the 90-day window (2026-01-10, 2026-04-10]
        ("i3", "a1", "2026-01-01", "2026-01-05", None, 100.0, "failed"),
        ("i4", "a1", "2026-01-20", "2026-02-01", None, 100.0, "failed"),
        # due before the as-of date, paid after it: already late at the as-of date
        ("i5", "a1", "2026-03-22", "2026-04-05", "2026-04-20", 150.0, "paid"),
        ("i6", "a2", "2025-06-10", "2025-06-24", "2025-06-20", 360.0, "paid"),
    ]
    frame = pd.DataFrame(rows, columns=["invoice_id", "account_id", "issued_at", "due_at",
                                        "paid_at", "amount", "status"])
    for column in ["issued_at", "due_at", "paid_at"]:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def support_tickets() -> pd.DataFrame:
    rows = [
        ("t1", "a1", "2026-04-01T09:00:00Z", None, "high", None),
        ("t2", "a1", "2026-03-01T09:00:00Z", "2026-04-12T09:00:00Z", "normal", 2.0),
        ("t3", "a1", "2026-02-01T09:00:00Z", "2026-02-03T09:00:00Z", "low", 4.0),
        ("t4", "a2", "2026-04-05T09:00:00Z", "2026-04-05T17:00:00Z", "urgent", 5.0),
    ]
    frame = pd.DataFrame(rows, columns=["ticket_id", "account_id", "opened_at", "closed_at",
                                        "priority", "csat"])
    for column in ["opened_at", "closed_at"]:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def nps_responses() -> pd.DataFrame:
    rows = [
        ("a1", "u1", "2026-03-01T12:00:00Z", 9),
        ("a1", "u2", "2025-12-01T12:00:00Z", 5),
        ("a1", "u1", "2026-04-11T12:00:00Z", 0),  # after the as-of date
    ]
    frame = pd.DataFrame(rows, columns=["account_id", "user_id", "responded_at", "score"])
    frame["responded_at"] = pd.to_datetime(frame["responded_at"], utc=True)
    return frame


def accounts() -> pd.DataFrame:
    return pd.DataFrame({"account_id": ["a1", "a2"], "segment": ["SMB", "enterprise"],
                         "industry": ["retail", "finance"],
                         "signup_date": pd.to_datetime(["2026-01-10", "2025-06-01"]),
                         "csm_owner": ["ana", "bo"]})
