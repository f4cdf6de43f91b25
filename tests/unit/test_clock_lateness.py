"""The event-time clock runs the configured lateness behind the newest event time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pydantic import ValidationError

from processor.config import Settings, SlaSettings
from processor.events import SourceKind
from processor.policies import parse_policies
from processor.shell.pipeline import Clock, Message, Rules
from processor.shell.worker import clock_of
from processor.view_clocks import ViewClocks, Watermark
from tests.unit.test_pipeline import NOW, REPEATS, Harness, body

POLICY = """
version: "late-1"
policies:
  - name: chat
    match: {channel: chat}
    targets: {first_response: 60s}
    warnings: {at: [90%]}
"""


def test_the_event_time_clock_is_the_newest_event_time_less_the_lateness() -> None:
    clock = Clock(event_time=True, wall=lambda: 0.0, lateness_s=300)
    clock.observe(datetime.fromtimestamp(NOW + 1000, UTC))
    clock.observe(datetime.fromtimestamp(NOW + 10, UTC))  # late: the clock does not go back
    assert clock() == NOW + 700
    assert clock.now() == datetime.fromtimestamp(NOW + 700, UTC)


def test_the_wall_clock_ignores_the_lateness() -> None:
    clock = Clock(event_time=False, wall=lambda: NOW, lateness_s=300)
    clock.observe(datetime.fromtimestamp(NOW + 1000, UTC))
    assert clock() == NOW


def sla_kinds_of_s1(lateness_s: float) -> list[str]:
    """A chat answered at 50 s (target 60 s) whose answer arrives after an event at 100 s;
    the clock then moves on to 200 s."""
    h = Harness(rules=Rules(policies=parse_policies(POLICY)))
    h.pipeline.clock = h.clock = Clock(event_time=True, wall=lambda: 0.0, lateness_s=lateness_s)
    h.feed(SourceKind.CHATS, body("chat.started", 0, session_id="s1"))
    h.feed(SourceKind.CHATS, body("chat.started", 100, session_id="s2", customer_id="c2"))
    h.tick(0.0)
    h.feed(SourceKind.CHATS, body("chat.message", 50, session_id="s1", author="agent"))
    h.feed(SourceKind.CHATS, body("chat.started", 200, session_id="s3", customer_id="c3"))
    h.tick(0.0)
    return [event["kind"] for event in h.on("cc.sla-events") if event["ticket_id"] == "s1"]


def test_an_answer_up_to_the_lateness_late_still_meets_the_target() -> None:
    assert sla_kinds_of_s1(lateness_s=60) == ["applied", "met"]


def test_without_lateness_the_same_late_answer_comes_after_the_breach() -> None:
    assert sla_kinds_of_s1(lateness_s=0) == ["applied", "warning", "breached", "met"]


def test_the_lateness_is_read_from_the_environment_and_given_to_the_worker_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CCPULSE_SLA__CLOCK", "event_time")
    monkeypatch.setenv("CCPULSE_SLA__LATENESS_S", "90")
    settings = Settings()
    assert settings.sla.lateness_s == 90
    clock = clock_of(settings)
    clock.observe(datetime.fromtimestamp(NOW, UTC))
    assert clock() == NOW - 90
    assert Settings(sla=SlaSettings()).sla.lateness_s == 0


def test_a_negative_lateness_is_refused() -> None:
    with pytest.raises(ValidationError, match="lateness_s"):
        SlaSettings(lateness_s=-1)


def at(second: int) -> str:
    return (datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=second)).isoformat()


def ticket_event(second: int, ticket_id: str, customer_id: str, **fields: str) -> dict[str, str]:
    kind = "ticket.status_changed" if "status" in fields else "ticket.created"
    if kind == "ticket.created":
        fields["channel"] = "email"
    return {
        **body(kind, 0, ticket_id=ticket_id, customer_id=customer_id, **fields),
        "event_id": f"{ticket_id}-{second}",
        "occurred_at": at(second),
    }


def test_an_fcr_window_closes_only_on_the_clock_of_the_views_the_customer_step_has() -> None:
    """Ticket A is solved at 60 s and reopened at 3000 s, within its hour. An event at 4360 s
    moves the ticket step's clock (600 s lateness) past the window's end while A's reopen
    is still on its way to the customer step: a sweep then must not judge A on the old view
    (a verdict is final), but once A is solved again and its window passes."""
    h = Harness(rules=REPEATS)
    h.pipeline.clock = h.clock = Clock(event_time=True, wall=lambda: 0.0, lateness_s=600)
    h.feed(
        SourceKind.TICKETS,
        ticket_event(0, "A", "c1"),
        ticket_event(60, "A", "c1", status="solved"),
    )
    h.tick(0.0)
    h.pipeline.ingest(
        SourceKind.TICKETS,
        [
            Message("cc.tickets", 0, 10 + n, b"k", orjson.dumps(e))
            for n, e in enumerate(
                [ticket_event(3000, "A", "c1", status="open"), ticket_event(4360, "B", "c2")]
            )
        ],
    )
    h.deliver("routed")  # the ticket step is at 3760 s; A's reopen is on the views topic
    h.pipeline.share_clock((0,), 1)
    h.pipeline.close_windows(h.customers)
    assert not [m for m in h.on("cc.repeat-contacts") if m["type"] == "fcr_verdict"]
    h.drain()
    h.feed(
        SourceKind.TICKETS,
        ticket_event(3100, "A", "c1", status="solved"),
        ticket_event(7400, "C", "c2"),  # past the second window's end, less the lateness
    )
    h.tick(0.0)
    verdicts = [m for m in h.on("cc.repeat-contacts") if m["type"] == "fcr_verdict"]
    assert [(m["ticket_id"], m["fcr"], m["reopens"]) for m in verdicts] == [("A", False, 1)]


def test_a_views_partition_has_no_clock_until_every_ticket_partition_was_heard_from() -> None:
    clocks = ViewClocks()
    clocks.hear(3, Watermark(500.0, (0, 1), of=3))
    assert clocks.now(3) is None
    clocks.hear(3, Watermark(200.0, (2,), of=3))
    assert clocks.now(3) == 200.0
    clocks.hear(3, Watermark(100.0, (2,), of=3))  # a restarted sender: never backwards
    clocks.hear(3, Watermark(900.0, (2,), of=3))
    assert (clocks.now(3), clocks.now(4)) == (500.0, None)
    clocks.drop_partitions([3])
    assert clocks.now(3) is None


def late_harness() -> Harness:
    h = Harness(rules=REPEATS)
    h.pipeline.clock = h.clock = Clock(event_time=True, wall=lambda: 0.0, lateness_s=600)
    return h


def clocks_sent(h: Harness) -> int:
    return sum(1 for topic, key, _ in h.sent if topic == "views" and key is None)


def test_the_clock_is_shared_when_it_moved_or_the_group_rebalanced() -> None:
    h = late_harness()
    h.pipeline.share_clock((0, 1), 2)
    assert clocks_sent(h) == 0  # no event yet: no clock
    h.pipeline.ingest(SourceKind.TICKETS, [Message("t", 0, 0, b"k", orjson.dumps(TICKET_A))])
    h.deliver("routed")
    h.pipeline.share_clock((0, 1), 2)
    h.pipeline.share_clock((0, 1), 2)  # idle: nothing more on the topic
    assert clocks_sent(h) == 2
    h.pipeline.share_clock((1,), 2)
    assert clocks_sent(h) == 4
    h.pipeline.shared_clock = None  # as after a rebalance
    h.pipeline.share_clock((1,), 2)
    assert clocks_sent(h) == 6


TICKET_A = ticket_event(0, "A", "c1")


def test_a_restarted_worker_with_no_new_event_closes_the_windows_its_tables_passed() -> None:
    """The worker is killed after A's window passed on the ticket step's clock, before the
    customer step heard of it; no event arrives after the restart."""
    h = late_harness()
    h.feed(SourceKind.TICKETS, TICKET_A, ticket_event(60, "A", "c1", status="solved"))
    h.pipeline.ingest(
        SourceKind.TICKETS, [Message("t", 0, 5, b"k", orjson.dumps(ticket_event(4360, "B", "c2")))]
    )
    h.drain()
    assert not [m for m in h.on("cc.repeat-contacts") if m["type"] == "fcr_verdict"]
    h.restart()
    h.tick(0.0)
    verdicts = [m for m in h.on("cc.repeat-contacts") if m["type"] == "fcr_verdict"]
    assert [(m["ticket_id"], m["fcr"]) for m in verdicts] == [("A", True)]
