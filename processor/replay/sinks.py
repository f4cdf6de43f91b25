"""Where a replay's derived messages go: JSON Lines files, and a Kafka cluster.

``FileSink`` writes one file per derived topic in a directory, named after the topic
(``cc.ticket-metrics.jsonl``), a line ``{"key": ..., "value": {...}}`` per message with
the value exactly as it would be on the topic. ``KafkaSink`` produces to the topics with
the keys the live worker uses, so a message lands on the partition it would have: the
default partitioner's murmur2 of the key (unkeyed dead letters: round robin). It buffers
per partition and sends whole record batches, because one ``send`` per message costs
several times more than the replay itself.

Neither decides what is published (the engine does) nor creates anything but the files
and, when allowed by the settings, the missing output topics.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from processor.config import Settings
from processor.kafka import client_options, ensure_topics, wait_for_broker

log = logging.getLogger("ccpulse.replay")
_MAX_BATCH_BYTES = 512 * 1024
_BUFFERED_MESSAGES = 20_000


class FileSink:
    def __init__(self, directory: Path, topics: Sequence[str]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.paths = {topic: directory / f"{topic}.jsonl" for topic in topics}
        self._files: dict[str, IO[bytes]] = {
            topic: path.open("wb") for topic, path in self.paths.items()
        }

    def __call__(self, topic: str, key: bytes | None, value: bytes) -> None:
        line = {"key": key.decode() if key is not None else None, "value": orjson.Fragment(value)}
        self._files[topic].write(orjson.dumps(line) + b"\n")

    def close(self) -> None:
        for file in self._files.values():
            file.close()


class KafkaSink:
    """Collects messages with ``__call__`` (synchronous, for the engine's callback);
    ``flush`` sends them and waits until the broker has them."""

    _producer: AIOKafkaProducer  # made once the broker answers, so a failed start leaks none

    def __init__(self, settings: Settings, topics: Sequence[str]) -> None:
        self.settings = settings
        self.topics = tuple(topics)
        self._partitions: dict[str, list[int]] = {}
        self._buffer: dict[tuple[str, int], list[tuple[bytes | None, bytes]]] = defaultdict(list)
        self._buffered = 0
        self._round_robin = itertools.count()
        self.sent = 0

    async def __aenter__(self) -> KafkaSink:
        await wait_for_broker(self.settings.kafka, self.settings.broker_wait_s, log=log)
        if self.settings.create_topics:
            wanted = dict.fromkeys(self.topics, self.settings.topics.partitions)
            await ensure_topics(self.settings.kafka, wanted, exact_partitions=False)
        self._producer = AIOKafkaProducer(
            **client_options(self.settings.kafka),
            acks="all",
            enable_idempotence=False,  # not every Kafka-protocol broker grants producer ids
            max_batch_size=_MAX_BATCH_BYTES,
        )
        await self._producer.start()
        try:
            for topic in self.topics:
                partitions = await self._producer.partitions_for(topic)
                self._partitions[topic] = sorted(partitions)
        except BaseException:
            await self._producer.stop()
            raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                await self.flush()
        finally:
            await self._producer.stop()

    @property
    def full(self) -> bool:
        return self._buffered >= _BUFFERED_MESSAGES

    def __call__(self, topic: str, key: bytes | None, value: bytes) -> None:
        partitions = self._partitions[topic]
        if key is None:
            partition = partitions[next(self._round_robin) % len(partitions)]
        else:
            partition = partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
        self._buffer[topic, partition].append((key, value))
        self._buffered += 1

    async def flush(self) -> None:
        deliveries: list[Any] = []
        for (topic, partition), messages in self._buffer.items():
            batch = self._producer.create_batch()
            for key, value in messages:
                if batch.append(key=key, value=value, timestamp=None) is None:
                    deliveries.append(
                        await self._producer.send_batch(batch, topic, partition=partition)
                    )
                    batch = self._producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)
            if batch.record_count():
                deliveries.append(
                    await self._producer.send_batch(batch, topic, partition=partition)
                )
        await asyncio.gather(*deliveries)
        self.sent += self._buffered
        self._buffer.clear()
        self._buffered = 0
