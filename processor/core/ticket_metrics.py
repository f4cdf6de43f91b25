"""The metrics of one ticket: the snapshot published on ``cc.ticket-metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TicketMetrics:
    """A ticket's metrics as derived from every event seen for it.

    Times are event times. ``first_response_seconds`` runs from the first inbound contact
    to the first human response on any channel; ``resolution_seconds`` from the first
    inbound contact (or creation, for tickets opened by an agent) to the current
    resolution. ``touches`` counts agent actions towards the customer up to resolution.
    """

    ticket_id: str
    customer_id: str
    channel: str | None
    priority: str
    queue: str | None
    reason: str | None
    status: str | None
    opened_at: datetime | None
    first_inbound_at: datetime | None
    first_response_at: datetime | None
    first_response_seconds: float | None
    touches: int
    resolved_at: datetime | None
    resolution_seconds: float | None
    resolutions: int
    reopens: int
    one_touch: bool | None
    is_open: bool
    awaiting_first_response: bool
    events: int
    last_event_at: datetime
    repeat_of: str | None = None
    """The customer's previous ticket, when this one is a repeat contact."""
    repeat_gap_seconds: float | None = None
    repeat_previous_channel: str | None = None
    repeat_windows: tuple[str, ...] = ()
    """The configured repeat windows within which this ticket is a repeat contact."""
    fcr: bool | None = None
    """First-contact resolution, decided when the repeat window after resolution closes."""

    @property
    def is_known(self) -> bool:
        """Opened (created or contacted); events that only refer to a ticket do not open it."""
        return self.opened_at is not None
