"""The synthetic contact center: realistic mix, valid events, deliberate imperfections."""

from __future__ import annotations

import asyncio
import math
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import TypeAdapter, ValidationError

from processor.codec import Rejection, RejectReason, SourceDecoder
from processor.config import KafkaSettings, Settings
from processor.demo import traffic
from processor.demo.simulation import WAVE_PERIOD_S, ContactCenter, Emission
from processor.events import SourceEvent, source_of, ticket_key

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EVENTS: TypeAdapter[Any] = TypeAdapter(SourceEvent)
FIRST_CONTACTS = {"call.queued", "chat.started", "email.received", "social.received"}


def simulate(minutes: float = 30, seed: int = 3, **options: Any) -> list[Emission]:
    center = ContactCenter(seed=seed, start=START, rate=options.pop("rate", 4), **options)
    return center.advance(START + timedelta(minutes=minutes))


def events_of(emissions: list[Emission]) -> list[Any]:
    return [e.payload for e in emissions if not isinstance(e.payload, bytes)]


@pytest.fixture(scope="module")
def emissions() -> list[Emission]:
    return simulate()


@pytest.fixture(scope="module")
def events(emissions: list[Emission]) -> list[Any]:
    return events_of(emissions)


def new_contacts(events: list[Any]) -> dict[str, Any]:
    """The first inbound event of each conversation (a call, a session, a thread)."""
    first: dict[str, Any] = {}
    for event in events:
        if event.type in FIRST_CONTACTS:
            conversation = next(
                getattr(event, name)
                for name in ("call_id", "session_id", "thread_id", "conversation_id")
                if hasattr(event, name)
            )
            first.setdefault(conversation, event)
    return first


def test_the_same_seed_and_start_give_the_same_traffic() -> None:
    assert simulate(5, seed=11) == simulate(5, seed=11)
    assert simulate(5, seed=11) != simulate(5, seed=12)


def test_advancing_in_small_steps_gives_the_same_traffic_as_one_big_step() -> None:
    center = ContactCenter(seed=5, start=START, rate=4)
    stepped = [
        emission
        for tick in range(1, 3001)
        for emission in center.advance(START + timedelta(seconds=tick * 0.1))
    ]
    assert stepped == simulate(5, seed=5)


def test_a_restarted_generator_repeats_no_event_or_ticket_id() -> None:
    first = ContactCenter(seed=7, start=START, rate=4).advance(START + timedelta(minutes=2))
    later = START + timedelta(hours=1)
    second = ContactCenter(seed=7, start=later, rate=4).advance(later + timedelta(minutes=2))
    ids = [{e.event_id for e in events_of(run)} for run in (first, second)]
    keys = [{e.key for e in run} for run in (first, second)]
    assert not ids[0] & ids[1]
    assert not keys[0] & keys[1]


def test_emissions_come_in_due_order_and_never_before_they_happened(
    emissions: list[Emission],
) -> None:
    dues = [e.due for e in emissions]
    assert dues == sorted(dues)
    assert dues[0] >= START
    assert dues[-1] <= START + timedelta(minutes=30)
    assert all(
        e.due >= e.payload.occurred_at for e in emissions if not isinstance(e.payload, bytes)
    )


def test_every_event_revalidates_and_goes_to_its_source_keyed_by_its_ticket(
    emissions: list[Emission],
) -> None:
    ids = set()
    for emission in emissions:
        if isinstance(emission.payload, bytes):
            continue
        event = emission.payload
        assert EVENTS.validate_json(emission.value) == event
        assert emission.kind == source_of(event.type)
        assert emission.key == ticket_key(event).encode()
        assert event.occurred_at.utcoffset() == timedelta(0)
        assert orjson.loads(emission.value)["occurred_at"].endswith("Z")
        ids.add(event.event_id)
    assert len(ids) == len(events_of(emissions))


def test_new_contacts_follow_the_channel_mix(events: list[Any]) -> None:
    channels = Counter(str(event.channel) for event in new_contacts(events).values())
    total = sum(channels.values())
    assert total > 6000
    expected = {"phone": 0.35, "email": 0.25, "chat": 0.20, "social": 0.10, "sms": 0.10}
    for channel, share in expected.items():
        assert channels[channel] / total == pytest.approx(share, abs=0.025), channel


