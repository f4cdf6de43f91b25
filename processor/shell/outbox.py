"""The outputs of a batch go to Kafka as one record batch per topic partition.

Faust sends every message on its own: a ``send_soon`` through its producer buffer, then an
aiokafka ``send`` that partitions it, wraps it in a future and appends it to the
accumulator. A ticket event causes four or five output records (routed copy, table
changelogs, customer view, snapshot, SLA audit events), so that per-record path was the
largest cost of a worker. ``Outbox`` collects what a batch sends, in order, and ``flush``
hands it to aiokafka as record batches (``create_batch`` / ``send_batch``), one per topic
partition (more when one fills up), then waits until the broker has them all.

A flush starts as soon as the agent that sent records yields to the event loop, so a batch
is processed while the previous one is on its way. Faust flushes its producer before it
commits input offsets: ``deliver_before_commits`` makes that flush deliver the outbox
first, so an offset is committed only after every output sent before it is delivered. A
failed delivery fails that flush and every later one: no offset is committed after it,
the worker stops, and the events are read again after the restart. Flushes never overlap:
records of one partition reach the broker in the order they were sent, whoever (an agent,
the timer) sent them. An agent waits for the outbox (``keep_up``) only when more than
``BACKLOG_LIMIT`` records are waiting, when the broker is slower than the worker.

``OutboxTable`` is a table whose writes change Faust's store and put the changelog record
in the outbox, the same record Faust's own table would send (the key's partition, a
``None`` value for a delete).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any, Protocol

from aiokafka.partitioner import murmur2

log = logging.getLogger(__name__)


class UndeliveredOutputsError(RuntimeError):
    """Outputs could not be delivered: the inputs that caused them must not be committed."""


class Flushable(Protocol):
    async def flush(self) -> None: ...


class RecordBatch(Protocol):
    def append(
        self, *, timestamp: int | None, key: bytes | None, value: bytes | None
    ) -> object | None: ...

    def close(self) -> None: ...


class BatchProducer(Protocol):
    """What ``Outbox`` needs of an ``aiokafka.AIOKafkaProducer``."""

    def create_batch(self) -> RecordBatch: ...

    async def send_batch(
        self, batch: RecordBatch, topic: str, *, partition: int
    ) -> Awaitable[Any]: ...

    async def partitions_for(self, topic: str) -> set[int]: ...


BACKLOG_LIMIT = 20_000
"""Records waiting for a flush beyond which an agent waits for them before its next batch."""

Record = tuple[str, bytes | None, bytes | None, int | None]
"""(topic, key, value, partition or None for the key's)."""


@functools.lru_cache(maxsize=1 << 16)
def _key_hash(key: bytes) -> int:
    """Kafka's default partitioner hash; a ticket's key is hashed for several topics."""
    return int(murmur2(key) & 0x7FFFFFFF)


class Outbox:
    def __init__(self, producer: Callable[[], BatchProducer]) -> None:
        self._producer = producer
        self._records: list[Record] = []
        self._partitions: dict[str, list[int]] = {}
        self._flushing = asyncio.Lock()
        self._scheduled: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    def send(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> None:
        """Queue a record; a flush to send it starts as soon as the caller yields."""
        self._records.append((topic, key, value, partition))
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().create_task(self._flush_scheduled())

    def __len__(self) -> int:
        return len(self._records)

    async def keep_up(self) -> None:
        """Wait for the records sent so far when too many are waiting (a slow broker)."""
        if len(self._records) > BACKLOG_LIMIT:
            await self.flush()

    async def _flush_scheduled(self) -> None:
        self._scheduled = None  # what is sent from now on needs a flush after this one
        with contextlib.suppress(Exception):  # kept in _failure, raised by the next flush
            await self.flush()

    async def flush(self) -> None:
        """Deliver everything sent so far; raises if the producer could not, now or before."""
        async with self._flushing:
            if self._failure is not None:
                raise UndeliveredOutputsError("outputs were not delivered") from self._failure
            records, self._records = self._records, []
            if not records:
                return
            try:
                await self._deliver(records)
            except Exception as error:
                log.error("%d outputs were not delivered: %s", len(records), error)
                self._failure = error
                raise UndeliveredOutputsError("outputs were not delivered") from error

    async def _deliver(self, records: list[Record]) -> None:
        producer = self._producer()
        batches: dict[tuple[str, int], list[Record]] = {}
        for record in records:
            topic, key, _, partition = record
            if partition is None:
                partition = await self._partition_of(producer, topic, key)
            batches.setdefault((topic, partition), []).append(record)
        filled = {where: list(_filled(producer, group)) for where, group in batches.items()}
        deliveries = []
        # The n-th batch of every partition before the (n+1)-th of any: aiokafka holds a
        # partition's next batch until its last one went out in a request.
        for rank in range(max(len(built) for built in filled.values())):
            for (topic, partition), built in filled.items():
                if rank < len(built):
                    deliveries.append(
                        await producer.send_batch(built[rank], topic, partition=partition)
                    )
        await asyncio.gather(*deliveries)

    async def _partition_of(self, producer: BatchProducer, topic: str, key: bytes | None) -> int:
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = sorted(await producer.partitions_for(topic))
        if key is None:
            return random.choice(partitions)
        return partitions[_key_hash(key) % len(partitions)]


def _filled(producer: BatchProducer, records: list[Record]) -> Iterator[RecordBatch]:
    """The records as closed record batches, in order; a new one when one is full."""
    batch = producer.create_batch()
    for _, key, value, _ in records:
        if batch.append(timestamp=None, key=key, value=value) is None:
            batch.close()
            yield batch
            batch = producer.create_batch()
            batch.append(timestamp=None, key=key, value=value)  # the first always fits
    batch.close()
    yield batch


def deliver_before_commits(producer: Flushable, outbox: Outbox) -> None:
    """Faust flushes its producer before it commits input offsets (and when it stops):
    make that flush deliver the outbox first, so no offset is committed before its
    outputs are out."""
    flush_producer = producer.flush

    async def flush() -> None:
        await outbox.flush()
        await flush_producer()

    setattr(producer, "flush", flush)  # noqa: B010


class OutboxTable(MutableMapping[bytes, bytes]):
    """A Faust table's store, its changelog records sent through an outbox."""

    def __init__(self, store: MutableMapping[bytes, bytes], changelog: str, outbox: Outbox):
        self._store = store
        self._changelog = changelog
        self._outbox = outbox

    def __getitem__(self, key: bytes) -> bytes:
        return self._store[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._store[key] = value
        self._outbox.send(self._changelog, key, value)

    def __delitem__(self, key: bytes) -> None:
        del self._store[key]
        self._outbox.send(self._changelog, key, None)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._store)

    def __len__(self) -> int:
        return len(self._store)
