"""The synthetic contact center: realistic mix, valid events, deliberate imperfections."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from processor.codec import Rejection, SourceDecoder
from processor.demo.traffic import ContactCenter, Emission

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def simulate(minutes: float = 20, seed: int = 3, **options: Any) -> list[Emission]:
    center = ContactCenter(seed=seed, start=START, rate=4, **options)
    return center.advance(START + timedelta(minutes=minutes))


@pytest.fixture(scope="module")
def emissions() -> list[Emission]:
    return simulate()


@pytest.fixture(scope="module")
def events(emissions: list[Emission]) -> list[Any]:
    decoder = SourceDecoder(max_bytes=65536)
    decoded = [decoder.decode(e.kind, e.value) for e in emissions]
    return [event for event in decoded if not isinstance(event, Rejection)]


def test_the_same_seed_gives_the_same_traffic() -> None:
    assert simulate(5, seed=11) == simulate(5, seed=11)
    assert simulate(5, seed=11) != simulate(5, seed=12)


def test_emissions_come_in_due_order(emissions: list[Emission]) -> None:
    dues = [e.due for e in emissions]
    assert dues == sorted(dues)
    assert dues[-1] <= START + timedelta(minutes=20)


def test_new_contacts_follow_the_channel_mix(events: list[Any]) -> None:
    first_contacts = Counter(
        e.channel
        for e in events
        if e.type in {"call.queued", "email.received", "chat.started", "social.received"}
        and (e.type != "email.received" or e.event_id == _first_mail(events, e.thread_id))
    )
    total = sum(first_contacts.values())
    expected = {"phone": 0.35, "email": 0.25, "chat": 0.20, "social": 0.10, "sms": 0.10}
    for channel, share in expected.items():
        assert abs(first_contacts[channel] / total - share) < 0.05, channel


def _first_mail(events: list[Any], thread_id: str) -> str:
    return str(
        min(
            (e.occurred_at, e.event_id)
            for e in events
            if e.type == "email.received" and e.thread_id == thread_id
        )[1]
    )


def test_bots_automated_replies_and_internal_notes_are_present(events: list[Any]) -> None:
    assert any(e.type == "chat.message" and e.author == "bot" for e in events)
    assert any(e.type == "email.sent" and e.automated for e in events)
    assert any(e.type == "ticket.commented" and not e.public for e in events)
    assert any(e.type == "call.abandoned" for e in events)


def test_some_replies_reach_kafka_before_their_ticket(emissions: list[Emission]) -> None:
    first_reply: dict[str, int] = {}
    created_at: dict[str, int] = {}
    for position, emission in enumerate(emissions):
        try:
            body = orjson.loads(emission.value)
        except orjson.JSONDecodeError:
            continue
        if body.get("type") == "email.sent" and not body.get("automated"):
            first_reply.setdefault(body["ticket_id"], position)
        elif body.get("type") == "ticket.created":
            created_at[body["ticket_id"]] = position
    early = [t for t, position in first_reply.items() if position < created_at.get(t, 0)]
    assert 0 < len(early) < 0.15 * len(first_reply)


def test_customers_come_back_on_another_channel(events: list[Any]) -> None:
    channels: dict[str, set[str]] = {}
    for e in events:
        if e.type in {"call.queued", "email.received", "chat.started", "social.received"}:
            channels.setdefault(e.customer_id, set()).add(e.channel)
    assert sum(len(seen) > 1 for seen in channels.values()) >= 10


def test_multi_touch_tickets_and_reopens_happen(events: list[Any]) -> None:
    replies = Counter(e.ticket_id for e in events if e.type == "email.sent" and not e.automated)
    assert any(count >= 2 for count in replies.values())
    statuses: dict[str, list[str]] = {}
    for e in events:
        if e.type == "ticket.status_changed":
            statuses.setdefault(e.ticket_id, []).append(e.status)
    assert any("open" in seen for seen in statuses.values())


def test_a_trickle_of_malformed_messages_each_fails_validation(
    emissions: list[Emission], events: list[Any]
) -> None:
    rejected = len(emissions) - len(events)
    assert 0.002 < rejected / len(emissions) < 0.01
    clean = simulate(5, malformed_fraction=0.0)
    decoder = SourceDecoder(max_bytes=65536)
    assert not any(isinstance(decoder.decode(e.kind, e.value), Rejection) for e in clean)
