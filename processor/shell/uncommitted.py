"""Partitions without a committed offset restart from their beginning after a recovery.

After table recovery Faust seeks every stream partition to its committed offset. A
partition that has none (its group never committed there, e.g. a worker was killed
before its first commit) keeps the position the consumer already had: while tables were
recovering, the consumer fetched ahead on it, Faust dropped those records because the
streams were not running yet, and they were never processed. Seeking such a partition to
its beginning is what ``auto_offset_reset="earliest"`` promises; with a committed offset
nothing changes.

``install_uncommitted_seek()`` wraps Faust's aiokafka driver in place (idempotent).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

log = logging.getLogger(__name__)

_MARK = "__ccpulse_uncommitted_seek__"
_SeekToCommitted = Callable[[AIOKafkaConsumerThread], Awaitable[Mapping[Any, int]]]


def install_uncommitted_seek() -> None:
    """Make Faust start partitions without a committed offset at their beginning."""
    original: _SeekToCommitted = AIOKafkaConsumerThread.seek_to_committed
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    async def seek_to_committed(thread: AIOKafkaConsumerThread) -> Mapping[Any, int]:
        committed = await original(thread)
        if thread.app.conf.consumer_auto_offset_reset != "earliest":
            return committed
        uncommitted = [tp for tp, offset in committed.items() if not offset]
        if uncommitted:
            log.info("no committed offset: reading %d partitions from the start", len(uncommitted))
            consumer = thread._ensure_consumer()
            await thread.call_thread(consumer.seek_to_beginning, *uncommitted)
        return committed

    setattr(seek_to_committed, _MARK, True)
    setattr(AIOKafkaConsumerThread, "seek_to_committed", seek_to_committed)  # noqa: B010
