"""How old the retention sweep takes a ticket's state to be, where its facts cannot say.

- An automated acknowledgement or a transfer tells nothing about its ticket (no fact, so
  no time in its metrics); when it arrives before the ``ticket.created`` it belongs to,
  the state holds only that event. The sweep must not take it for a state closed long
  ago: the earliest event's time counts, also on the event-time clock.
- After a recovery the SLA sweep looks at every recovered ticket, closed ones too; that
  look rewrites nothing, and must not restart a closed ticket's retention.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from processor.codec import SourceDecoder
from processor.events import SourceKind
from processor.metrics import Metrics
from processor.open_tickets import OpenTickets
from processor.shell.pipeline import Clock, Message, Pipeline, Rules, Topics

TOPICS = Topics("routed", "views", "metrics", "deadletter", "sla", "repeats")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Steps:
    """The processing steps with a dict for the table; the clock is event time unless a
    wall-clock time is set in ``wall``."""

    def __init__(self, retention: timedelta, wall: float | None = None) -> None:
        self.wall = wall
        self.clock = Clock(
            event_time=wall is None,
            wall=lambda: self.wall if self.wall is not None else T0.timestamp() + 86_400 * 365,
        )
        self.registry = CollectorRegistry()
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.table: dict[bytes, bytes] = {}
        self.pipeline = Pipeline(
            TOPICS,
            SourceDecoder(max_bytes=4096, now=self.clock.wall),
            Metrics(self.registry, OpenTickets(), self.clock),
            OpenTickets(),
            lambda topic, key, value, partition=None: self.sent.append((topic, key, value)),
            rules=Rules(retention=retention),
            clock=self.clock,
        )

    def feed(self, kind: SourceKind, body: dict[str, Any]) -> None:
        self.pipeline.ingest(kind, [Message("source", 0, 0, b"k", orjson.dumps(body))])
        routed = [(k, v) for topic, k, v in self.sent if topic == TOPICS.routed]
        self.sent = [sent for sent in self.sent if sent[0] != TOPICS.routed]
        messages = [Message(TOPICS.routed, 0, i, k, v) for i, (k, v) in enumerate(routed)]
        self.pipeline.update_tickets(self.table, messages)
        self.pipeline.forget_expired(self.table)

    def snapshots(self) -> list[dict[str, Any]]:
        return [orjson.loads(v) for topic, _, v in self.sent if topic == TOPICS.ticket_metrics]


def event(kind: str, minute: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": f"{kind}-{minute}",
        "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
        "customer_id": "c1",
        "ticket_id": "T1",
        **fields,
    }


def test_an_automated_reply_before_its_ticket_is_still_there_when_the_ticket_arrives() -> None:
    steps = Steps(retention=timedelta(days=30))
    ack = event("email.sent", 1, thread_id="t1", message_id="ack", automated=True)
    steps.feed(SourceKind.EMAILS, ack)
    assert steps.table, "the acknowledgement waits for its ticket"
    steps.feed(SourceKind.TICKETS, event("ticket.created", 0, channel="email"))
    assert steps.snapshots()[-1]["events"] == 2
    forgotten = steps.registry.get_sample_value(
        "ccpulse_state_forgotten_total", {"table": "tickets"}
    )
    assert forgotten == 0


def test_a_state_of_such_events_alone_goes_the_retention_after_the_earliest_of_them() -> None:
    steps = Steps(retention=timedelta(days=1))
    steps.feed(SourceKind.CALLS, event("call.transferred", 0, call_id="x"))
    ack = event("email.sent", 10, thread_id="t2", message_id="m", automated=True)
    steps.feed(SourceKind.EMAILS, ack | {"ticket_id": "T2"})
    assert set(steps.table) == {b"T1", b"T2"}
    later = event("ticket.priority_changed", 60 * 24 + 5, priority="low") | {"ticket_id": "T3"}
    steps.feed(SourceKind.TICKETS, later)  # moves the event-time clock past T1's retention
    assert set(steps.table) == {b"T2", b"T3"}


def test_a_closed_ticket_looked_at_again_after_a_recovery_keeps_its_retention() -> None:
    written = T0.timestamp() + 3600
    steps = Steps(retention=timedelta(days=30), wall=written)
    steps.feed(SourceKind.TICKETS, event("ticket.created", 0, channel="email"))
    steps.feed(SourceKind.TICKETS, event("ticket.status_changed", 5, status="solved"))
    steps.wall = written + 20 * 86_400
    steps.pipeline.sla_due.set(0, b"T1", 0.0)  # as the recovery indexes it
    steps.pipeline.check_deadlines(steps.table)
    steps.wall = written + 30 * 86_400 + 1
    steps.pipeline.forget_expired(steps.table)
    assert steps.table == {}
