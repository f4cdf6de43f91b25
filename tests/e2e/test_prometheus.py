"""The demo with a real Prometheus running the real rules: a scripted SLA breach takes an
alert from pending to firing, and every dashboard panel's query returns data."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_demo import children_of
from tests.integration.support import free_port, produce

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
ALERT = "CcpulseFirstResponseOverdue"
# The demo's contact center never uses the web channel: whatever fires there is ours.
SCRIPTED = {"alertname": ALERT, "channel": "web", "priority": "urgent"}


class Demo:
    """``ccpulse demo --prometheus`` as a subprocess, its output collected on a thread."""

    def __init__(self, cwd: Path) -> None:
        self.metrics_port, self.prometheus_port = free_port(), free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "processor",
                "demo",
                "--metrics-port",
                str(self.metrics_port),
                "--prometheus",
                "--prometheus-port",
                str(self.prometheus_port),
            ],
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.decode(errors="replace"))

    def output(self) -> str:
        return "".join(self.lines)

    def broker(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the demo exited:\n{self.output()[-3000:]}"
            if found := re.search(r"^broker: (\S+)$", self.output(), re.MULTILINE):
                return found.group(1)
            time.sleep(0.2)
        raise AssertionError(f"no broker line:\n{self.output()[-3000:]}")

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.prometheus_port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": promql}
        )
        with urllib.request.urlopen(url, timeout=10) as response:
            answer = json.load(response)
        assert answer["status"] == "success", answer
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.prometheus_port}/api/v1/alerts"
        with urllib.request.urlopen(url, timeout=10) as response:
            found: list[dict[str, Any]] = json.load(response)["data"]["alerts"]
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        self.process.wait(90)
        self._reader.join(10)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    assert shutil.which("prometheus"), "install Debian's `prometheus` package for this test"
    running = Demo(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def scripted_alert(demo: Demo) -> dict[str, Any] | None:
    for alert in demo.alerts():
        if all(alert["labels"].get(k) == v for k, v in SCRIPTED.items()):
            return alert
    return None


def wait_for(what: str, check: Any, timeout: float, demo: Demo) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert demo.process.poll() is None, f"the demo exited:\n{demo.output()[-3000:]}"
        try:
            if found := check():
                return found
        except OSError:
            pass  # Prometheus not listening yet
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}:\n{demo.output()[-2000:]}")


def urgent_web_ticket() -> dict[str, Any]:
    return {
        "type": "ticket.created",
        "event_id": "e2e-web-1",
        "occurred_at": datetime.now(UTC).isoformat(),
        "customer_id": "e2e-customer",
        "ticket_id": "E2E-WEB-1",
        "channel": "web",
        "priority": "urgent",
        "opened_by": "customer",
    }


def panel_queries() -> list[tuple[str, str, str]]:
    queries = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                queries.append((path.name, panel["title"], target["expr"]))
    return queries


def test_a_scripted_breach_fires_its_alert_and_every_panel_shows_data(demo: Demo) -> None:
    bootstrap = demo.broker()
    wait_for(
        "Prometheus scraping the worker",
        lambda: any(r["value"][1] == "1" for r in demo.query('up{job="ccpulse"}')),
        timeout=90,
        demo=demo,
    )
    wait_for(
        "the worker's SLA gauges",
        lambda: demo.query('ccpulse_sla_tickets_overdue{channel="web"}'),
        timeout=60,
        demo=demo,
    )
    assert scripted_alert(demo) is None

    produce(bootstrap, [("cc.tickets", b"E2E-WEB-1", urgent_web_ticket())])
    pending = wait_for(
        "the alert to go pending",
        lambda: (alert := scripted_alert(demo)) and alert["state"] == "pending" and alert,
        timeout=90,
        demo=demo,
    )
    pending_seen = time.monotonic()
    firing = wait_for(
        "the alert to fire",
        lambda: (alert := scripted_alert(demo)) and alert["state"] == "firing" and alert,
        timeout=150,
        demo=demo,
    )
    # The rule's `for: 1m` held it pending; Prometheus evaluates every second here.
    assert time.monotonic() - pending_seen > 50
    assert pending["labels"]["severity"] == firing["labels"]["severity"]
    assert firing["annotations"]["runbook_url"].endswith("#ccpulsefirstresponseoverdue")
    breaches = demo.query(
        'ccpulse_sla_breaches_total{channel="web",priority="urgent",target="first_response"}'
    )
    assert [float(r["value"][1]) for r in breaches] == [1.0]

    queries = panel_queries()
    assert len(queries) >= 30, "the dashboards should be there"
    empty = queries
    deadline = time.monotonic() + 90
    while empty and time.monotonic() < deadline:
        empty = [(board, title, expr) for board, title, expr in empty if not demo.query(expr)]
        if empty:
            time.sleep(2)
    assert not empty, "\n".join(f"{b} / {t}: {e}" for b, t, e in empty)

    children = children_of(demo.process.pid)
    demo.stop()
    assert demo.process.returncode == 0, demo.output()[-2000:]
    time.sleep(1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in children), "orphan processes"
