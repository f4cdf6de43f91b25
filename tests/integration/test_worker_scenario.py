"""A scripted multi-channel day on the real embedded broker and a real worker process.

Every expected number below is worked out by hand from the metric semantics.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from processor.config import Settings
from tests.integration.support import (
    WorkerProcess,
    eventually,
    last_per_key,
    produce,
    read_topic,
)

pytestmark = pytest.mark.integration


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minute: float) -> str:
    return (T0 + timedelta(seconds=round(minute * 60))).isoformat()


def ev(kind: str, event_id: str, minute: float, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": event_id,
        "occurred_at": at(minute),
        "customer_id": "cust-" + event_id.split("-", maxsplit=1)[0],
        **fields,
    }


def scenario(settings: Settings) -> tuple[list[Any], list[Any]]:
    """Two waves: the second holds T2's ticket.created, produced after its agent reply."""
    t = settings.topics
    first = [
        # T1: an email ticket; a bot auto-reply, a human answer after 30 min, solved at 60.
        (
            t.tickets,
            b"T1",
            ev("ticket.created", "t1-1", 0, ticket_id="T1", channel="email", priority="high"),
        ),
        (
            t.emails,
            b"T1",
            ev(
                "email.sent",
                "t1-2",
                1,
                ticket_id="T1",
                thread_id="m",
                message_id="a",
                automated=True,
            ),
        ),
        (
            t.emails,
            b"T1",
            ev(
                "email.sent",
                "t1-3",
                30,
                ticket_id="T1",
                thread_id="m",
                message_id="b",
                agent_id="ag",
            ),
        ),
        (
            t.tickets,
            b"T1",
            ev("ticket.status_changed", "t1-4", 60, ticket_id="T1", status="solved"),
        ),
        # T2: the agent's reply (minute 10) arrives before the ticket.created (minute 5).
        (
            t.emails,
            b"T2",
            ev(
                "email.sent",
                "t2-1",
                10,
                ticket_id="T2",
                thread_id="n",
                message_id="c",
                agent_id="ag",
            ),
        ),
        # T3: a bare call answered after 42 s, ended at minute 5; then its answer redelivered.
        (t.calls, b"c3", ev("call.queued", "t3-1", 0, call_id="c3")),
        (t.calls, b"c3", ev("call.answered", "t3-2", 0.7, call_id="c3", agent_id="ag")),
        (t.calls, b"c3", ev("call.ended", "t3-3", 5, call_id="c3")),
        (t.calls, b"c3", ev("call.answered", "t3-2", 0.7, call_id="c3", agent_id="ag")),
        # T4: a bare call abandoned after 30 s: no FRT.
        (t.calls, b"c4", ev("call.queued", "t4-1", 0, call_id="c4")),
        (t.calls, b"c4", ev("call.abandoned", "t4-2", 0.5, call_id="c4")),
        # T5: a chat with a bot greeting, two agent messages (one touch), ended at minute 10.
        (t.chats, b"s5", ev("chat.started", "t5-1", 0, session_id="s5")),
        (t.chats, b"s5", ev("chat.message", "t5-2", 1 / 60, session_id="s5", author="bot")),
        (t.chats, b"s5", ev("chat.message", "t5-3", 25 / 60, session_id="s5", author="agent")),
        (t.chats, b"s5", ev("chat.message", "t5-4", 40 / 60, session_id="s5", author="agent")),
        (t.chats, b"s5", ev("chat.ended", "t5-5", 10, session_id="s5")),
        # T6: a social post nobody has answered yet.
        (
            t.social,
            b"p6",
            ev("social.received", "t6-1", 2, conversation_id="p6", post_id="x", network="x"),
        ),
        # Bad input, each with its reason.
        (t.calls, b"bad", b"{oops"),
        (
            t.emails,
            b"bad",
            ev("email.received", "bad-1", 1, thread_id="q", message_id="q")
            | {"occurred_at": "2026-03-02T09:01:00"},
        ),
        (t.chats, b"bad", ev("chat.exploded", "bad-2", 1, session_id="q")),
        (t.social, b"bad", ev("social.received", "bad-3", 1, post_id="q", network="x")),
    ]
    second = [
        (t.tickets, b"T2", ev("ticket.created", "t2-2", 5, ticket_id="T2", channel="email")),
        (
            t.tickets,
            b"T2",
            ev("ticket.status_changed", "t2-3", 20, ticket_id="T2", status="solved"),
        ),
        (t.tickets, b"T2", ev("ticket.status_changed", "t2-4", 25, ticket_id="T2", status="open")),
        (
            t.social,
            b"T2",
            ev(
                "social.replied",
                "t2-5",
                26,
                ticket_id="T2",
                conversation_id="n",
                post_id="y",
                network="x",
                agent_id="ag",
            ),
        ),
        (
            t.tickets,
            b"T2",
            ev("ticket.status_changed", "t2-6", 30, ticket_id="T2", status="solved"),
        ),
    ]
    return first, second


