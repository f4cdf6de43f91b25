"""The closed label sets of ccpulse's metrics, and how a free value maps onto one.

Never a customer, ticket or agent id: every label here takes one of a few dozen values.
"""

from __future__ import annotations

from collections.abc import Sequence

from processor.core import TicketMetrics
from processor.core.sla import Target
from processor.events import Channel, Priority, SourceKind

UNKNOWN = "unknown"
OTHER = "other"
CHANNELS = (*(channel.value for channel in Channel), UNKNOWN)
PRIORITIES = tuple(priority.value for priority in Priority)
TARGETS = tuple(target.value for target in Target)
SOURCES = tuple(kind.value for kind in SourceKind)
ROUTED_LAG, CUSTOMER_VIEWS_LAG = "ticket-events", "customer-tickets"
LAG_TOPICS = (*SOURCES, ROUTED_LAG, CUSTOMER_VIEWS_LAG)
"""Topics whose consumer lag is reported: the source topics and the two internal ones."""
TOUCHES = ("none", "one", "multi", UNKNOWN)
CONTACTS = ("first", "repeat", UNKNOWN)


def channel_of(ticket: TicketMetrics) -> str:
    return known_channel(ticket.channel)


def known_channel(channel: str | None) -> str:
    return channel if channel in CHANNELS else UNKNOWN


def touches_of(ticket: TicketMetrics) -> str:
    """``one`` / ``multi`` touch (``none`` yet), or ``unknown`` for an unknown ticket."""
    if not ticket.is_known:
        return UNKNOWN
    return TOUCHES[min(ticket.touches, 2)]


def contact_of(ticket: TicketMetrics) -> str:
    """``repeat`` or ``first`` contact, or ``unknown`` for an unknown ticket."""
    if not ticket.is_known:
        return UNKNOWN
    return "repeat" if ticket.repeat_of is not None else "first"


def reason_label(reason: str, known: Sequence[str]) -> str:
    return reason if reason in known else OTHER
