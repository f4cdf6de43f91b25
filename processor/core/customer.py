"""Per-customer state: repeat contacts and first-contact resolution (FCR) verdicts.

The state of a customer is the latest view of each of their tickets (when it was opened,
on which channel, when it was resolved, how often reopened). A view carries a version
(the number of events behind it) so that a late, older view never overwrites a newer one;
everything else is derived from the set of views, so the result does not depend on the
order in which ticket updates arrive.

- A ticket is a **repeat contact** for a window when the customer opened another ticket
  before it, at most that window earlier; ``repeat_of`` names the latest such ticket.
- A resolved ticket's **FCR verdict** is due when the window after its resolution closes:
  positive when by then it was never reopened and the customer opened no other ticket
  after it and before that moment; negative otherwise. Until then it is pending.

This module deliberately does not keep time: ``now`` (wall clock or event-time
watermark) is passed in by whoever asks for verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class TicketView:
    ticket_id: str
    version: int
    """How many events the view is derived from; a larger one is newer."""
    opened_at: datetime
    channel: str
    resolved_at: datetime | None = None
    reopens: int = 0


@dataclass(frozen=True, slots=True)
class Repeat:
    ticket_id: str
    repeat_of: str
    gap: timedelta
    channel: str
    previous_channel: str


@dataclass(frozen=True, slots=True)
class CustomerState:
    customer_id: str
    tickets: Mapping[str, TicketView]


def update(state: CustomerState | None, customer_id: str, view: TicketView) -> CustomerState:
    """Take a ticket's view unless an equally new or newer one is already known."""
    tickets = dict(state.tickets) if state is not None else {}
    known = tickets.get(view.ticket_id)
    if known is None or view.version > known.version:
        tickets[view.ticket_id] = view
    return CustomerState(customer_id, tickets)


def _order(view: TicketView) -> tuple[datetime, str]:
    return view.opened_at, view.ticket_id


def repeat_of(state: CustomerState, ticket_id: str, window: timedelta) -> Repeat | None:
    """The ticket this one repeats within ``window``, if any (the latest earlier one)."""
    ticket = state.tickets[ticket_id]
    earlier = [
        view
        for view in state.tickets.values()
        if _order(view) < _order(ticket) and ticket.opened_at - view.opened_at <= window
    ]
    if not earlier:
        return None
    previous = max(earlier, key=_order)
    return Repeat(
        ticket_id=ticket_id,
        repeat_of=previous.ticket_id,
        gap=ticket.opened_at - previous.opened_at,
        channel=ticket.channel,
        previous_channel=previous.channel,
    )


def repeats(state: CustomerState, window: timedelta) -> dict[str, Repeat]:
    """Every repeat contact of the customer for ``window``, by ticket."""
    found = (repeat_of(state, ticket_id, window) for ticket_id in state.tickets)
    return {repeat.ticket_id: repeat for repeat in found if repeat is not None}


def fcr_verdict(
    state: CustomerState, ticket_id: str, window: timedelta, now: datetime
) -> bool | None:
    """True or False once the window after the ticket's resolution has closed, else None."""
    ticket = state.tickets[ticket_id]
    if ticket.resolved_at is None:
        return None
    closes = ticket.resolved_at + window
    if now < closes:
        return None
    came_back = any(
        _order(view) > _order(ticket) and view.opened_at <= closes
        for view in state.tickets.values()
    )
    return ticket.reopens == 0 and not came_back


def verdicts_due(
    state: CustomerState, window: timedelta, now: datetime, decided: Iterable[str] = ()
) -> dict[str, bool]:
    """Verdicts that are due at ``now`` and were not decided before."""
    done = set(decided)
    verdicts = {
        ticket_id: fcr_verdict(state, ticket_id, window, now)
        for ticket_id in state.tickets
        if ticket_id not in done
    }
    return {ticket_id: verdict for ticket_id, verdict in verdicts.items() if verdict is not None}
