"""``cc.tickets``: the helpdesk ticket lifecycle. Every event names its ticket."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from processor.events.common import Author, Channel, Envelope, Id, Priority, TicketStatus


class _Ticket(Envelope):
    ticket_id: Id


class TicketCreated(_Ticket):
    """A ticket was opened. Opened by the customer, it is an inbound contact."""

    type: Literal["ticket.created"]
    channel: Channel
    priority: Priority = Priority.NORMAL
    queue: Id | None = None
    reason: Id | None = None
    opened_by: Literal["customer", "agent"] = "customer"


class TicketAssigned(_Ticket):
    """The ticket was given to an agent (and optionally moved to a queue)."""

    type: Literal["ticket.assigned"]
    agent_id: Id
    queue: Id | None = None


class TicketStatusChanged(_Ticket):
    """``solved``/``closed`` resolve the ticket; leaving them again is a reopen."""

    type: Literal["ticket.status_changed"]
    status: TicketStatus


class TicketPriorityChanged(_Ticket):
    """The ticket's priority changed; the latest in event time applies."""

    type: Literal["ticket.priority_changed"]
    priority: Priority


class TicketReasonSet(_Ticket):
    """The contact reason was set; the latest in event time applies."""

    type: Literal["ticket.reason_set"]
    reason: Id


class TicketCommented(_Ticket):
    """A helpdesk comment: a public agent comment is a response and a touch, an internal
    note (``public`` false) is neither, a public customer comment is an inbound contact."""

    type: Literal["ticket.commented"]
    author: Author
    public: bool = True
    agent_id: Id | None = None


TicketEvent = Annotated[
    TicketCreated
    | TicketAssigned
    | TicketStatusChanged
    | TicketPriorityChanged
    | TicketReasonSet
    | TicketCommented,
    Field(discriminator="type"),
]
