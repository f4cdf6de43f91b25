"""The longest a worker's group consumer waits in a fetch for new records.

Faust creates its group consumer with ``fetch_max_wait_ms=1500`` and no setting to change
it. Apache Kafka answers a fetch as soon as a record arrives, so there the wait only costs
idle round trips; some Kafka-protocol brokers (the embedded one among them) answer only
when the wait is over, which then adds up to 1.5 s to every hop of a ticket's events (source
topic, routing topic, customer topic). ``install_fetch_wait(ms)`` sets the wait of every
group consumer Faust creates from then on (idempotent; the last value wins). It touches
nothing else of the consumer.
"""

from __future__ import annotations

import functools
from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

_ORIGINAL = "__ccpulse_original_create_worker_consumer__"


def install_fetch_wait(fetch_max_wait_ms: int) -> None:
    original = getattr(AIOKafkaConsumerThread, _ORIGINAL, None)
    if original is None:
        original = AIOKafkaConsumerThread._create_worker_consumer
        setattr(AIOKafkaConsumerThread, _ORIGINAL, original)

    @functools.wraps(original)
    def create_worker_consumer(thread: AIOKafkaConsumerThread, *args: Any, **kwargs: Any) -> Any:
        consumer = original(thread, *args, **kwargs)
        # Read by the consumer's fetcher when it starts, which has not happened yet.
        consumer._fetch_max_wait_ms = fetch_max_wait_ms
        return consumer

    setattr(AIOKafkaConsumerThread, "_create_worker_consumer", create_worker_consumer)  # noqa: B010
