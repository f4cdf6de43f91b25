"""A real worker on the embedded broker, fed hundreds of bad messages on every source topic
among valid events whose metrics are known exactly.

Every kind of bad input goes to every topic, under random message keys (or none), and
the valid events are keyed unlike the tickets their bodies name. The worker must keep
running and serving /metrics, put every bad message on the dead-letter topic with its
reason and original bytes, count each under (source, reason), and measure the valid
events exactly. The worker's timestamp bounds are set away from their defaults, so the
events just inside and just outside them show that the settings reach the decoder.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from processor.codec import RejectReason
from processor.config import Settings
from processor.contracts import EXAMPLES
from processor.events import SourceKind, event_models, source_of
from tests.integration.support import WorkerProcess, read_topic

pytestmark = pytest.mark.integration

BAD_PER_TOPIC = 220
TICKETS_PER_TOPIC = 20
SKEW_S, AGE_DAYS = 3600.0, 30.0
NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(hours=2)
Bad = tuple[RejectReason, bytes | None]


def at(moment: datetime) -> str:
    return moment.isoformat()


def example(kind: SourceKind, rng: random.Random, **changes: Any) -> dict[str, Any]:
    body = dict(EXAMPLES[rng.choice(sorted(event_models(kind)))])
    return {**body, "occurred_at": at(T0), **changes}


def other_topics_type(kind: SourceKind, rng: random.Random) -> str:
    others = [t for other in SourceKind if other != kind for t in event_models(other)]
    return rng.choice(others)


def without_a_required_field(body: dict[str, Any], rng: random.Random) -> bytes:
    model = event_models(source_of(str(body["type"])))[str(body["type"])]
    required = sorted(n for n, f in model.model_fields.items() if f.is_required() and n != "type")
    gone = rng.choice(required)
    return orjson.dumps({k: v for k, v in body.items() if k != gone})


def padded(body: dict[str, Any], size: int) -> bytes:
    base = orjson.dumps({**body, "pad": ""})
    return base[:-2] + b"x" * (size - len(base)) + b'"}'


def bad_messages(kind: SourceKind, rng: random.Random, max_bytes: int) -> list[Bad]:
    """``BAD_PER_TOPIC`` bad messages for ``kind``'s topic, each with the reason it must get."""

    def body(**changes: Any) -> dict[str, Any]:
        return example(kind, rng, **changes)

    def json(**changes: Any) -> bytes:
        return orjson.dumps(body(**changes))

    future = [at(NOW + timedelta(hours=2)), "9999-12-31T23:59:59-05:00"]
    ancient = [at(NOW - timedelta(days=60)), "1970-01-01T00:00:00Z", 0]
    makers: list[tuple[RejectReason, Callable[[], bytes | None]]] = [
        (RejectReason.EMPTY, lambda: rng.choice([b"", None])),
        (RejectReason.TOO_LARGE, lambda: padded(body(), max_bytes + rng.randint(1, 99))),
        (RejectReason.INVALID_JSON, lambda: json()[: rng.randint(1, 60)]),
        (RejectReason.INVALID_JSON, lambda: json().replace(b'":"', b'":"\xff', 1)),
        (RejectReason.NOT_AN_OBJECT, lambda: orjson.dumps(rng.choice([[1], 3.5, "a", None, []]))),
        (RejectReason.UNKNOWN_TYPE, lambda: json(type=other_topics_type(kind, rng))),
        (RejectReason.UNKNOWN_TYPE, lambda: json(type=rng.choice([[], {}, 7, "x.y"]))),
        (RejectReason.NAIVE_TIMESTAMP, lambda: json(occurred_at="2026-03-02T09:14:05")),
        (RejectReason.FUTURE_TIMESTAMP, lambda: json(occurred_at=rng.choice(future))),
        (RejectReason.ANCIENT_TIMESTAMP, lambda: json(occurred_at=rng.choice(ancient))),
        (RejectReason.INVALID_EVENT, lambda: json(occurred_at="yesterday")),
        (RejectReason.INVALID_EVENT, lambda: without_a_required_field(body(), rng)),
        (RejectReason.INVALID_EVENT, lambda: json(customer_id={"id": 1})),
    ]
    chosen = (makers[i % len(makers)] for i in range(BAD_PER_TOPIC))
    return [(reason, make()) for reason, make in chosen]


def ev(kind: str, moment: datetime, i: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": f"{kind}-{i}",
        "occurred_at": at(moment),
        "customer_id": f"cust-{kind.split('.', maxsplit=1)[0]}-{i}",
        **fields,
    }


FRT = {
    SourceKind.CALLS: ("phone", 15),
    SourceKind.EMAILS: ("email", 600),
    SourceKind.CHATS: ("chat", 30),
    SourceKind.SOCIAL: ("social", 300),
    SourceKind.TICKETS: ("web", 120),
}
"""The channel of each topic's tickets and the seconds their agents take to answer."""


