"""Every Prometheus metric ccpulse exports, declared once, on an injected registry.

Counters and histograms are fed from core effects (``record``); backlog gauges are read at
scrape time from the worker's view of its open tickets, so they always describe exactly
the partitions this worker owns and sum (or max) correctly across workers.

Labels are closed sets: source, event type, reject reason, channel, priority. Never a
customer, ticket or agent id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from processor.core import (
    DuplicateIgnored,
    Effect,
    FirstResponded,
    FirstResponseCorrected,
    Reopened,
    Resolved,
    TicketMetrics,
    TicketOpened,
)
from processor.events import Channel, Priority, source_of
from processor.open_tickets import OpenTickets

# `_created` series double the exposition and no rule or dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

UNKNOWN = "unknown"
CHANNELS = (*(channel.value for channel in Channel), UNKNOWN)
PRIORITIES = tuple(priority.value for priority in Priority)

# From a phone answer in seconds to an email answered days later.
DURATION_BUCKETS = (
    *(5, 10, 20, 30, 60, 120, 300, 600, 900, 1800),
    *(3600, 7200, 14400, 28800, 86400, 172800, 345600, 604800, 1209600, 2592000),
)
TOUCH_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20)


def channel_of(ticket: TicketMetrics) -> str:
    return ticket.channel if ticket.channel in CHANNELS else UNKNOWN


class Metrics:
    """The metrics of one worker. Pass a fresh registry per test."""

    def __init__(
        self, registry: CollectorRegistry, open_tickets: OpenTickets, clock: Callable[[], float]
    ) -> None:
        ticket_labels = ("channel", "priority")
        self.consumed = Counter(
            "ccpulse_events_consumed",
            "Source events accepted, by source topic and event type.",
            ("source", "type"),
            registry=registry,
        )
        self.rejected = Counter(
            "ccpulse_events_rejected",
            "Source messages sent to the dead-letter topic, by source and reason.",
            ("source", "reason"),
            registry=registry,
        )
        self.duplicates = Counter(
            "ccpulse_events_duplicate",
            "Redelivered events (an event_id already seen) that changed nothing.",
            ("source",),
            registry=registry,
        )
        self.created = Counter(
            "ccpulse_tickets_created",
            "Tickets that became known (created or first contacted).",
            ticket_labels,
            registry=registry,
        )
        self.resolved = Counter(
            "ccpulse_tickets_resolved",
            "Resolutions (a reopened ticket resolved again counts again).",
            ticket_labels,
            registry=registry,
        )
        self.reopens = Counter(
            "ccpulse_ticket_reopens",
            "Resolved tickets reopened.",
            ticket_labels,
            registry=registry,
        )
        self.one_touch = Counter(
            "ccpulse_one_touch_resolutions",
            "Resolutions after exactly one agent touch and no reopen.",
            ticket_labels,
            registry=registry,
        )
        self.first_response = Histogram(
            "ccpulse_first_response_seconds",
            "First response time: first inbound contact to first human response (event time).",
            ticket_labels,
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.corrections = Counter(
            "ccpulse_first_response_corrections",
            "First response times changed by a late, earlier event after being observed.",
            ticket_labels,
            registry=registry,
        )
        self.resolution = Histogram(
            "ccpulse_resolution_seconds",
            "Resolution time: first inbound contact to resolution (event time).",
            ticket_labels,
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.touches = Histogram(
            "ccpulse_touches_per_resolution",
            "Agent touches a ticket needed until it was resolved.",
            ticket_labels,
            buckets=TOUCH_BUCKETS,
            registry=registry,
        )
        self.snapshots = Counter(
            "ccpulse_ticket_snapshots_published",
            "Ticket metric snapshots published on the ticket-metrics topic.",
            registry=registry,
        )
        registry.register(BacklogCollector(open_tickets, clock))

    def record(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, DuplicateIgnored):
                self.duplicates.labels(source_of(effect.event_type).value).inc()
                continue
            labels = (channel_of(effect.ticket), effect.ticket.priority)
            match effect:
                case TicketOpened():
                    self.created.labels(*labels).inc()
                case FirstResponded(seconds=seconds):
                    self.first_response.labels(*labels).observe(seconds)
                case FirstResponseCorrected():
                    self.corrections.labels(*labels).inc()
                case Resolved(seconds=seconds, touches=touches, ticket=ticket):
                    self.resolved.labels(*labels).inc()
                    self.resolution.labels(*labels).observe(seconds)
                    self.touches.labels(*labels).observe(touches)
                    if ticket.one_touch:
                        self.one_touch.labels(*labels).inc()
                case Reopened():
                    self.reopens.labels(*labels).inc()


class BacklogCollector(Collector):
    """Backlog gauges computed at scrape time from this worker's open tickets."""

    def __init__(self, open_tickets: OpenTickets, clock: Callable[[], float]) -> None:
        self._open_tickets = open_tickets
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["channel", "priority"]
        backlog = GaugeMetricFamily(
            "ccpulse_tickets_open", "Open tickets (backlog) owned by this worker.", labels=labels
        )
        awaiting = GaugeMetricFamily(
            "ccpulse_tickets_awaiting_first_response",
            "Open tickets whose customer has not had a first human response yet.",
            labels=labels,
        )
        oldest = GaugeMetricFamily(
            "ccpulse_oldest_awaiting_first_response_seconds",
            "Age of the oldest ticket awaiting a first response (0 if none); max over workers.",
            labels=["channel"],
        )
        summary = self._open_tickets.summary()
        now = self._clock()
        for channel in CHANNELS:
            for priority in PRIORITIES:
                key = (channel, priority)
                backlog.add_metric(key, summary.open.get(key, 0))
                awaiting.add_metric(key, summary.awaiting.get(key, 0))
            since = summary.oldest_awaiting_since.get(channel)
            oldest.add_metric((channel,), max(0.0, now - since) if since is not None else 0.0)
        yield from (backlog, awaiting, oldest)
