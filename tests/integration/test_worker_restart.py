"""A worker killed mid-stream and restarted recovers its tables exactly.

Thousands of tickets get events while the worker is stopped twice (once gracefully, once
with SIGKILL) and restarted; the last snapshot of every ticket and the backlog gauge must
equal what the same events give when folded in one go.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from processor.codec import encode_snapshot
from processor.config import Settings
from processor.core import fold_all
from processor.events import SourceEvent
from tests.integration.support import WorkerProcess, last_per_key, produce, read_topic

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
TICKETS = 1500


def ticket_events(rng: random.Random, number: int) -> list[dict[str, Any]]:
    """One email ticket: created, maybe answered (1-3 replies), maybe solved, maybe reopened."""
    tid = f"T{number}"
    start = T0 + timedelta(seconds=rng.randrange(0, 3600))

    def ev(kind: str, offset_s: float, **fields: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "event_id": f"{tid}-{kind}-{offset_s}",
            "occurred_at": (start + timedelta(seconds=offset_s)).isoformat(),
            "customer_id": f"c{number % 300}",
            "ticket_id": tid,
            **fields,
        }

    events = [
        ev(
            "ticket.created",
            0,
            channel=rng.choice(["email", "chat", "social"]),
            priority=rng.choice(["low", "normal", "high"]),
        )
    ]
    for reply in range(rng.randrange(0, 4)):
        offset = 60.0 * (reply + 1) * rng.randrange(1, 30)
        events.append(ev("email.sent", offset, thread_id=tid, message_id=f"{tid}-{reply}"))
    if rng.random() < 0.6:
        events.append(ev("ticket.status_changed", 7200, status="solved"))
        if rng.random() < 0.2:
            events.append(ev("ticket.status_changed", 7300, status="open"))
    return events


def test_stops_and_restarts_mid_stream_lose_and_double_count_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    rng = random.Random(42)
    per_ticket = [ticket_events(rng, n) for n in range(TICKETS)]
    stream = [
        (
            settings.topics.tickets if e["type"].startswith("ticket") else settings.topics.emails,
            e["ticket_id"].encode(),
            e,
        )
        for events in per_ticket
        for e in events
    ]
    rng.shuffle(stream)
    expected = expected_snapshots(per_ticket)

    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    producer = threading.Thread(target=produce_slowly, args=(settings, stream), daemon=True)
    try:
        worker.wait_for(lambda w: w.scrape() is not None, what="/metrics")
        producer.start()
        wait_consumed(worker, len(stream) // 3)
        worker.stop()  # graceful
        worker.start()
        wait_consumed(worker, len(stream) // 3)
        worker.kill()  # SIGKILL: the uncommitted tail is redelivered
        worker.start()
        producer.join(timeout=120)
        latest = wait_for_snapshots(settings, expected)
        assert latest == expected
        open_expected = sum(1 for s in expected.values() if s["is_open"])
        worker.wait_for(
            lambda w: w.total("ccpulse_tickets_open") == open_expected, timeout=30, what="backlog"
        )
    finally:
        worker.stop()


def produce_slowly(settings: Settings, stream: list[Any]) -> None:
    for start in range(0, len(stream), 200):
        produce(settings.kafka.bootstrap_servers, stream[start : start + 200])
        time.sleep(0.1)


def wait_consumed(worker: WorkerProcess, at_least: int) -> None:
    worker.wait_for(
        lambda w: w.total("ccpulse_events_consumed_total") >= at_least,
        timeout=120,
        what=f"{at_least} events consumed",
    )


def expected_snapshots(per_ticket: list[list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    import orjson

    adapter: TypeAdapter[Any] = TypeAdapter(SourceEvent)
    return {
        events[0]["ticket_id"]: orjson.loads(
            encode_snapshot(fold_all(None, [adapter.validate_python(e) for e in events]).after)
        )
        for events in per_ticket
    }


def wait_for_snapshots(
    settings: Settings, expected: dict[str, dict[str, Any]], timeout: float = 120
) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        records = read_topic(settings.kafka.bootstrap_servers, settings.topics.ticket_metrics, 4)
        latest = dict(last_per_key(records))
        if latest == expected or time.monotonic() > deadline:
            return latest
        time.sleep(2)
