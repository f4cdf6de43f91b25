"""Messages ccpulse sends itself on its internal routing topic, next to source events.

The customer agent tells a ticket what only the customer's history reveals: that the
ticket repeats an earlier one, and its first-contact-resolution verdict. They are folded
into the ticket's state so that its snapshot on ``cc.ticket-metrics`` carries them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _Internal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    ticket_id: str
    customer_id: str
    occurred_at: AwareDatetime


class RepeatFound(_Internal):
    """The ticket repeats ``repeat_of`` within each of ``windows`` (window labels)."""

    type: Literal["ccpulse.repeat"] = "ccpulse.repeat"
    repeat_of: str
    gap_seconds: float
    previous_channel: str | None
    windows: tuple[str, ...]


class FcrDecided(_Internal):
    """The ticket's first-contact-resolution verdict, decided when its window closed."""

    type: Literal["ccpulse.fcr"] = "ccpulse.fcr"
    fcr: bool


InternalEvent = Annotated[RepeatFound | FcrDecided, Field(discriminator="type")]
