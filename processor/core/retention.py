"""When state may be forgotten, so that memory stays bounded however long a worker runs.

- A **closed ticket** (resolved, or a bare call abandoned) is forgotten ``retention``
  after its last event. Its event ids go with it: a redelivery later than that would be
  taken as new, so ``retention`` must exceed any redelivery or lateness horizon, the repeat
  and FCR windows and the SLA targets. An open ticket is never forgotten: it is backlog.
- A **customer's ticket view** is forgotten ``retention`` after the ticket was opened or
  resolved, whichever is later, once its FCR verdict (if it was resolved) is decided; a
  customer with no view left is forgotten altogether.

It only says *when*; the shell deletes the table keys (a tombstone in the changelog).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from processor.core.customer import CustomerState, TicketView
from processor.core.ticket_metrics import TicketMetrics


def ticket_expires_at(ticket: TicketMetrics, retention: timedelta) -> datetime | None:
    """When the ticket's state may be forgotten; None while it is open."""
    return None if ticket.is_open else ticket.last_event_at + retention


def _view_expires_at(view: TicketView, retention: timedelta) -> datetime:
    return max(view.opened_at, view.resolved_at or view.opened_at) + retention


def prune(state: CustomerState, now: datetime, retention: timedelta) -> CustomerState:
    """The customer's state without the views (and their flags and verdicts) that expired."""
    expired = {
        ticket_id
        for ticket_id, view in state.tickets.items()
        if _view_expires_at(view, retention) <= now
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


def customer_expires_at(state: CustomerState, retention: timedelta) -> datetime | None:
    """When the next of the customer's views expires; a resolved view counts only once its
    verdict is decided (the FCR window, shorter than ``retention``, closes first)."""
    moments = [
        _view_expires_at(view, retention)
        for view in state.tickets.values()
        if view.resolved_at is None or view.ticket_id in state.decided
    ]
    return min(moments, default=None)
