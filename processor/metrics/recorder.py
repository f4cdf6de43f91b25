"""The counters and histograms fed from core effects, and the worker's ``Metrics``."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

from processor.codec import RejectReason
from processor.core import (
    CallCompleted,
    DuplicateIgnored,
    Effect,
    FirstResponded,
    FirstResponseCorrected,
    ReasonCounted,
    Reopened,
    Resolved,
    SurveyAnswered,
    TicketMetrics,
    TicketOpened,
)
from processor.core.customer import RepeatChange
from processor.core.service_level import ServiceLevelRule
from processor.core.sla import SlaEvent, SlaKind
from processor.core.voice import VoiceRule
from processor.events import SourceKind, event_models, source_of
from processor.metrics.gauges import BacklogCollector, ConsumerLagCollector, WorkerStatusCollector
from processor.metrics.labels import (
    CHANNELS,
    PRIORITIES,
    SOURCES,
    TARGETS,
    channel_of,
    known_channel,
)
from processor.metrics.voice import VoiceMetrics
from processor.open_tickets import OpenTickets

# From a phone answer in seconds to an email answered days later.
DURATION_BUCKETS = (
    *(5, 10, 20, 30, 60, 120, 300, 600, 900, 1800),
    *(3600, 7200, 14400, 28800, 86400, 172800, 345600, 604800, 1209600, 2592000),
)
TOUCH_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20)
ANSWER_BUCKETS = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200)


class Metrics:
    """The metrics of one worker. Pass a fresh registry per test."""

    def __init__(
        self,
        registry: CollectorRegistry,
        open_tickets: OpenTickets,
        clock: Callable[[], float],
        *,
        service_level: ServiceLevelRule | None = None,
        repeat_windows: Sequence[str] = (),
        voice: VoiceRule | None = None,
        reasons: Sequence[str] = (),
    ) -> None:
        self.service_level = service_level or ServiceLevelRule()
        self.voice = VoiceMetrics(registry, voice or VoiceRule(), reasons)
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
        self.forgotten = Counter(
            "ccpulse_state_forgotten",
            "Table keys deleted after the retention: closed tickets, customers with no history.",
            ("table",),
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
        self.status = WorkerStatusCollector()
        registry.register(self.status)
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
            (self.forgotten, (("tickets",), ("customers",))),
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
                case SurveyAnswered():
                    self.voice.record_answer(effect)
                case ReasonCounted():
                    self.voice.record_reason(effect)
