"""``cc.emails``: mail gateway events. A thread without ``ticket_id`` is its own ticket."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from processor.events.common import Envelope, Id


class _Email(Envelope):
    message_id: Id
    thread_id: Id = Field(description="The conversation; the ticket id if none is given.")
    channel: Literal["email"] = "email"


class EmailReceived(_Email):
    """A customer wrote: an inbound contact."""

    type: Literal["email.received"]


class EmailSent(_Email):
    """An email to the customer. Only a human one (``automated`` false) is a response."""

    type: Literal["email.sent"]
    agent_id: Id | None = None
    automated: bool = Field(default=False, description="Auto-reply or bot: not a response.")


EmailEvent = Annotated[EmailReceived | EmailSent, Field(discriminator="type")]
