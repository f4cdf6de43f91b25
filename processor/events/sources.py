"""The source topics, the event types each may carry, and how an event names its ticket."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, get_args

from pydantic import BaseModel, Field

from processor.events.calls import CallEvent
from processor.events.chats import ChatEvent
from processor.events.emails import EmailEvent
from processor.events.social import SocialEvent
from processor.events.surveys import SurveyEvent
from processor.events.tickets import TicketEvent


class SourceKind(StrEnum):
    """One per source system; each reads its own (configurable) topic."""

    CALLS = "calls"
    EMAILS = "emails"
    CHATS = "chats"
    SOCIAL = "social"
    TICKETS = "tickets"
    SURVEYS = "surveys"


SourceEvent = Annotated[
    CallEvent | EmailEvent | ChatEvent | SocialEvent | TicketEvent | SurveyEvent,
    Field(discriminator="type"),
]

SOURCE_MODELS: dict[SourceKind, Any] = {
    SourceKind.CALLS: CallEvent,
    SourceKind.EMAILS: EmailEvent,
    SourceKind.CHATS: ChatEvent,
    SourceKind.SOCIAL: SocialEvent,
    SourceKind.TICKETS: TicketEvent,
    SourceKind.SURVEYS: SurveyEvent,
}


def event_models(kind: SourceKind) -> dict[str, type[BaseModel]]:
    """The event types a source topic may carry, sorted, with their models."""
    members: tuple[type[BaseModel], ...] = get_args(get_args(SOURCE_MODELS[kind])[0])
    by_type = {get_args(model.model_fields["type"].annotation)[0]: model for model in members}
    return dict(sorted(by_type.items()))


_SOURCE_OF_PREFIX = {
    "call": SourceKind.CALLS,
    "email": SourceKind.EMAILS,
    "chat": SourceKind.CHATS,
    "social": SourceKind.SOCIAL,
    "ticket": SourceKind.TICKETS,
    "survey": SourceKind.SURVEYS,
}


def source_of(event_type: str) -> SourceKind:
    """The source system an event type comes from (``call.queued`` -> calls)."""
    return _SOURCE_OF_PREFIX[event_type.split(".", 1)[0]]


def ticket_key(event: Any) -> str:
    """The ticket an event belongs to: its ``ticket_id``, else the source's own id."""
    if event.ticket_id is not None:
        return str(event.ticket_id)
    for own_id in ("call_id", "thread_id", "session_id", "conversation_id", "survey_id"):
        value = getattr(event, own_id, None)
        if value is not None:
            return str(value)
    raise ValueError(f"{event.type} names no ticket")
