"""The two processing steps, free of Faust so they can be read and tested on their own.

``ingest``: source message bytes -> validated event, routed by ticket id, or a dead letter.
``update_tickets``: a batch of routed events -> one state write, one snapshot and the
effects' metrics per ticket.

The Faust agents in ``processor.shell.app`` only hand batches of messages to these.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from processor.codec import (
    Rejection,
    SourceDecoder,
    decode_event,
    decode_state,
    encode_dead_letter,
    encode_event,
    encode_snapshot,
    encode_state,
)
from processor.core import fold_all
from processor.events import SourceKind, ticket_key
from processor.metrics import Metrics
from processor.open_tickets import OpenTickets

log = logging.getLogger(__name__)

Send = Callable[[str, bytes | None, bytes], None]
"""Publish (topic, key, value); delivery is awaited before the input offsets commit."""


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Topics:
    routed: str
    ticket_metrics: str
    deadletter: str


class Pipeline:
    def __init__(
        self,
        topics: Topics,
        decoder: SourceDecoder,
        metrics: Metrics,
        open_tickets: OpenTickets,
        send: Send,
    ) -> None:
        self.topics = topics
        self.decoder = decoder
        self.metrics = metrics
        self.open_tickets = open_tickets
        self.send = send

    def ingest(self, kind: SourceKind, messages: Iterable[Message]) -> None:
        for message in messages:
            event = self.decoder.decode(kind, message.value)
            if isinstance(event, Rejection):
                self._dead_letter(kind, message, event)
                continue
            self.metrics.consumed.labels(kind.value, event.type).inc()
            self.send(self.topics.routed, ticket_key(event).encode(), encode_event(event))

    def _dead_letter(self, kind: SourceKind, message: Message, rejection: Rejection) -> None:
        log.warning(
            "rejected %s message at %s[%d]@%d: %s",
            kind.value,
            message.topic,
            message.partition,
            message.offset,
            rejection.reason.value,
        )
        self.metrics.rejected.labels(kind.value, rejection.reason.value).inc()
        letter = encode_dead_letter(
            rejection,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            raw=message.value or b"",
        )
        self.send(self.topics.deadletter, message.key, letter)

    def update_tickets(
        self, table: MutableMapping[bytes, bytes], messages: Iterable[Message]
    ) -> None:
        """Fold a batch of routed events: per ticket one state write and at most one snapshot."""
        batches: dict[bytes, list[Any]] = {}
        partitions: dict[bytes, int] = {}
        for message in messages:
            if message.key is None or message.value is None:
                continue
            batches.setdefault(message.key, []).append(decode_event(message.value))
            partitions[message.key] = message.partition
        for key, events in batches.items():
            stored = table.get(key)
            state = decode_state(stored) if stored is not None else None
            transition = fold_all(state, events)
            if transition.state is not state:
                table[key] = encode_state(transition.state)
            if transition.changed and transition.after.is_known:
                self.send(self.topics.ticket_metrics, key, encode_snapshot(transition.after))
                self.metrics.snapshots.inc()
            self.metrics.record(transition.effects)
            self.open_tickets.update(partitions[key], transition.after)
