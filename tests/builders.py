"""Build valid source events tersely: ``event("email.received", minute=3, thread_id="t1")``."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from pydantic import TypeAdapter

from processor.events import SourceEvent

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_ADAPTER: TypeAdapter[SourceEvent] = TypeAdapter(SourceEvent)
_ids = itertools.count(1)


class TicketRef(TypedDict):
    """The ticket an event names, to spread into ``event``: ``event(..., **ref)``."""

    ticket_id: str


def event(kind: str, *, minute: float = 0, second: float = 0, **fields: Any) -> SourceEvent:
    body: dict[str, Any] = {
        "type": kind,
        "event_id": f"e{next(_ids)}",
        "occurred_at": (T0 + timedelta(minutes=minute, seconds=second)).isoformat(),
        "customer_id": "cust-1",
    }
    body.update(fields)
    return _ADAPTER.validate_python(body)
