"""Repeat contacts across channels and FCR verdicts, through the customer agent.

The worker runs on event time (as replays do), so windows close when the newest event
time seen passes them: a customer who emails and calls back two days later has a repeat
contact and a negative FCR verdict on the email ticket; a customer who does not come back
gets a positive verdict, and only once the window has closed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from processor.config import RepeatSettings, Settings, SlaSettings
from processor.events import SourceKind
from tests.integration.support import (
    TopicWatcher,
    WorkerProcess,
    eventually,
    last_per_key,
    produce,
    read_topic,
)

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ev(kind: str, at: timedelta, customer: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": f"{kind}-{customer}-{at.total_seconds()}",
        "occurred_at": (T0 + at).isoformat(),
        "customer_id": customer,
        **fields,
    }


def email_ticket(customer: str, ticket: str, start: timedelta) -> list[tuple[str, dict[str, Any]]]:
    """An email answered after 20 minutes and solved after an hour."""
    mail = {"thread_id": ticket, "ticket_id": ticket}
    return [
        ("emails", ev("email.received", start, customer, message_id=f"{ticket}-1", **mail)),
        (
            "emails",
            ev(
                "email.sent",
                start + timedelta(minutes=20),
                customer,
                message_id=f"{ticket}-2",
                **mail,
            ),
        ),
        (
            "tickets",
            ev(
                "ticket.status_changed",
                start + timedelta(hours=1),
                customer,
                ticket_id=ticket,
                status="solved",
            ),
        ),
    ]


def test_a_callback_two_days_later_is_a_repeat_and_fails_fcr_while_silence_passes(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={
            "repeat": RepeatSettings(windows=("24h", "3d")),
            "sla": SlaSettings(clock="event_time", check_interval_s=0.25),
        }
    )
    call = {"call_id": "call-77"}
    first = [
        *email_ticket("cust-a", "ZD-1", timedelta(0)),
        *email_ticket("cust-b", "ZD-2", timedelta(hours=2)),
        ("calls", ev("call.queued", timedelta(days=2), "cust-a", **call)),
        (
            "calls",
            ev("call.answered", timedelta(days=2, seconds=30), "cust-a", agent_id="ag", **call),
        ),
        ("calls", ev("call.ended", timedelta(days=2, minutes=6), "cust-a", **call)),
    ]
    # The newest event time passes ZD-1's window (solved at 1 h, closes at 3 d 1 h), not ZD-2's.
    tick = [*email_ticket("cust-c", "ZD-3", timedelta(days=3, minutes=70))]
    # ... and now ZD-2's (solved at 3 h, closes at 3 d 3 h) as well.
    later = [*email_ticket("cust-d", "ZD-4", timedelta(days=3, hours=4))]
    bootstrap = settings.kafka.bootstrap_servers

    def send(batch: list[tuple[str, dict[str, Any]]]) -> None:
        produce(
            bootstrap,
            [(settings.topics.source(SourceKind(kind)), None, body) for kind, body in batch],
        )

    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        with TopicWatcher(bootstrap, settings.topics.repeat_contacts, 4) as found:
            send(first)
            eventually(lambda: _has(found, type="repeat_contact", ticket_id="call-77"))
            send(tick)
            eventually(lambda: _has(found, type="fcr_verdict", ticket_id="ZD-1"))
            assert not found.messages(type="fcr_verdict", ticket_id="ZD-2")
            send(later)
            eventually(lambda: _has(found, type="fcr_verdict", ticket_id="ZD-2"))
            eventually(lambda: _snapshot_has(settings, "ZD-2", fcr=True))
            eventually(lambda: _snapshot_has(settings, "call-77", repeat_of="ZD-1"))
            repeats = worker.value(
                "ccpulse_repeat_contacts_total",
                window="3d",
                channel="phone",
                previous_channel="email",
            )
            day_repeats = worker.total("ccpulse_repeat_contacts_total") - repeats
            negative = worker.value(
                "ccpulse_fcr_verdicts_total", channel="email", verdict="negative"
            )
            positive = worker.value(
                "ccpulse_fcr_verdicts_total", channel="email", verdict="positive"
            )
    finally:
        worker.stop()

    ((_, repeat),) = found.messages(type="repeat_contact")
    assert repeat["repeat_of"] == "ZD-1"
    assert repeat["previous_channel"] == "email"
    assert repeat["channel"] == "phone"
    assert repeat["gap_seconds"] == timedelta(days=2).total_seconds()
    assert repeat["windows"] == ["3d"]
    verdicts = {m["ticket_id"]: m["fcr"] for _, m in found.messages(type="fcr_verdict")}
    assert verdicts == {"ZD-1": False, "ZD-2": True}
    snapshots = last_per_key(read_topic(bootstrap, settings.topics.ticket_metrics, 4))
    assert snapshots["ZD-1"]["fcr"] is False
    assert snapshots["call-77"]["repeat_previous_channel"] == "email"
    assert snapshots["call-77"]["repeat_gap_seconds"] == timedelta(days=2).total_seconds()
    assert (repeats, day_repeats, negative, positive) == (1, 0, 1, 1)


def _has(watcher: TopicWatcher, **match: Any) -> None:
    assert watcher.messages(**match)


def _snapshot_has(settings: Settings, ticket: str, **fields: Any) -> None:
    records = read_topic(settings.kafka.bootstrap_servers, settings.topics.ticket_metrics, 4)
    snapshot = last_per_key(records)[ticket]
    assert {name: snapshot[name] for name in fields} == fields