def test_contacts_arrive_in_waves(events: list[Any]) -> None:
    crest = trough = 0
    for event in new_contacts(events).values():
        phase = (event.occurred_at - START).total_seconds() / WAVE_PERIOD_S
        if math.sin(2 * math.pi * phase) > 0:
            crest += 1
        else:
            trough += 1
    assert crest > 1.8 * trough


def first_reply_medians(time_scale: float) -> dict[str, float]:
    """Median wait from a contact to its first human answer, for contacts of the first
    six hours (twelve are simulated, so slow answers are not cut off)."""
    center = ContactCenter(seed=9, start=START, rate=0.05, time_scale=time_scale)
    events = events_of(center.advance(START + timedelta(hours=12)))
    contacted = {
        ticket_key(e): e.occurred_at
        for e in new_contacts(events).values()
        if e.occurred_at < START + timedelta(hours=6)
    }
    waits: defaultdict[str, list[float]] = defaultdict(list)
    for e in events:
        human = e.type in {"email.sent", "call.answered"} and not getattr(e, "automated", False)
        if human and contacted.get(ticket_key(e)):
            waited = e.occurred_at - contacted.pop(ticket_key(e))
            waits[e.channel].append(waited.total_seconds())
    return {channel: statistics.median(values) for channel, values in waits.items()}


def test_time_scale_compresses_slow_channels_but_not_the_phone_queue() -> None:
    demo, real = first_reply_medians(120), first_reply_medians(1)
    assert 30 < demo["email"] < 90
    assert 3600 < real["email"] < 3 * 3600
    assert 15 < demo["phone"] < 25
    assert 15 < real["phone"] < 40


def test_bots_automated_replies_whispers_and_internal_notes_are_present(
    events: list[Any],
) -> None:
    assert any(e.type == "chat.message" and e.author == "bot" for e in events)
    assert any(e.type == "chat.message" and e.internal for e in events)
    assert any(e.type == "email.sent" and e.automated for e in events)
    assert any(e.type == "social.replied" and e.automated for e in events)
    assert any(e.type == "ticket.commented" and not e.public for e in events)


def test_some_replies_reach_kafka_before_their_ticket(emissions: list[Emission]) -> None:
    first_reply: dict[str, int] = {}
    created: dict[str, tuple[int, datetime, datetime]] = {}
    for position, emission in enumerate(emissions):
        event: Any = emission.payload
        if isinstance(event, bytes):
            continue
        if event.type in {"email.sent", "social.replied"} and not event.automated:
            first_reply.setdefault(event.ticket_id, position)
        elif event.type == "ticket.created":
            created[event.ticket_id] = (position, emission.due, event.occurred_at)
    late = [created[t] for t, at in first_reply.items() if t in created and created[t][0] > at]
    assert 0.02 * len(first_reply) < len(late) < 0.1 * len(first_reply)
    # Sent late, but stamped with when the ticket was really created.
    assert all(due > occurred_at for _, due, occurred_at in late)


def test_customers_come_back_on_another_channel(events: list[Any]) -> None:
    channels: defaultdict[str, set[str]] = defaultdict(set)
    for event in new_contacts(events).values():
        channels[event.customer_id].add(event.channel)
    assert sum(len(seen) > 1 for seen in channels.values()) > 0.03 * len(channels)


def test_tickets_take_several_touches_wait_on_customers_and_reopen(events: list[Any]) -> None:
    replies = Counter(e.ticket_id for e in events if e.type == "email.sent" and not e.automated)
    assert sum(count >= 2 for count in replies.values()) > 0.2 * len(replies)
    changes: defaultdict[str, list[str]] = defaultdict(list)
    for e in events:
        if e.type == "ticket.status_changed":
            changes[e.ticket_id].append(e.status)
    # Tickets still running when the simulation stops are left out.
    statuses = {ticket: seen for ticket, seen in changes.items() if "solved" in seen}
    assert any("pending" in seen for seen in statuses.values())
    reopened = [s for s in statuses.values() if "open" in s[s.index("solved") :]]
    assert reopened
    assert any(s.count("solved") == 2 for s in reopened)


