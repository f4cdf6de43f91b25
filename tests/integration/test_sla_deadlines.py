"""SLA deadlines pass with no further event: the warning and the breach are found by the
worker's timer, on ``cc.sla-events`` and ``/metrics`` within 2 s of each deadline, and
exactly once, also when the worker was killed before the deadline and restarted after it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from processor.config import Settings, SlaSettings
from tests.integration.support import TopicWatcher, WorkerProcess, eventually, produce

pytestmark = pytest.mark.integration

POLICIES = """
version: "test-1"
policies:
  - name: chat-fast
    match: {channel: chat}
    targets: {first_response: %(target)ss}
    warnings: {at: [50%%]}
"""
BREACH = {"channel": "chat", "priority": "normal", "target": "first_response"}


def with_policy(settings: Settings, tmp_path: Path, target_s: int) -> Settings:
    policy_file = tmp_path / "sla.yaml"
    policy_file.write_text(POLICIES % {"target": target_s})
    sla = SlaSettings(policy_file=str(policy_file), check_interval_s=0.25)
    return settings.model_copy(update={"sla": sla})


def chat_started(session: str, at: datetime) -> dict[str, Any]:
    return {
        "type": "chat.started",
        "event_id": f"{session}-start",
        "occurred_at": at.isoformat(),
        "customer_id": f"cust-{session}",
        "session_id": session,
    }


def start_ready(settings: Settings, tmp_path: Path) -> WorkerProcess:
    """A worker that has consumed a warm-up event (an email: no policy applies), so the
    next one is handled at once."""
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    warm_up = {
        "type": "email.received",
        "event_id": "warm-up",
        "occurred_at": datetime.now(UTC).isoformat(),
        "customer_id": "cust-warm-up",
        "thread_id": "warm-up",
        "message_id": "<warm-up@example.com>",
    }
    try:
        produce(settings.kafka.bootstrap_servers, [(settings.topics.emails, b"w", warm_up)])
        worker.wait_for(lambda w: w.total("ccpulse_events_consumed_total") >= 1, what="warm-up")
    except BaseException:
        worker.stop()  # never leave a worker behind
        raise
    return worker


def test_a_silent_ticket_gets_its_warning_then_its_breach_in_time(
    settings: Settings, tmp_path: Path
) -> None:
    settings = with_policy(settings, tmp_path, target_s=6)
    bootstrap = settings.kafka.bootstrap_servers
    worker = start_ready(settings, tmp_path)
    try:
        with TopicWatcher(bootstrap, settings.topics.sla_events, 4) as sla_events:
            opened = datetime.now(UTC)
            produce(bootstrap, [(settings.topics.chats, b"s1", chat_started("s1", opened))])
            on_metrics = first_seen_on_metrics(
                worker, ("ccpulse_sla_warnings_total", "ccpulse_sla_breaches_total")
            )
            eventually(lambda: _assert_kinds(sla_events, "s1", "breached"), timeout=10)
            warned_at, warning = sla_events.messages(ticket_id="s1", kind="warning")[0]
            breached_at, breach = sla_events.messages(ticket_id="s1", kind="breached")[0]
    finally:
        worker.stop()
    start = opened.timestamp()
    assert warning["level"] == 0.5
    assert warning["policy_version"] == "test-1"
    assert datetime.fromisoformat(breach["deadline"]).timestamp() == pytest.approx(start + 6)
    assert start + 3 <= warned_at <= start + 3 + 2
    assert start + 6 <= breached_at <= start + 6 + 2
    assert start + 3 <= on_metrics["ccpulse_sla_warnings_total"] <= start + 3 + 2
    assert start + 6 <= on_metrics["ccpulse_sla_breaches_total"] <= start + 6 + 2
    assert worker_sla_kinds(sla_events, "s1") == ["applied", "warning", "breached"]


def first_seen_on_metrics(
    worker: WorkerProcess, names: tuple[str, ...], timeout_s: float = 20
) -> dict[str, float]:
    """When (Unix time) each counter first showed 1 for the chat first-response target."""
    seen: dict[str, float] = {}
    deadline = time.time() + timeout_s
    while time.time() < deadline and len(seen) < len(names):
        scrape = worker.scrape()
        now = time.time()
        for name in names:
            if name not in seen and scrape.get((name, tuple(sorted(BREACH.items())))) == 1:
                seen[name] = now
        time.sleep(0.1)
    assert set(seen) == set(names), f"never on /metrics: {set(names) - set(seen)}"
    return seen


def test_a_deadline_passed_while_the_worker_was_dead_is_reported_once(
    settings: Settings, tmp_path: Path
) -> None:
    settings = with_policy(settings, tmp_path, target_s=12)
    bootstrap = settings.kafka.bootstrap_servers
    worker = start_ready(settings, tmp_path)
    with TopicWatcher(bootstrap, settings.topics.sla_events, 4) as sla_events:
        opened = datetime.now(UTC)
        try:
            produce(bootstrap, [(settings.topics.chats, b"s2", chat_started("s2", opened))])
            eventually(lambda: _assert_kinds(sla_events, "s2", "applied"), timeout=10)
            worker.kill()
            assert not sla_events.messages(ticket_id="s2", kind="breached")
            time.sleep(max(0.0, opened.timestamp() + 13 - time.time()))  # past the deadline
            worker.start()
            eventually(lambda: _assert_kinds(sla_events, "s2", "breached"), timeout=60)
            time.sleep(3)  # further sweeps must not report it again
            metric = worker.value("ccpulse_sla_breaches_total", **BREACH)
        finally:
            worker.stop()
    kinds = worker_sla_kinds(sla_events, "s2")
    assert kinds.count("breached") == 1
    assert kinds.count("warning") == 1
    assert metric == 1


def worker_sla_kinds(watcher: TopicWatcher, ticket_id: str) -> list[str]:
    return [message["kind"] for _, message in watcher.messages(ticket_id=ticket_id)]


def _assert_kinds(watcher: TopicWatcher, ticket_id: str, kind: str) -> None:
    assert kind in worker_sla_kinds(watcher, ticket_id)