def test_a_multichannel_scenario_gives_exact_metrics_and_snapshots(
    settings: Settings, tmp_path: Path
) -> None:
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        first, second = scenario(settings)
        worker.wait_for(lambda w: w.scrape() is not None, what="/metrics")
        produce(settings.kafka.bootstrap_servers, first)
        worker.wait_for(
            lambda w: (
                w.value("ccpulse_tickets_created_total", channel="social", priority="normal") == 1
                and w.value("ccpulse_events_consumed_total", source="emails", type="email.sent")
                == 3
            ),
            what="the first wave",
        )
        produce(settings.kafka.bootstrap_servers, second)
        worker.wait_for(
            lambda w: (
                w.value("ccpulse_tickets_resolved_total", channel="email", priority="normal") == 2
            ),
            what="the second wave",
        )
        # Sources are consumed independently: wait until every figure has arrived.
        eventually(lambda: assert_metrics(worker))
        eventually(lambda: assert_snapshots(settings))
        eventually(lambda: assert_dead_letters(settings))
    finally:
        worker.stop()


def assert_metrics(worker: WorkerProcess) -> None:
    m = worker.scrape()

    def value(name: str, **labels: str) -> float:
        return m.get((name, tuple(sorted(labels.items()))), 0.0)

    frt = "ccpulse_first_response_seconds"
    expected_frt = {
        ("email", "high"): (1, 1800),
        ("email", "normal"): (1, 300),
        ("phone", "normal"): (1, 42),
        ("chat", "normal"): (1, 25),
        ("social", "normal"): (0, 0),
    }
    for (channel, priority), (count, total) in expected_frt.items():
        labels = {"channel": channel, "priority": priority}
        assert (value(f"{frt}_count", **labels), value(f"{frt}_sum", **labels)) == (count, total)
    assert value(f"{frt}_bucket", channel="phone", priority="normal", le="30.0") == 0
    assert value(f"{frt}_bucket", channel="phone", priority="normal", le="60.0") == 1

    created = {
        ("email", "high"): 1,
        ("email", "normal"): 1,
        ("phone", "normal"): 2,
        ("chat", "normal"): 1,
        ("social", "normal"): 1,
    }
    resolved = {
        ("email", "high"): 1,
        ("email", "normal"): 2,
        ("phone", "normal"): 1,
        ("chat", "normal"): 1,
    }
    # T2's first resolution was one-touch when it happened; its reopen does not undo that.
    one_touch = {
        ("email", "high"): 1,
        ("email", "normal"): 1,
        ("phone", "normal"): 1,
        ("chat", "normal"): 1,
    }
    for channel, priority in created:
        labels = {"channel": channel, "priority": priority}
        key = (channel, priority)
        assert value("ccpulse_tickets_created_total", **labels) == created[key], key
        assert value("ccpulse_tickets_resolved_total", **labels) == resolved.get(key, 0), key
        assert value("ccpulse_one_touch_resolutions_total", **labels) == one_touch.get(key, 0)
        is_social = key == ("social", "normal")
        assert value("ccpulse_tickets_open", **labels) == is_social, key
        assert value("ccpulse_tickets_awaiting_first_response", **labels) == is_social, key

    assert value("ccpulse_ticket_reopens_total", channel="email", priority="normal") == 1
    assert value("ccpulse_resolution_seconds_sum", channel="email", priority="normal") == 900 + 1500
    assert value("ccpulse_touches_per_resolution_sum", channel="email", priority="normal") == 1 + 2
    assert value("ccpulse_resolution_seconds_sum", channel="phone", priority="normal") == 300
    assert value("ccpulse_events_duplicate_total", source="calls") == 1
    assert value("ccpulse_oldest_awaiting_first_response_seconds", channel="social") > 0
    for source, reason in [
        ("calls", "invalid_json"),
        ("emails", "naive_timestamp"),
        ("chats", "unknown_type"),
        ("social", "invalid_event"),
    ]:
        assert value("ccpulse_events_rejected_total", source=source, reason=reason) == 1


def assert_snapshots(settings: Settings) -> None:
    records = read_topic(settings.kafka.bootstrap_servers, settings.topics.ticket_metrics, 4)
    latest = last_per_key(records)
    assert set(latest) == {"T1", "T2", "c3", "c4", "s5", "p6"}
    expected = {
        "T1": (1800.0, 1, 3600.0, 0, True),
        "T2": (300.0, 2, 1500.0, 1, False),
        "c3": (42.0, 1, 300.0, 0, True),
        "c4": (None, 0, None, 0, None),
        "s5": (25.0, 1, 600.0, 0, True),
        "p6": (None, 0, None, 0, None),
    }
    for ticket, values in expected.items():
        snapshot = latest[ticket]
        got = tuple(
            snapshot[field]
            for field in (
                "first_response_seconds",
                "touches",
                "resolution_seconds",
                "reopens",
                "one_touch",
            )
        )
        assert got == values, ticket
    assert latest["T2"]["resolutions"] == 2
    assert latest["p6"]["awaiting_first_response"] is True
    assert latest["c4"]["is_open"] is False
    assert latest["T1"]["customer_id"] == "cust-t1"


def assert_dead_letters(settings: Settings) -> None:
    records = read_topic(settings.kafka.bootstrap_servers, settings.topics.deadletter, 4)
    import orjson

    letters = sorted(orjson.loads(value)["reason"] for _, value in records)
    assert letters == ["invalid_event", "invalid_json", "naive_timestamp", "unknown_type"]
