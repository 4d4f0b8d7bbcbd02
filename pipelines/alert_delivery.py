"""Delivering the day's alerts: one message per destination, never the same alert twice."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from models.alerts.engine import email_message, webhook_payload
from models.alerts.routing import RoutingConfig, deliveries
from pipelines.resources import AlertEmail, AlertWebhook


def deliver_alerts(webhook: AlertWebhook, email: AlertEmail, alerts: pd.DataFrame,
             routing: RoutingConfig, ledger: Path) -> str:
    """Send each alert to its severity's destinations, one message per destination, except
    where the ledger says it already went there (so re-runs never send twice and a failed
    destination is retried). Raises ``OSError`` naming the destinations that failed, after
    trying every one."""
    plan = deliveries(alerts, routing, webhook.url)
    if not plan:
        return "no webhook or e-mail configured"
    done = set(ledger.read_text().splitlines()) if ledger.exists() else set()
    sent, failed = [], []
    for kind, address, group in plan:
        pending = group[~(group["alert_id"] + "\t" + address).isin(done)]
        if pending.empty:
            continue
        try:
            if kind == "webhook":
                webhook.post(webhook_payload(pending), url=address)
            else:
                name = hashlib.sha256("".join(sorted(pending["alert_id"])).encode()).hexdigest()
                email.send(email_message(pending, to=address, sender=email.sender), name[:16])
        except OSError as exc:
            failed.append(f"{kind} {address}: {exc}")
            continue
        ledger.parent.mkdir(parents=True, exist_ok=True)
        with ledger.open("a") as file:
            file.writelines(f"{alert_id}\t{address}\n" for alert_id in pending["alert_id"])
        sent.append(f"{len(pending)} to {kind} {address}")
    if failed:
        raise OSError("; ".join(failed))
    return "; ".join(sent) or "nothing new to send"
