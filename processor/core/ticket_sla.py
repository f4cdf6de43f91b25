"""A ticket's SLA audit events that are due and not yet emitted, and what is still running.

``check(state, metrics, book, now)`` picks the ticket's policy from its current channel,
priority and queue, lists the audit events due by ``now``, and records their ids in the
state, so each is emitted exactly once however often the ticket is checked (after every
event batch, on every timer tick, after a restart).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from processor.core.sla import (
    Policy,
    PolicyBook,
    Running,
    SlaEvent,
    first_after,
    schedule_and_running,
)
from processor.core.ticket import TicketState, clock_of
from processor.core.ticket_metrics import TicketMetrics


@dataclass(frozen=True, slots=True)
class SlaCheck:
    state: TicketState
    policy: Policy | None
    events: tuple[SlaEvent, ...]
    """Due and not emitted before: emit these."""
    emitted: tuple[SlaEvent, ...]
    """Due and emitted before (to publish again when a crash may have lost them)."""
    running: tuple[Running, ...]
    next_due: datetime | None
    """When to check the ticket again if no event arrives for it."""


def check(state: TicketState, metrics: TicketMetrics, book: PolicyBook, now: datetime) -> SlaCheck:
    policy = book.policy_for(metrics.channel, metrics.priority, metrics.queue)
    if policy is None or not metrics.is_known:
        return SlaCheck(state, None, (), (), (), None)
    clock = clock_of(state)
    events, running = schedule_and_running(clock, policy)
    happened = [e for e in events if e.at <= now]
    fresh = tuple(e for e in happened if e.event_id not in state.sla_sent)
    emitted = tuple(e for e in happened if e.event_id in state.sla_sent)
    if fresh:
        state = replace(state, sla_sent=state.sla_sent | {event.event_id for event in fresh})
    upcoming = first_after(events, now)
    return SlaCheck(state, policy, fresh, emitted, running, upcoming)