def test_every_contact_ends_abandoned_calls_included() -> None:
    events = events_of(simulate(120, seed=2, rate=1))
    opened = {
        ticket_key(e)
        for e in new_contacts(events).values()
        if e.occurred_at < START + timedelta(minutes=30)
    }
    endings = {
        ticket_key(e)
        for e in events
        if (e.type == "ticket.status_changed" and e.status == "solved")
        or (e.type in {"call.ended", "chat.ended", "call.abandoned"} and e.ticket_id is None)
    }
    assert opened <= endings
    assert any(e.type == "call.abandoned" and e.ticket_id is None for e in events)
    assert any(e.type == "call.outbound" for e in events)  # a ticketed abandoned call


def test_surveys_of_every_kind_follow_some_contacts(events: list[Any]) -> None:
    kinds = Counter(e.type for e in events if e.type.startswith("survey."))
    assert set(kinds) == {"survey.csat_answered", "survey.nps_answered", "survey.ces_answered"}
    assert all(e.channel for e in events if e.type.startswith("survey."))


def test_a_trickle_of_malformed_messages_each_fails_validation(
    emissions: list[Emission],
) -> None:
    malformed = [e for e in emissions if isinstance(e.payload, bytes)]
    assert 0.003 < len(malformed) / len(emissions) < 0.007
    decoder = SourceDecoder(max_bytes=65536)
    for emission in malformed:
        assert isinstance(decoder.decode(emission.kind, emission.value), Rejection)
        with pytest.raises((ValidationError, ValueError)):
            EVENTS.validate_json(emission.value)


def test_malformed_messages_of_every_kind_come_on_top_of_the_traffic() -> None:
    noisy = simulate(5, malformed_fraction=0.2)
    decoder = SourceDecoder(max_bytes=65536)
    reasons = {
        decoder.decode(e.kind, e.value).reason for e in noisy if isinstance(e.payload, bytes)
    }
    assert reasons == {
        RejectReason.INVALID_JSON,
        RejectReason.INVALID_EVENT,
        RejectReason.UNKNOWN_TYPE,
        RejectReason.NAIVE_TIMESTAMP,
    }
    clean = simulate(5, malformed_fraction=0.0)
    assert events_of(noisy) == events_of(clean)
    assert not any(isinstance(e.payload, bytes) for e in clean)


class FakeProducer:
    """Stands in for ``AIOKafkaProducer``: records what would be sent."""

    made: list[FakeProducer] = []  # noqa: RUF012 - the instances a test created

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.stopped = False
        FakeProducer.made.append(self)

    async def start(self) -> None:
        pass

    async def send(self, topic: str, *, value: bytes, key: bytes) -> None:
        self.sent.append((topic, key, value))

    async def flush(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True


def test_run_traffic_sends_due_events_to_their_topics_until_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(traffic, "AIOKafkaProducer", FakeProducer)
    settings = Settings(kafka=KafkaSettings(bootstrap_servers="broker-a:9092,broker-b:9092"))

    async def run_for(seconds: float) -> float:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        began = datetime.now(UTC)
        await traffic.run_traffic(settings, rate=50, time_scale=120, seed=1, stop=stop)
        return (datetime.now(UTC) - began).total_seconds()

    took = asyncio.run(run_for(1.0))
    producer = FakeProducer.made[-1]
    assert producer.options["bootstrap_servers"] == ["broker-a:9092", "broker-b:9092"]
    assert producer.stopped
    assert took < 5  # it stops when told, not when the simulation runs dry
    decoder, topics = SourceDecoder(max_bytes=65536), settings.topics.sources()
    decoded = [(key, decoder.decode(topics[topic], value)) for topic, key, value in producer.sent]
    sent = [(key, event) for key, event in decoded if not isinstance(event, Rejection)]
    assert len(sent) > 20
    assert all(key == ticket_key(event).encode() for key, event in sent)
    now = datetime.now(UTC)
    assert all(now - timedelta(seconds=3) < event.occurred_at <= now for _, event in sent)
