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
from dataclasses import dataclass, field, replace
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
    reason: str | None = None


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
    flagged: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    """Ticket -> (the ticket it repeats, window labels) as last reported."""
    decided: Mapping[str, bool] = field(default_factory=dict)
    """Ticket -> its FCR verdict, once reported."""
    writer: str = ""
    """The worker run that last wrote this state, and so last published its outputs."""
    written_at: float = 0.0
    """Wall-clock Unix time of that write (how long ago the customer was last processed)."""
    swept: bool = False
    """Written by the timer's sweep: no input offset holds its outputs back (see ``writer``)."""


@dataclass(frozen=True, slots=True)
class RepeatRule:
    windows: tuple[tuple[str, timedelta], ...]
    """(label, length) of every repeat window reported, e.g. ("24h", 1 day)."""
    fcr_window: timedelta
    same_reason: bool = False
    """Only a ticket with the same contact reason counts as a repeat."""


def update(state: CustomerState | None, customer_id: str, view: TicketView) -> CustomerState:
    """Take a ticket's view unless an equally new or newer one is already known."""
    if state is None:
        state = CustomerState(customer_id, {})
    known = state.tickets.get(view.ticket_id)
    if known is not None and view.version <= known.version:
        return state
    return replace(state, tickets={**state.tickets, view.ticket_id: view})


def _order(view: TicketView) -> tuple[datetime, str]:
    return view.opened_at, view.ticket_id


def repeat_of(
    state: CustomerState, ticket_id: str, window: timedelta, *, same_reason: bool = False
) -> Repeat | None:
    """The ticket this one repeats within ``window``, if any (the latest earlier one)."""
    ticket = state.tickets[ticket_id]
    if same_reason and ticket.reason is None:
        return None
    earlier = [
        view
        for view in state.tickets.values()
        if _order(view) < _order(ticket)
        and ticket.opened_at - view.opened_at <= window
        and (not same_reason or view.reason == ticket.reason)
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


@dataclass(frozen=True, slots=True)
class RepeatChange:
    """A ticket's repeat status as it now stands, and the windows newly counted."""

    repeat: Repeat
    windows: tuple[str, ...]
    new_windows: tuple[str, ...]


def observe(state: CustomerState, rule: RepeatRule) -> tuple[CustomerState, list[RepeatChange]]:
    """Re-evaluate every ticket of the customer; report repeats not reported as they are.

    A window, once counted for a ticket, is not counted again, so a late earlier ticket
    that changes ``repeat_of`` updates the flag without counting the repeat twice.
    """
    changes: list[RepeatChange] = []
    flagged = dict(state.flagged)
    for ticket_id in sorted(state.tickets, key=lambda t: _order(state.tickets[t])):
        found = [
            (label, repeat)
            for label, window in rule.windows
            if (repeat := repeat_of(state, ticket_id, window, same_reason=rule.same_reason))
        ]
        if not found:
            continue
        windows = tuple(label for label, _ in found)
        repeat = found[-1][1]  # the widest window's: windows are sorted by length
        known_of, known_windows = flagged.get(ticket_id, ("", ()))
        merged = tuple(dict.fromkeys((*known_windows, *windows)))
        if (known_of, known_windows) == (repeat.repeat_of, merged):
            continue
        new = tuple(label for label in windows if label not in known_windows)
        flagged[ticket_id] = (repeat.repeat_of, merged)
        changes.append(RepeatChange(repeat, merged, new))
    return replace(state, flagged=flagged), changes


def close_windows(
    state: CustomerState, rule: RepeatRule, now: datetime
) -> tuple[CustomerState, dict[str, bool]]:
    """Decide the FCR verdicts due at ``now``; each ticket's verdict is reported once."""
    verdicts = verdicts_due(state, rule.fcr_window, now, state.decided)
    if not verdicts:
        return state, {}
    return replace(state, decided={**state.decided, **verdicts}), verdicts


def next_verdict_at(state: CustomerState, rule: RepeatRule) -> datetime | None:
    """When the next undecided resolved ticket's FCR window closes."""
    closing = [
        view.resolved_at + rule.fcr_window
        for view in state.tickets.values()
        if view.resolved_at is not None and view.ticket_id not in state.decided
    ]
    return min(closing, default=None)
