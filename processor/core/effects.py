"""Effects: the facts a fold reports to the shell, which alone decides what to do with them
(count them, observe them, publish them). Each carries the ticket's metrics after the event.
"""

from __future__ import annotations

from dataclasses import dataclass

from processor.core.ticket_metrics import TicketMetrics


@dataclass(frozen=True, slots=True)
class TicketOpened:
    """The ticket became known: created in the helpdesk or first contacted."""

    ticket: TicketMetrics


@dataclass(frozen=True, slots=True)
class FirstResponded:
    """The ticket's first response time became known (once per ticket)."""

    ticket: TicketMetrics
    seconds: float


@dataclass(frozen=True, slots=True)
class FirstResponseCorrected:
    """A late, earlier event changed an already known first response time."""

    ticket: TicketMetrics
    previous_seconds: float


@dataclass(frozen=True, slots=True)
class Resolved:
    """The ticket was resolved (again, after a reopen)."""

    ticket: TicketMetrics
    seconds: float
    touches: int


@dataclass(frozen=True, slots=True)
class Reopened:
    ticket: TicketMetrics


@dataclass(frozen=True, slots=True)
class CallCompleted:
    """A queued call's outcome became known: answered or abandoned after ``wait_seconds``."""

    ticket: TicketMetrics
    answered: bool
    wait_seconds: float


@dataclass(frozen=True, slots=True)
class SurveyAnswered:
    """A survey answer about the ticket (which may be unknown), reported once.

    ``ticket`` is the ticket as it stood when the answer arrived; ``channel`` the rated
    contact's channel when the survey names it, else the ticket's.
    """

    ticket: TicketMetrics
    survey: str
    """``csat``, ``nps`` or ``ces``."""
    score: int
    scale: int
    channel: str | None


@dataclass(frozen=True, slots=True)
class ReasonKey:
    """Where a ticket counts in the contact-reason figures."""

    reason: str
    channel: str | None
    repeat: bool


@dataclass(frozen=True, slots=True)
class ReasonCounted:
    """A known ticket's contact reason, channel or repeat flag changed: it moves from
    ``before`` to ``after`` (None: it was, or is, counted under no reason)."""

    ticket: TicketMetrics
    before: ReasonKey | None
    after: ReasonKey | None


@dataclass(frozen=True, slots=True)
class DuplicateIgnored:
    """An event whose ``event_id`` the ticket had already seen; it changed nothing."""

    ticket_id: str
    event_type: str


Effect = (
    TicketOpened
    | FirstResponded
    | FirstResponseCorrected
    | Resolved
    | Reopened
    | CallCompleted
    | SurveyAnswered
    | ReasonCounted
    | DuplicateIgnored
)
