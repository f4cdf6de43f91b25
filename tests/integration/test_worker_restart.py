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

import orjson
import pytest
from pydantic import TypeAdapter

from processor.codec import encode_snapshot
from processor.config import Settings
from processor.core import fold_all
from processor.events import SourceEvent
from tests.integration.support import WorkerProcess, last_per_key, produce, read_topic

pytestmark = pytest.mark.integration

# Recent, so that the 7-day FCR windows are still open: verdicts are decided on the wall
# clock when a window closes, and events arriving after that cannot change them.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
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
        assert differences(latest, expected) == {}
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
    """Each ticket's events folded in one go, plus the repeat flag its customer's tickets
    give: all of a customer's tickets open within one hour of each other, so every ticket
    but a customer's first repeats the one opened just before it (7-day window). No FCR
    window has closed yet, so no ticket has a verdict."""
    adapter: TypeAdapter[Any] = TypeAdapter(SourceEvent)
    snapshots = {
        events[0]["ticket_id"]: orjson.loads(
            encode_snapshot(fold_all(None, [adapter.validate_python(e) for e in events]).after)
        )
        for events in per_ticket
    }
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for snapshot in snapshots.values():
        by_customer.setdefault(snapshot["customer_id"], []).append(snapshot)
    for tickets in by_customer.values():
        tickets.sort(key=lambda s: (s["opened_at"], s["ticket_id"]))
        for previous, ticket in zip([None, *tickets], tickets, strict=False):
            if previous is not None:
                gap = datetime.fromisoformat(ticket["opened_at"]) - datetime.fromisoformat(
                    previous["opened_at"]
                )
                ticket["repeat_of"] = previous["ticket_id"]
                ticket["repeat_gap_seconds"] = gap.total_seconds()
                ticket["repeat_previous_channel"] = previous["channel"]
                ticket["repeat_windows"] = ["7d"]
    return snapshots


def differences(
    latest: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]
) -> dict[str, dict[str, tuple[Any, Any]]]:
    """Ticket -> field -> (published, expected), for every field that differs."""
    found = {}
    for ticket in sorted(set(latest) | set(expected)):
        got, want = latest.get(ticket, {}), expected.get(ticket, {})
        fields = {f: (got.get(f), want.get(f)) for f in set(got) | set(want)}
        if wrong := {f: pair for f, pair in fields.items() if pair[0] != pair[1]}:
            found[ticket] = wrong
    return found


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
