"""Faust's producer flush, which runs before every commit, returns only once everything
sent before it is delivered, also when handing messages to the client is slow."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.producer import ProducerBuffer

from processor.shell.completeflush import UndeliveredOutputsError, install_complete_flush


class Client:
    """A Kafka client whose batches are full: each message waits ``handover_s`` before it
    is taken, and is delivered (or fails) ``delivery_s`` later."""

    def __init__(self, handover_s: float, delivery_s: float, fail: bool = False) -> None:
        self.handover_s, self.delivery_s, self.fail = handover_s, delivery_s, fail

    async def publish_message(self, fut: asyncio.Future[Any], wait: bool = False) -> None:
        await asyncio.sleep(self.handover_s)
        loop = asyncio.get_running_loop()
        if self.fail:
            loop.call_later(self.delivery_s, fut.set_exception, OSError("broker gone"))
        else:
            loop.call_later(self.delivery_s, fut.set_result, "metadata")


class Sent(asyncio.Future[Any]):
    def __init__(self, client: Client) -> None:
        super().__init__()
        self.message = SimpleNamespace(channel=client)


async def sent_and_flushed(client: Client, count: int) -> list[Sent]:
    buffer = ProducerBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]
    await buffer.start()
    try:
        messages = [Sent(client) for _ in range(count)]
        for message in messages:
            buffer.put(message)  # type: ignore[arg-type]
        await buffer.flush()
        return messages
    finally:
        buffer.pending = asyncio.Queue()  # nothing left for its stop to flush
        await buffer.stop()


def test_the_flush_waits_for_slow_handovers_and_deliveries() -> None:
    install_complete_flush()
    messages = asyncio.run(sent_and_flushed(Client(handover_s=0.15, delivery_s=0.2), 4))
    assert all(message.done() for message in messages)


def test_an_output_that_was_not_delivered_fails_the_flush() -> None:
    install_complete_flush()
    with pytest.raises(UndeliveredOutputsError, match="2 outputs"):
        asyncio.run(sent_and_flushed(Client(handover_s=0.0, delivery_s=0.05, fail=True), 2))


def test_installing_twice_wraps_once() -> None:
    install_complete_flush()
    flush = ProducerBuffer.flush
    install_complete_flush()
    assert ProducerBuffer.flush is flush
