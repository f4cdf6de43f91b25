"""When state may be forgotten, so that memory stays bounded however long a worker runs.

- A **closed ticket** (resolved, or a bare call abandoned) is forgotten ``retention``
  after its last event. Its event ids go with it: a redelivery later than that would be
  taken as new, so ``retention`` must exceed any redelivery or lateness horizon, the repeat
  and FCR windows and the SLA targets. An open ticket is never forgotten: it is backlog.
- A **customer's ticket view** is forgotten ``retention`` after the ticket was opened or
  resolved, whichever is later, once its FCR verdict (if it was resolved) is decided; a
  customer with no view left is forgotten altogether.
- Given ``written_at`` (the wall-clock moment the state was last written, for a worker on
  the wall clock), neither is forgotten before ``retention`` has passed since then too:
  events from long ago that arrive now are still recognised when they are redelivered.

It only says *when*; the shell deletes the table keys (a tombstone in the changelog).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from processor.core.customer import CustomerState, TicketView
from processor.core.ticket_metrics import TicketMetrics


def ticket_expires_at(
    ticket: TicketMetrics, retention: timedelta, written_at: datetime | None = None
) -> datetime | None:
    """When the ticket's state may be forgotten; None while it is open."""
    if ticket.is_open:
        return None
    return max(ticket.last_event_at, written_at or ticket.last_event_at) + retention


def _view_expires_at(
    view: TicketView, retention: timedelta, written_at: datetime | None
) -> datetime:
    last = max(view.opened_at, view.resolved_at or view.opened_at)
    return max(last, written_at or last) + retention


def prune(
    state: CustomerState, now: datetime, retention: timedelta, written_at: datetime | None = None
) -> CustomerState:
    """The customer's state without the views (and their flags and verdicts) that expired."""
    expired = {
        ticket_id
        for ticket_id, view in state.tickets.items()
        if _view_expires_at(view, retention, written_at) <= now
        and (view.resolved_at is None or ticket_id in state.decided)
    }
    if not expired:
        return state
    return replace(
        state,
        tickets={t: v for t, v in state.tickets.items() if t not in expired},
        flagged={t: f for t, f in state.flagged.items() if t not in expired},
        decided={t: d for t, d in state.decided.items() if t not in expired},
    )


def customer_expires_at(
    state: CustomerState, retention: timedelta, written_at: datetime | None = None
) -> datetime | None:
    """When the next of the customer's views expires; a resolved view counts only once its
    verdict is decided (the FCR window, shorter than ``retention``, closes first)."""
    moments = [
        _view_expires_at(view, retention, written_at)
        for view in state.tickets.values()
        if view.resolved_at is None or view.ticket_id in state.decided
    ]
    return min(moments, default=None)
