"""What a source event tells about its ticket, as order-free facts.

A ticket's state is the set of facts of the events seen so far, keyed by ``event_id``.
Every metric is derived from that set (``ticket.derive``), so the same events give the
same metrics whatever order they arrive in and however often one is redelivered.

This module decides which events count as an inbound contact, a human response, a
touch, a status change, or a step of a queued call. It deliberately knows nothing of
SLAs, scores or customers: of a survey answer it keeps only the moment it arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from processor.events import (
    Author,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallOutbound,
    CallQueued,
    CallTransferred,
    CesAnswered,
    ChatEnded,
    ChatMessage,
    ChatStarted,
    CsatAnswered,
    EmailReceived,
    EmailSent,
    NpsAnswered,
    SocialReceived,
    SocialReplied,
    TicketAssigned,
    TicketCommented,
    TicketCreated,
    TicketPriorityChanged,
    TicketReasonSet,
    TicketStatus,
    TicketStatusChanged,
)

ABANDONED = "abandoned"
"""Status of a bare call the caller hung up on before an answer: closed, not resolved."""


class FactKind(StrEnum):
    CREATED = "created"  # the helpdesk opened the ticket; value: channel
    INBOUND = "inbound"  # the customer contacted us; value: channel
    RESPONSE = "response"  # a human agent answered the customer; touch: what it counts as
    STATUS = "status"  # value: a TicketStatus or ABANDONED
    PRIORITY = "priority"
    QUEUE = "queue"
    REASON = "reason"
    CALL = "call"  # value: queued / answered / abandoned; touch: the call id
    ANSWER = "answer"  # a survey answer about the ticket: when the ticket was last heard of


@dataclass(frozen=True, slots=True)
class Fact:
    kind: FactKind
    at: int
    """Event time, in microseconds since the Unix epoch."""
    value: str = ""
    touch: str = ""
    """For responses: the touch it belongs to (a whole chat session or call is one touch)."""


def micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


def facts_of(event: Any) -> tuple[Fact, ...]:  # noqa: PLR0911, PLR0912 - a case per event type
    """The facts an event contributes to its ticket (none for events that do not matter)."""
    at = micros(event.occurred_at)
    bare = event.ticket_id is None
    match event:
        case CallQueued(queue=queue):
            return (
                Fact(FactKind.INBOUND, at, "phone"),
                Fact(FactKind.CALL, at, "queued", event.call_id),
                *_optional(FactKind.QUEUE, at, queue),
            )
        case CallAnswered():
            return (
                Fact(FactKind.RESPONSE, at, touch=f"call:{event.call_id}"),
                Fact(FactKind.CALL, at, "answered", event.call_id),
            )
        case CallOutbound():
            return (Fact(FactKind.RESPONSE, at, touch=f"call:{event.call_id}"),)
        case CallAbandoned():
            abandoned = Fact(FactKind.CALL, at, "abandoned", event.call_id)
            return (Fact(FactKind.STATUS, at, ABANDONED), abandoned) if bare else (abandoned,)
        case CallEnded() | ChatEnded():
            return (Fact(FactKind.STATUS, at, TicketStatus.SOLVED),) if bare else ()
        case CallTransferred(to_queue=queue):
            return _optional(FactKind.QUEUE, at, queue)
        case EmailReceived() | SocialReceived() | ChatStarted():
            return (Fact(FactKind.INBOUND, at, event.channel),)
        case EmailSent(automated=False) | SocialReplied(automated=False):
            return (Fact(FactKind.RESPONSE, at, touch=event.event_id),)
        case ChatMessage(author=Author.CUSTOMER, internal=False):
            return (Fact(FactKind.INBOUND, at, event.channel),)
        case ChatMessage(author=Author.AGENT, internal=False):
            return (Fact(FactKind.RESPONSE, at, touch=f"chat:{event.session_id}"),)
        case TicketCreated():
            return _created(event, at)
        case TicketCommented(author=Author.CUSTOMER, public=True):
            return (Fact(FactKind.INBOUND, at, ""),)
        case TicketCommented(author=Author.AGENT, public=True):
            return (Fact(FactKind.RESPONSE, at, touch=event.event_id),)
        case TicketStatusChanged(status=status):
            return (Fact(FactKind.STATUS, at, status),)
        case TicketPriorityChanged(priority=priority):
            return (Fact(FactKind.PRIORITY, at, priority),)
        case TicketReasonSet(reason=reason):
            return (Fact(FactKind.REASON, at, reason),)
        case TicketAssigned(queue=queue):
            return _optional(FactKind.QUEUE, at, queue)
        case CsatAnswered() | NpsAnswered() | CesAnswered():
            return (Fact(FactKind.ANSWER, at),)
    return ()


def _created(event: TicketCreated, at: int) -> tuple[Fact, ...]:
    facts = [Fact(FactKind.CREATED, at, event.channel), Fact(FactKind.PRIORITY, at, event.priority)]
    if event.opened_by == "customer":
        facts.append(Fact(FactKind.INBOUND, at, event.channel))
    facts.extend(_optional(FactKind.QUEUE, at, event.queue))
    facts.extend(_optional(FactKind.REASON, at, event.reason))
    return tuple(facts)


def _optional(kind: FactKind, at: int, value: str | None) -> tuple[Fact, ...]:
    return (Fact(kind, at, value),) if value else ()
