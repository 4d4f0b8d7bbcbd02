"""Alerts reach their severity's destinations once, and a failed destination is retried."""

import email
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pandas as pd
import pytest

from models.alerts.engine import AlertConfig, evaluate_alerts
from models.alerts.routing import RoutingConfig, Target
from pipelines.alert_delivery import deliver_alerts
from pipelines.resources import AlertEmail, AlertWebhook


class Receiver(BaseHTTPRequestHandler):
    """A local webhook: records what it is sent, or answers 500 while ``down``."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not self.server.down:
            self.server.received.append(json.loads(body))
        self.send_response(500 if self.server.down else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receivers():
    servers = []
    for _ in range(2):
        server = HTTPServer(("127.0.0.1", 0), Receiver)
        server.received, server.down = [], False
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield servers
    for server in servers:
        server.shutdown()


def url(server) -> str:
    return f"http://127.0.0.1:{server.server_port}/"


def alerts(routing: RoutingConfig) -> pd.DataFrame:
    before = pd.DataFrame({"account_id": ["A", "B", "C"], "health_score": [75.0, 75.0, 90.0],
                           "band": ["healthy", "healthy", "thriving"],
                           "days_to_renewal": [200, 200, 200]})
    today = before.assign(health_score=[20.0, 50.0, 85.0], band=["critical", "at-risk",
                                                                 "healthy"],
                          arr_at_risk=[10.0, 5.0, 1.0], reason_1="r",
                          recommended_action="call", action_owner="CSM")
    return evaluate_alerts(today, before, None, as_of=pd.Timestamp("2026-10-02"),
                           config=AlertConfig(routing=routing)).fired


def test_each_severity_goes_to_its_target_once_and_failures_are_retried(receivers, tmp_path):
    pager, default = receivers
    routing = RoutingConfig(targets={"critical": Target(webhook=url(pager)),
                                     "high": Target(email="leads@example.com")})
    table = alerts(routing)
    by_severity = table.groupby("severity")["alert_id"].apply(set).to_dict()
    assert set(by_severity) == {"critical", "high"}
    hook = AlertWebhook(url=url(default))
    mail = AlertEmail(outbox_dir=str(tmp_path / "outbox"))
    ledger = tmp_path / "delivered.txt"

    pager.down = True
    with pytest.raises(OSError, match="webhook http://127.0.0.1"):
        deliver_alerts(hook, mail, table, routing, ledger)
    # the other destinations were served: high alerts by e-mail and the default webhook
    assert len(default.received) == 1 and pager.received == []
    [eml] = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes())
    assert message["To"] == "leads@example.com"
    assert message.get_payload(decode=True).decode().count("HIGH · ") == len(by_severity["high"])

    pager.down = False
    assert deliver_alerts(hook, mail, table, routing, ledger).startswith(
        f"{len(by_severity['critical'])} to webhook {url(pager)}")
    assert len(pager.received) == 1 and len(default.received) == 1
    assert deliver_alerts(hook, mail, table, routing, ledger) == "nothing new to send"
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_without_any_destination_nothing_is_sent(tmp_path):
    table = alerts(RoutingConfig())
    result = deliver_alerts(AlertWebhook(), AlertEmail(outbox_dir=str(tmp_path)), table,
                            RoutingConfig(), tmp_path / "delivered.txt")
    assert result == "no webhook or e-mail configured"


def test_an_escalation_goes_to_its_roles_target_not_its_severitys():
    from models.alerts.routing import deliveries

    routing = RoutingConfig(targets={"critical": Target(webhook="http://pager/")},
                            escalation_targets={"vp_customer_success": Target(
                                email="vp@example.com")})
    alerts = pd.DataFrame({"alert_id": ["a", "b"], "severity": ["critical", "critical"],
                           "escalated_to": ["", "vp_customer_success"]})
    sent = {(kind, address): frame["alert_id"].tolist()
            for kind, address, frame in deliveries(alerts, routing, default_webhook="")}
    assert sent == {("webhook", "http://pager/"): ["a"], ("email", "vp@example.com"): ["b"]}
