"""This worker's view of its open tickets, for the backlog gauges.

Kept per partition so that when partitions move between workers each worker counts
exactly the tickets it owns: revoked partitions are dropped at once, and the view is
rebuilt from the recovered table when partitions are assigned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from processor.core import TicketMetrics
from processor.core.sla import Running


@dataclass(frozen=True, slots=True)
class OpenTicket:
    partition: int
    channel: str
    priority: str
    awaiting_since: float | None
    """Unix time of the first inbound contact while no human has answered yet."""
    timers: tuple[tuple[str, float | None, float], ...] = ()
    """Running SLA timers: (target, Unix time of the first warning, of the breach)."""


@dataclass(frozen=True, slots=True)
class BacklogSummary:
    open: Counter[tuple[str, str]] = field(default_factory=Counter)
    awaiting: Counter[tuple[str, str]] = field(default_factory=Counter)
    oldest_awaiting_since: dict[str, float] = field(default_factory=dict)
    at_risk: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    overdue: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """Running targets whose deadline has passed: breached and still not met."""
    next_breach_at: dict[str, float] = field(default_factory=dict)


class OpenTickets:
    def __init__(self, unknown_channel: str = "unknown") -> None:
        self._tickets: dict[str, OpenTicket] = {}
        self._unknown = unknown_channel

    def __len__(self) -> int:
        return len(self._tickets)

    def update(
        self, partition: int, ticket: TicketMetrics, running: tuple[Running, ...] | None = None
    ) -> None:
        """Take the ticket's metrics; ``running`` SLA timers, when given, replace the known."""
        if not ticket.is_open:
            self._tickets.pop(ticket.ticket_id, None)
            return
        known = self._tickets.get(ticket.ticket_id)
        if running is not None:
            timers = tuple(
                (r.target.value, r.warns_at.timestamp() if r.warns_at else None, _ts(r.breaches_at))
                for r in running
            )
        else:
            timers = known.timers if known is not None else ()
        awaiting = ticket.first_inbound_at if ticket.awaiting_first_response else None
        self._tickets[ticket.ticket_id] = OpenTicket(
            partition=partition,
            channel=ticket.channel or self._unknown,
            priority=ticket.priority,
            awaiting_since=awaiting.timestamp() if awaiting else None,
            timers=timers,
        )

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        gone = set(partitions)
        self._tickets = {
            ticket_id: ticket
            for ticket_id, ticket in self._tickets.items()
            if ticket.partition not in gone
        }

    def replace(self, tickets: Iterable[tuple[int, TicketMetrics]]) -> None:
        """Forget everything and count exactly these (partition, ticket) pairs."""
        self._tickets = {}
        for partition, ticket in tickets:
            self.update(partition, ticket)

    def summary(self, now: float) -> BacklogSummary:
        """Counts as of ``now`` (Unix time): SLA timers are compared with it."""
        summary = BacklogSummary()
        # A scrape runs on another thread: iterate over a copy taken atomically.
        for ticket in list(self._tickets.values()):
            key = (ticket.channel, ticket.priority)
            summary.open[key] += 1
            if ticket.awaiting_since is not None:
                summary.awaiting[key] += 1
                oldest = summary.oldest_awaiting_since.get(ticket.channel, ticket.awaiting_since)
                summary.oldest_awaiting_since[ticket.channel] = min(oldest, ticket.awaiting_since)
            for target, warns_at, breaches_at in ticket.timers:
                if breaches_at <= now:
                    summary.overdue[(*key, target)] += 1
                    continue
                if warns_at is not None and warns_at <= now:
                    summary.at_risk[(*key, target)] += 1
                soonest = summary.next_breach_at.get(ticket.channel, breaches_at)
                summary.next_breach_at[ticket.channel] = min(soonest, breaches_at)
        return summary


def _ts(moment: datetime) -> float:
    return moment.timestamp()