def conversation(kind: SourceKind, i: int, opened: datetime) -> list[dict[str, Any]]:
    """Ticket ``i`` of ``kind``'s topic: a customer's contact and an agent's answer (for
    surveys: an answer about no known ticket)."""
    if kind is SourceKind.SURVEYS:
        return [ev("survey.nps_answered", opened, i, survey_id=f"srv-{i}", score=i % 11)]
    answered = opened + timedelta(seconds=FRT[kind][1])
    match kind:
        case SourceKind.CALLS:
            call = {"call_id": f"call-{i}"}
            return [
                ev("call.queued", opened, i, **call),
                ev("call.answered", answered, i, agent_id="ag", **call),
            ]
        case SourceKind.EMAILS:
            thread = {"thread_id": f"thr-{i}"}
            return [
                ev("email.received", opened, i, message_id=f"<{i}a@x>", **thread),
                ev("email.sent", answered, i, message_id=f"<{i}b@x>", agent_id="ag", **thread),
            ]
        case SourceKind.CHATS:
            session = {"session_id": f"chs-{i}"}
            return [
                ev("chat.started", opened, i, **session),
                ev("chat.message", answered, i, author="agent", **session),
            ]
        case SourceKind.SOCIAL:
            thread = {"conversation_id": f"conv-{i}", "network": "x"}
            return [
                ev("social.received", opened, i, post_id=f"p{i}", **thread),
                ev("social.replied", answered, i, post_id=f"q{i}", agent_id="ag", **thread),
            ]
        case _:
            ticket = {"ticket_id": f"ZD-{i}"}
            return [
                ev("ticket.created", opened, i, channel="web", **ticket),
                ev("ticket.commented", answered, i, author="agent", **ticket),
            ]


def valid_events(kind: SourceKind) -> list[dict[str, Any]]:
    opened = [T0 + timedelta(minutes=i) for i in range(TICKETS_PER_TOPIC)]
    if kind is SourceKind.CALLS:  # inside the configured skew, outside the default one
        opened.append(NOW + timedelta(minutes=30))
    return [event for i, moment in enumerate(opened) for event in conversation(kind, i, moment)]


async def _send(bootstrap: str, messages: list[tuple[str, bytes | None, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for topic, key, value in messages:
            await producer.send(topic, key=key, value=value)
        await producer.flush()
    finally:
        await producer.stop()


def test_bad_input_on_every_topic_is_dead_lettered_and_counted_while_the_worker_keeps_measuring(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"max_future_skew_s": SKEW_S, "max_event_age_days": AGE_DAYS}
    )
    rng = random.Random(20260302)
    messages: list[tuple[str, bytes | None, bytes | None]] = []
    sent_bad: Counter[tuple[str, str]] = Counter()
    originals: Counter[tuple[str, bytes]] = Counter()
    consumed: Counter[tuple[str, str]] = Counter()
    for kind in SourceKind:
        topic = settings.topics.source(kind)
        for reason, raw in bad_messages(kind, rng, settings.max_event_bytes):
            # A tombstone (no value) needs a key; any other message may have none.
            key = rng.choice([b"k", rng.randbytes(8), *([None] if raw is not None else [])])
            messages.append((topic, key, raw))
            sent_bad[kind.value, reason.value] += 1
            originals[topic, raw or b""] += 1
        for body in valid_events(kind):
            key = f"ZD-{rng.randrange(100, 1000)}".encode()  # never the ticket the body names
            messages.append((topic, key, orjson.dumps(body)))
            consumed[kind.value, body["type"]] += 1
    rng.shuffle(messages)
    answered = len(FRT) * TICKETS_PER_TOPIC + 1

    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        # /metrics is served once the worker has created the topics.
        worker.wait_for(lambda w: bool(w.scrape()), what="/metrics")
        asyncio.run(_send(settings.kafka.bootstrap_servers, messages))

        def caught_up(w: WorkerProcess) -> bool:
            return (
                w.total("ccpulse_events_rejected_total") == sum(sent_bad.values())
                and w.total("ccpulse_events_consumed_total") == sum(consumed.values())
                and w.total("ccpulse_first_response_seconds_count") == answered
            )

        worker.wait_for(caught_up, timeout=90, what="every message consumed or rejected")
        samples = worker.scrape()
        assert worker.alive()
    finally:
        worker.stop()

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    for kind in SourceKind:
        for reason in RejectReason:
            got = value("ccpulse_events_rejected_total", source=kind.value, reason=reason.value)
            assert got == sent_bad[kind.value, reason.value], (kind, reason)
    for (source, event_type), count in consumed.items():
        assert value("ccpulse_events_consumed_total", source=source, type=event_type) == count
    for kind, (channel, delay) in FRT.items():
        tickets = TICKETS_PER_TOPIC + (kind is SourceKind.CALLS)
        labels = {"channel": channel, "priority": "normal"}
        assert value("ccpulse_tickets_created_total", **labels) == tickets, channel
        assert value("ccpulse_first_response_seconds_count", **labels) == tickets, channel
        assert value("ccpulse_first_response_seconds_sum", **labels) == tickets * delay, channel
    assert (
        sum(v for (n, _), v in samples.items() if n == "ccpulse_nps_answers_total")
        == TICKETS_PER_TOPIC
    )

    letters = [
        orjson.loads(v)
        for _, v in read_topic(
            settings.kafka.bootstrap_servers, settings.topics.deadletter, settings.topics.partitions
        )
    ]
    sources = settings.topics.sources()
    assert Counter((sources[x["topic"]].value, x["reason"]) for x in letters) == sent_bad
    assert Counter((x["topic"], base64.b64decode(x["original"])) for x in letters) == originals
    assert all(x["detail"] for x in letters)
    print(f"\nbad input on a real worker: {len(messages)} messages, {sum(sent_bad.values())} bad")
