"""The envelope every source event shares, and the closed vocabularies it uses."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Channel(StrEnum):
    """The channel a customer used. Bounded: it is a Prometheus label."""

    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    SOCIAL = "social"
    SMS = "sms"
    WEB = "web"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketStatus(StrEnum):
    """Helpdesk ticket statuses (Zendesk-like). ``solved`` and ``closed`` resolve a ticket."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


class Author(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"


Id = Annotated[str, Field(min_length=1, max_length=200)]


class Envelope(BaseModel):
    """Fields common to every source event.

    ``ticket_id`` names the helpdesk ticket the contact belongs to; when a source has no
    ticket (a bare call, a chat session) it is omitted and the source's own id is the
    ticket id.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: Id = Field(description="Unique id of this event; redeliveries repeat it.")
    occurred_at: AwareDatetime = Field(
        description="When it happened at the source (ISO 8601 with a time zone)."
    )
    customer_id: Id = Field(description="The customer, stable across channels.")
    ticket_id: Id | None = Field(
        default=None, description="Helpdesk ticket id; omitted for bare contacts."
    )
