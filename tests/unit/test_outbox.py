"""The outbox: outputs as record batches per partition, in order, delivered before commits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from processor.shell.app import partition_of
from processor.shell.outbox import (
    BACKLOG_LIMIT,
    Outbox,
    OutboxTable,
    RecordBatch,
    UndeliveredOutputsError,
    deliver_before_commits,
)

pytestmark = pytest.mark.asyncio

PARTITIONS = 4


@dataclass
class Batch:
    capacity: int
    records: list[tuple[bytes | None, bytes | None]] = field(default_factory=list)
    closed: bool = False

    def append(
        self, *, timestamp: int | None, key: bytes | None, value: bytes | None
    ) -> object | None:
        if self.closed or len(self.records) >= self.capacity:
            return None
        self.records.append((key, value))
        return object()

    def close(self) -> None:
        self.closed = True


@dataclass
class Producer:
    """Records what it was handed; deliveries are settled by the test (or at once)."""

    capacity: int = 1000
    deliver_at_once: bool = True
    sent: list[tuple[str, int, Batch]] = field(default_factory=list)
    deliveries: list[asyncio.Future[None]] = field(default_factory=list)

    def create_batch(self) -> Batch:
        return Batch(self.capacity)

    async def send_batch(
        self, batch: RecordBatch, topic: str, *, partition: int
    ) -> asyncio.Future[None]:
        await asyncio.sleep(0)  # aiokafka may wait for room here
        assert isinstance(batch, Batch)
        assert batch.closed, "a batch is closed before it is handed over"
        self.sent.append((topic, partition, batch))
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.deliver_at_once:
            delivery.set_result(None)
        self.deliveries.append(delivery)
        return delivery

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(PARTITIONS))

    def records(self, topic: str, partition: int) -> list[tuple[bytes | None, bytes | None]]:
        return [
            r for t, p, batch in self.sent if (t, p) == (topic, partition) for r in batch.records
        ]


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_sent_record_goes_out_without_anyone_awaiting_it() -> None:
    producer = Producer()
    outbox = Outbox(lambda: producer)
    outbox.send("out", b"T1", b"v1")
    assert producer.sent == []  # nothing is sent inside the caller's batch
    await settle()
    assert [r for _, _, batch in producer.sent for r in batch.records] == [(b"T1", b"v1")]


async def test_one_flush_sends_one_batch_per_partition_each_key_where_kafka_puts_it() -> None:
    producer = Producer()
    outbox = Outbox(lambda: producer)
    keys = [f"T{n}".encode() for n in range(40)]
    for key in keys:
        outbox.send("out", key, b"v")
    outbox.send("views", None, b"marker", 3)
    await outbox.flush()
    where = {(topic, partition) for topic, partition, _ in producer.sent}
    assert len(producer.sent) == len(where)  # one batch each
    for topic, partition, batch in producer.sent:
        for record_key, _ in batch.records:
            if record_key is None:
                assert (topic, partition) == ("views", 3)
            else:
                assert (topic, partition) == ("out", partition_of(record_key, PARTITIONS))
    assert producer.records("views", 3) == [(None, b"marker")]


async def test_records_of_a_partition_keep_their_order_across_full_batches_and_flushes() -> None:
    producer = Producer(capacity=3)
    outbox = Outbox(lambda: producer)
    for n in range(10):
        outbox.send("out", b"T1", f"{n}".encode())
    first = asyncio.ensure_future(outbox.flush())
    await asyncio.sleep(0)  # the first flush has taken its records and is sending them
    for n in range(10, 20):
        outbox.send("out", b"T1", f"{n}".encode())
    await asyncio.gather(first, outbox.flush())
    values = [v for _, v in producer.records("out", partition_of(b"T1", PARTITIONS))]
    assert values == [f"{n}".encode() for n in range(20)]
    assert max(len(batch.records) for _, _, batch in producer.sent) == 3


async def test_a_flush_returns_only_once_the_broker_has_every_record() -> None:
    producer = Producer(deliver_at_once=False)
    outbox = Outbox(lambda: producer)
    keys = {partition_of(f"T{n}".encode(), PARTITIONS): f"T{n}".encode() for n in range(20)}
    for key in keys.values():
        outbox.send("out", key, b"v")
    flushing = asyncio.ensure_future(outbox.flush())
    await settle()
    assert len(producer.deliveries) == PARTITIONS
    for delivery in producer.deliveries[:-1]:
        delivery.set_result(None)
    await settle()
    assert not flushing.done()
    producer.deliveries[-1].set_result(None)
    await asyncio.wait_for(flushing, 1)


async def test_a_failed_delivery_fails_that_flush_and_every_later_one() -> None:
    producer = Producer(deliver_at_once=False)
    outbox = Outbox(lambda: producer)
    outbox.send("out", b"T1", b"v")
    await settle()  # the scheduled flush is waiting for the delivery
    producer.deliveries[0].set_exception(ConnectionError("broker gone"))
    await settle()
    producer.deliver_at_once = True
    outbox.send("out", b"T2", b"v")
    with pytest.raises(UndeliveredOutputsError):
        await outbox.flush()  # what Faust's commit waits for: it must not go on
    with pytest.raises(UndeliveredOutputsError):
        await outbox.flush()


async def test_the_producer_flush_before_a_commit_delivers_the_outbox_first() -> None:
    producer = Producer(deliver_at_once=False)
    outbox = Outbox(lambda: producer)
    seen_at_commit: list[bool] = []

    class FaustProducer:
        async def flush(self) -> None:
            seen_at_commit.append(all(d.done() for d in producer.deliveries))

    faust_producer = FaustProducer()
    deliver_before_commits(faust_producer, outbox)
    outbox.send("out", b"T1", b"v")
    flushing = asyncio.ensure_future(faust_producer.flush())
    await settle()
    assert seen_at_commit == []
    for delivery in producer.deliveries:
        delivery.set_result(None)
    await flushing
    assert seen_at_commit == [True]


async def test_an_agent_waits_for_the_outbox_only_when_too_much_is_waiting() -> None:
    producer = Producer(deliver_at_once=False)
    outbox = Outbox(lambda: producer)
    outbox.send("out", b"T1", b"v")
    await asyncio.wait_for(outbox.keep_up(), 1)  # one record waiting: no wait
    for _ in range(BACKLOG_LIMIT + 1):
        outbox.send("out", b"T1", b"v")
    keeping_up = asyncio.ensure_future(outbox.keep_up())
    await settle()
    assert not keeping_up.done()
    producer.deliver_at_once = True
    for delivery in producer.deliveries:
        delivery.set_result(None)
    await asyncio.wait_for(keeping_up, 1)


async def test_a_table_write_changes_the_store_and_sends_the_changelog_record() -> None:
    producer = Producer()
    outbox = Outbox(lambda: producer)
    store: dict[bytes, bytes] = {}
    table = OutboxTable(store, "tickets-changelog", outbox)
    table[b"T1"] = b"state-1"
    table[b"T2"] = b"state-2"
    del table[b"T1"]
    assert store == {b"T2": b"state-2"}
    assert dict(table) == store
    await outbox.flush()
    assert producer.records("tickets-changelog", partition_of(b"T1", PARTITIONS)) == [
        (b"T1", b"state-1"),
        (b"T1", None),
    ]
