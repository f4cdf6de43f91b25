"""Every Prometheus metric ccpulse exports, declared once, on an injected registry.

Counters and histograms are fed from core effects (``record``); backlog gauges are read at
scrape time from the worker's view of its open tickets, and consumer lag from the
worker's Kafka consumer, so they always describe exactly the partitions this worker owns
and sum (or max) correctly across workers. The process's CPU, memory and start time come
from prometheus_client's process collector.

Labels are closed sets: source, event type, reject reason, channel, priority, SLA target,
repeat window. Counters are created at zero for every label combination, so that
``increase()`` sees their first event. Never a customer, ticket or agent id.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from processor.codec import RejectReason
from processor.core import (
    CallCompleted,
    DuplicateIgnored,
    Effect,
    FirstResponded,
    FirstResponseCorrected,
    Reopened,
    Resolved,
    TicketMetrics,
    TicketOpened,
)
from processor.core.customer import RepeatChange
from processor.core.service_level import ServiceLevelRule
from processor.core.sla import SlaEvent, SlaKind, Target
from processor.events import Channel, Priority, SourceKind, event_models, source_of
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
ANSWER_BUCKETS = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200)
TARGETS = tuple(target.value for target in Target)
SOURCES = tuple(kind.value for kind in SourceKind)
ROUTED_LAG, CUSTOMER_VIEWS_LAG = "ticket-events", "customer-tickets"
LAG_TOPICS = (*SOURCES, ROUTED_LAG, CUSTOMER_VIEWS_LAG)
"""Topics whose consumer lag is reported: the source topics and the two internal ones."""


def channel_of(ticket: TicketMetrics) -> str:
    return known_channel(ticket.channel)


def known_channel(channel: str | None) -> str:
    return channel if channel in CHANNELS else UNKNOWN


class Metrics:
    """The metrics of one worker. Pass a fresh registry per test."""

    def __init__(
        self,
        registry: CollectorRegistry,
        open_tickets: OpenTickets,
        clock: Callable[[], float],
        service_level: ServiceLevelRule | None = None,
        repeat_windows: Sequence[str] = (),
    ) -> None:
        self.service_level = service_level or ServiceLevelRule()
        ticket_labels = ("channel", "priority")
        sla_labels = ("channel", "priority", "target")
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
        self.sla_warnings = Counter(
            "ccpulse_sla_warnings",
            "SLA warnings (each level once per ticket and target).",
            sla_labels,
            registry=registry,
        )
        self.sla_breaches = Counter(
            "ccpulse_sla_breaches",
            "SLA targets breached (once per ticket and target), detected when the deadline passed.",
            sla_labels,
            registry=registry,
        )
        self.sla_met = Counter(
            "ccpulse_sla_met",
            "SLA targets met: compliance = met / (met + breaches).",
            sla_labels,
            registry=registry,
        )
        self.repeats = Counter(
            "ccpulse_repeat_contacts",
            "New tickets from a customer who had another ticket within the window.",
            ("window", "channel", "previous_channel"),
            registry=registry,
        )
        self.fcr = Counter(
            "ccpulse_fcr_verdicts",
            "First-contact-resolution verdicts, decided when the window after resolution closed.",
            ("channel", "verdict"),
            registry=registry,
        )
        self.calls_answered = Counter(
            "ccpulse_calls_answered", "Queued calls answered by an agent.", registry=registry
        )
        self.calls_abandoned = Counter(
            "ccpulse_calls_abandoned",
            "Queued calls the caller hung up on before an answer; short: under short_abandon_s.",
            ("short",),
            registry=registry,
        )
        self.answer_speed = Histogram(
            "ccpulse_call_answer_seconds",
            "Speed of answer: queue entry to agent answer, for answered calls.",
            buckets=ANSWER_BUCKETS,
            registry=registry,
        )
        self.service_level_calls = Counter(
            "ccpulse_call_service_level_calls",
            "Calls counted for the service level: answered within the threshold or not.",
            ("result",),
            registry=registry,
        )
        self._start_at_zero(repeat_windows)
        registry.register(BacklogCollector(open_tickets, clock))
        self.lag = ConsumerLagCollector()
        registry.register(self.lag)
        ProcessCollector(registry=registry)

    def _start_at_zero(self, repeat_windows: Sequence[str]) -> None:
        combos: list[tuple[Counter, Iterable[tuple[str, ...]]]] = [
            (self.consumed, ((k.value, t) for k in SourceKind for t in event_models(k))),
            (self.rejected, itertools.product(SOURCES, (r.value for r in RejectReason))),
            (self.duplicates, ((source,) for source in SOURCES)),
            (self.fcr, itertools.product(CHANNELS, ("positive", "negative"))),
            (self.repeats, itertools.product(repeat_windows, CHANNELS, CHANNELS)),
            (self.calls_abandoned, (("true",), ("false",))),
            (self.service_level_calls, (("within",), ("outside",))),
        ]
        ticket_counters = (self.created, self.resolved, self.reopens, self.one_touch)
        for counter in (*ticket_counters, self.corrections):
            combos.append((counter, itertools.product(CHANNELS, PRIORITIES)))
        for counter in (self.sla_warnings, self.sla_breaches, self.sla_met):
            combos.append((counter, itertools.product(CHANNELS, PRIORITIES, TARGETS)))
        for counter, label_sets in combos:
            for labels in label_sets:
                counter.labels(*labels)

    def record_sla(self, events: Iterable[SlaEvent], ticket: TicketMetrics) -> None:
        counters = {
            SlaKind.WARNING: self.sla_warnings,
            SlaKind.BREACHED: self.sla_breaches,
            SlaKind.MET: self.sla_met,
        }
        for event in events:
            counter = counters.get(event.kind)
            if counter is not None:
                counter.labels(channel_of(ticket), ticket.priority, event.target.value).inc()

    def record_repeat(self, change: RepeatChange) -> None:
        repeat = change.repeat
        channels = (known_channel(repeat.channel), known_channel(repeat.previous_channel))
        for window in change.new_windows:
            self.repeats.labels(window, *channels).inc()

    def record_fcr(self, channel: str | None, fcr: bool) -> None:
        self.fcr.labels(known_channel(channel), "positive" if fcr else "negative").inc()

    def _record_call(self, call: CallCompleted) -> None:
        if call.answered:
            self.calls_answered.inc()
            self.answer_speed.observe(call.wait_seconds)
        else:
            short = self.service_level.is_short_abandon(call.answered, call.wait_seconds)
            self.calls_abandoned.labels("true" if short else "false").inc()
        verdict = self.service_level.classify(call.answered, call.wait_seconds)
        if verdict is not None:
            self.service_level_calls.labels(verdict).inc()

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
                case CallCompleted():
                    self._record_call(effect)


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
        at_risk = GaugeMetricFamily(
            "ccpulse_sla_tickets_at_risk",
            "Running SLA targets past their first warning and not yet breached.",
            labels=["channel", "priority", "target"],
        )
        overdue = GaugeMetricFamily(
            "ccpulse_sla_tickets_overdue",
            "Running SLA targets past their deadline: breached and still not met.",
            labels=["channel", "priority", "target"],
        )
        to_breach = GaugeMetricFamily(
            "ccpulse_sla_seconds_to_next_breach",
            "Seconds until the most urgent running target breaches; min over workers. "
            "Absent for a channel without a running target.",
            labels=["channel"],
        )
        now = self._clock()
        summary = self._open_tickets.summary(now)
        for channel in CHANNELS:
            for priority in PRIORITIES:
                key = (channel, priority)
                backlog.add_metric(key, summary.open.get(key, 0))
                awaiting.add_metric(key, summary.awaiting.get(key, 0))
                for target in TARGETS:
                    at_risk.add_metric((*key, target), summary.at_risk.get((*key, target), 0))
                    overdue.add_metric((*key, target), summary.overdue.get((*key, target), 0))
            since = summary.oldest_awaiting_since.get(channel)
            oldest.add_metric((channel,), max(0.0, now - since) if since is not None else 0.0)
            if (breach := summary.next_breach_at.get(channel)) is not None:
                to_breach.add_metric((channel,), breach - now)
        yield from (backlog, awaiting, oldest, at_risk, overdue, to_breach)


LagSource = Callable[[], Mapping[str, int]]
"""Messages not yet processed and committed on this worker's partitions, per topic."""


class ConsumerLagCollector(Collector):
    """Consumer lag computed at scrape time; every topic is reported, 0 when unowned."""

    def __init__(self) -> None:
        self.source: LagSource = dict

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "ccpulse_consumer_lag_messages",
            "Messages on this worker's partitions not yet processed and committed "
            "(high watermark - committed offset); sum over workers.",
            labels=["topic"],
        )
        lag = self.source()
        for topic in LAG_TOPICS:
            family.add_metric((topic,), lag.get(topic, 0))
        yield family
