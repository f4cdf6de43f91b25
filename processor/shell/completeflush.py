"""Input offsets are committed only once every output sent before is delivered.

Faust flushes its producer before it commits the input offsets, but its buffer's flush
gives up as soon as no message went out for 0.1 s, and does not wait for the message it
is handing to aiokafka at that moment (one waiting for room in a full batch). Under load
the offsets of a batch could then be committed while the snapshots, audit events or
table writes it caused were still in the buffer: a worker killed right then would lose
them, and its inputs would not be read again.

``install_complete_flush()`` makes Faust's producer buffer keep every message put in it
until its delivery is known, and its flush wait for all of those (idempotent). A message
that could not be delivered (the producer gave up retrying) fails the flush, so its
inputs are not committed: the worker stops and a restart reads them again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from faust.transport.producer import ProducerBuffer

log = logging.getLogger(__name__)

_MARK = "__ccpulse_complete_flush__"
_UNDELIVERED = "_ccpulse_undelivered"


class UndeliveredOutputsError(RuntimeError):
    """Outputs could not be delivered: the inputs that caused them must not be committed."""


def install_complete_flush() -> None:
    """Make Faust's producer flush wait for the delivery of everything sent before it."""
    put: Callable[[ProducerBuffer, Any], None] = ProducerBuffer.put
    flush: Callable[[ProducerBuffer], Awaitable[None]] = ProducerBuffer.flush
    if getattr(flush, _MARK, False):
        return

    @functools.wraps(put)
    def put_tracked(buffer: ProducerBuffer, fut: Any) -> None:
        undelivered = _undelivered(buffer)
        undelivered.add(fut)
        fut.add_done_callback(undelivered.discard)
        put(buffer, fut)

    @functools.wraps(flush)
    async def flush_completely(buffer: ProducerBuffer) -> None:
        waiting = tuple(_undelivered(buffer))
        await flush(buffer)  # hands the queued messages to aiokafka
        if not waiting:
            return
        await asyncio.wait(waiting)
        failed = [fut for fut in waiting if fut.cancelled() or fut.exception() is not None]
        if failed:
            log.error("%d of %d outputs were not delivered", len(failed), len(waiting))
            raise UndeliveredOutputsError(f"{len(failed)} outputs were not delivered")

    setattr(flush_completely, _MARK, True)
    setattr(ProducerBuffer, "put", put_tracked)  # noqa: B010
    setattr(ProducerBuffer, "flush", flush_completely)  # noqa: B010


def _undelivered(buffer: ProducerBuffer) -> set[Any]:
    found: set[Any] | None = buffer.__dict__.get(_UNDELIVERED)
    if found is None:
        found = set()
        setattr(buffer, _UNDELIVERED, found)
    return found
