"""Messages of the derived topics ``cc.sla-events`` and ``cc.repeat-contacts``.

The models are the contract (their JSON Schemas are generated into ``schemas/``) and the
encoder. Every message has an ``event_id`` that is the same whenever the same fact is
reported, so a consumer can drop the rare redelivery after a worker crash by id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from processor.core.sla import SlaKind, Target


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str = Field(description="Stable id of this report: redeliveries repeat it.")
    ticket_id: str
    customer_id: str
    channel: str | None = Field(description="The ticket's channel.")


class SlaEventMessage(_Message):
    """One step of a ticket's SLA audit trail for one target, keyed by ticket id."""

    kind: SlaKind = Field(description="applied, warning, breached, met, paused or resumed.")
    target: Target
    cycle: int = Field(description="0; for next_response the exchange number (1, 2, ...).")
    at: datetime = Field(description="When it happened (event time or deadline).")
    deadline: datetime | None = Field(description="When the target is (was) breached.")
    level: float | None = Field(description="Warnings: the share of the target elapsed.")
    priority: str
    queue: str | None
    policy: str
    policy_version: str
    target_seconds: float = Field(description="The target, in business seconds.")
    business_elapsed_seconds: float = Field(
        description="Time counted against the target by ``at`` (business hours, no pauses)."
    )
    calendar_elapsed_seconds: float = Field(description="Wall time since the timer started.")


class RepeatContactMessage(_Message):
    """A ticket that repeats an earlier ticket of the same customer (keyed by customer id)."""

    type: Literal["repeat_contact"] = "repeat_contact"
    opened_at: datetime
    repeat_of: str = Field(description="The customer's previous ticket.")
    gap_seconds: float = Field(description="From the previous ticket's opening to this one's.")
    previous_channel: str | None
    windows: tuple[str, ...] = Field(description="Every repeat window the gap falls within.")
    new_windows: tuple[str, ...] = Field(description="Windows counted with this message.")


class FcrVerdictMessage(_Message):
    """First-contact resolution of a resolved ticket, once its window has closed."""

    type: Literal["fcr_verdict"] = "fcr_verdict"
    fcr: bool = Field(description="No reopen and no new ticket from the customer in time.")
    resolved_at: datetime
    window_closed_at: datetime
    reopens: int


RepeatContactsMessage = Annotated[
    RepeatContactMessage | FcrVerdictMessage, Field(discriminator="type")
]
