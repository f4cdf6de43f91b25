"""``cc.calls``: telephony / ACD events. A call without ``ticket_id`` is its own ticket."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from processor.events.common import Envelope, Id


class _Call(Envelope):
    call_id: Id = Field(description="The ACD's call id.")
    channel: Literal["phone"] = "phone"


class CallQueued(_Call):
    """The caller entered a queue: the inbound contact (speed of answer starts here)."""

    type: Literal["call.queued"]
    queue: Id | None = None


class CallAnswered(_Call):
    """An agent picked up: the first response of a call and one touch."""

    type: Literal["call.answered"]
    agent_id: Id


class CallAbandoned(_Call):
    """The caller hung up before an agent answered. No FRT, no touch."""

    type: Literal["call.abandoned"]


class CallEnded(_Call):
    """The call ended. A bare call (no ``ticket_id``) is resolved by it."""

    type: Literal["call.ended"]


class CallTransferred(_Call):
    """The call moved to another queue or agent; the ticket's queue follows it."""

    type: Literal["call.transferred"]
    to_queue: Id | None = None
    agent_id: Id | None = None


class CallOutbound(_Call):
    """An agent called the customer: a response and a touch."""

    type: Literal["call.outbound"]
    agent_id: Id


CallEvent = Annotated[
    CallQueued | CallAnswered | CallAbandoned | CallEnded | CallTransferred | CallOutbound,
    Field(discriminator="type"),
]
