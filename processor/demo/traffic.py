"""``run_traffic``: the synthetic contact center, produced to Kafka in real time.

It sends what ``processor.demo.simulation.ContactCenter`` emits to the source topics at the
wall-clock moment it is due, so event time tracks real time. It creates no topics: the
caller prepares the cluster first.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from processor.config import Settings
from processor.demo.simulation import ContactCenter
from processor.kafka import client_options


async def run_traffic(
    settings: Settings,
    *,
    rate: float,
    time_scale: float,
    seed: int,
    stop: asyncio.Event,
    malformed_fraction: float = 0.005,
    tick_s: float = 0.1,
) -> None:
    """Produce the simulation to the source topics in real time until ``stop`` is set.

    Each ``tick_s`` sends what fell due as one batch; the producer's linger groups it
    into few requests.
    """
    center = ContactCenter(
        seed=seed,
        start=_now(),
        rate=rate,
        time_scale=time_scale,
        malformed_fraction=malformed_fraction,
    )
    producer = AIOKafkaProducer(**client_options(settings.kafka), linger_ms=20)
    await producer.start()
    try:
        while not stop.is_set():
            for emission in center.advance(_now()):
                topic = settings.topics.source(emission.kind)
                await producer.send(topic, value=emission.value, key=emission.key)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick_s)
        await producer.flush()
    finally:
        await producer.stop()


def _now() -> datetime:
    return datetime.now(UTC)
