"""Exact changelog ends for Faust's table recovery, also on brokers with a wrong ListOffsets.

Faust recovers a table by reading its changelog up to the end offset that
``consumer.end_offsets()`` (a ListOffsets request) reports. Some Kafka-protocol brokers,
the embedded Tansu among them, answer with the base offset of the newest record batch
plus one instead of the high watermark; Faust then stops before the end of the changelog
and silently drops the newest table updates. The high watermark in a *Fetch* response is
right on those brokers, so the corrected end of every partition is
``max(ListOffsets answer, high watermark of one Fetch from just below that answer)``.
On a broker that answers correctly both numbers are equal and nothing changes.

``install_highwater_correction()`` wraps Faust's aiokafka driver in place (idempotent). The
short-lived consumer that does the Fetch is configured from the Faust app's own settings,
exactly as Faust configures its consumers, so nothing needs to be passed at install time.
This module deliberately does not touch anything else: offset commits, ``earliest_offsets``
and the Fetch-based ``highwater()`` are already right on such brokers, and transactional
apps (which read the last stable offset instead) are left as Faust made them.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.drivers.aiokafka import (
    AIOKafkaConsumerThread,
    Transport,
    credentials_to_aiokafka_auth,
    server_list,
)

log = logging.getLogger(__name__)

_MARK = "__ccpulse_highwater_correction__"
_FETCH_DEADLINE_S = 15.0
_POLL_MS = 100
_Highwaters = Callable[[AIOKafkaConsumerThread, list[TopicPartition]], Awaitable[Mapping[Any, int]]]


def install_highwater_correction() -> None:
    """Make Faust's table recovery read every changelog to its real end."""
    uncorrected: _Highwaters = AIOKafkaConsumerThread._highwaters
    if getattr(uncorrected, _MARK, False):
        return

    @functools.wraps(uncorrected)
    async def corrected(
        thread: AIOKafkaConsumerThread, partitions: list[TopicPartition]
    ) -> Mapping[Any, int]:
        answers = await uncorrected(thread, partitions)
        if thread.consumer.in_transaction or not answers:
            return answers
        return await fetched_highwaters(_connection_options(thread), answers)

    setattr(corrected, _MARK, True)
    setattr(AIOKafkaConsumerThread, "_highwaters", corrected)  # noqa: B010 - patching a method


async def fetched_highwaters(
    options: Mapping[str, Any],
    answers: Mapping[TopicPartition, int],
    deadline_s: float = _FETCH_DEADLINE_S,
) -> dict[TopicPartition, int]:
    """``answers`` raised to the high watermark that a Fetch reports for each partition.

    ``options`` are aiokafka client options (servers, security). A partition whose Fetch
    does not answer within ``deadline_s`` keeps its ListOffsets answer, with a warning.
    """
    consumer = AIOKafkaConsumer(
        **options,
        group_id=None,
        enable_auto_commit=False,
        # Should the answer ever lie beyond the log, restart from the beginning rather
        # than ask ListOffsets for "latest" again.
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    try:
        partitions = list(answers)
        consumer.assign(partitions)
        beginnings = await consumer.beginning_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, max(answers[tp] - 1, beginnings[tp]))
        seen = await _watch_highwaters(consumer, partitions, deadline_s)
    finally:
        await consumer.stop()
    return {tp: max(answer, seen.get(tp, answer)) for tp, answer in answers.items()}


async def _watch_highwaters(
    consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition], deadline_s: float
) -> dict[TopicPartition, int]:
    deadline = time.monotonic() + deadline_s
    seen: dict[TopicPartition, int] = {}
    while len(seen) < len(partitions) and time.monotonic() < deadline:
        # Records are not needed, only the high watermark that arrives with them.
        await consumer.getmany(timeout_ms=_POLL_MS, max_records=1)
        for tp in partitions:
            highwater = consumer.highwater(tp)
            if highwater is not None:
                seen[tp] = highwater
    missing = sorted(str(tp) for tp in partitions if tp not in seen)
    if missing:
        log.warning(
            "no Fetch answer within %.0f s for %s; table recovery uses the broker's "
            "ListOffsets end there and may miss the newest changelog records",
            deadline_s,
            ", ".join(missing),
        )
    return seen


def _connection_options(thread: AIOKafkaConsumerThread) -> dict[str, Any]:
    conf = thread.app.conf
    transport = cast(Transport, thread.transport)
    return {
        "bootstrap_servers": server_list(transport.url, transport.default_port),
        "client_id": conf.broker_client_id,
        "request_timeout_ms": int(conf.broker_request_timeout * 1000),
        **credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context),
    }
