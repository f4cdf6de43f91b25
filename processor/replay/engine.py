"""The replay engine: the worker's ``Pipeline`` run in-process over a history of events.

Tables are dicts, the internal topics (routed events, tickets' views for their customers)
are lists handed straight back to ``update_tickets`` / ``update_customers`` until they
are drained, and deadlines pass on event time: the clock is the newest event time seen
minus the configured lateness, so an event up to that late, as history exports often
are, still counts before a deadline or FCR window it falls before is judged. After every
batch of lines the timer's sweeps run until nothing more is due.

At the end of the input no event can be late any more: the lateness is released and the
clock advanced to ``until`` (default: the newest event time), and the sweeps run again.
A deadline after that moment is not judged, as a live worker would not have judged it
yet.

Rules, metrics and the decoder are the worker's, built from the same ``Settings``. A line
whose source cannot be told is dead-lettered here and counted in
``ccpulse_events_rejected_total{source="unknown"}``; every other line goes through the
worker's ingest step. The engine does not read files, talk to Kafka nor write outputs:
derived messages go to the ``publish`` callback as (topic, key, value).
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from processor.codec import Rejection, SourceDecoder, encode_dead_letter
from processor.config import Settings
from processor.events import SourceKind
from processor.open_tickets import OpenTickets
from processor.replay.report import Answers
from processor.replay.source import Line
from processor.shell.pipeline import Clock, Message, Pipeline, Publish, Rules, Topics
from processor.shell.worker import metrics_of

UNKNOWN_SOURCE = "unknown"
"""The ``source`` label of lines whose source could not be told (replays only)."""
_PARTITION = 0  # one process owns everything: a single partition for the indexes


def derived_topics(settings: Settings) -> tuple[str, ...]:
    """The output topics, as the worker writes them."""
    topics = settings.topics
    return (topics.ticket_metrics, topics.sla_events, topics.repeat_contacts, topics.deadletter)


class Replay:
    def __init__(
        self, settings: Settings, rules: Rules, publish: Publish, *, source_name: str
    ) -> None:
        """``source_name`` (the file's name) is the topic that dead letters point back to."""
        self.source_name = source_name
        self.rules = rules
        self.publish = publish
        # Deadlines pass on event time; the wall clock only bounds (in the decoder) how far
        # ahead of now an event may claim to have happened, as in the worker.
        self.clock = Clock(event_time=True, wall=time.time, lateness_s=settings.sla.lateness_s)
        self.registry = CollectorRegistry()
        self.open_tickets = OpenTickets()
        self.metrics = metrics_of(settings, self.registry, self.open_tickets, self.clock)
        self.tickets: dict[bytes, bytes] = {}
        self.customers: dict[bytes, bytes] = {}
        app_id = settings.app_id
        self.topics = Topics(
            routed=f"{app_id}-ticket-events",
            customer_views=f"{app_id}-customer-tickets",
            ticket_metrics=settings.topics.ticket_metrics,
            deadletter=settings.topics.deadletter,
            sla_events=settings.topics.sla_events,
            repeat_contacts=settings.topics.repeat_contacts,
        )
        self._internal: list[tuple[str, bytes | None, bytes]] = []
        self._offsets = itertools.count()
        self.pipeline = Pipeline(
            self.topics,
            SourceDecoder(
                settings.max_event_bytes,
                max_future_skew_s=settings.max_future_skew_s,
                max_age_days=settings.max_event_age_days,
            ),
            self.metrics,
            self.open_tickets,
            self._send,
            rules=rules,
            clock=self.clock,
        )
        self.lines = 0

    def _send(
        self, topic: str, key: bytes | None, value: bytes, partition: int | None = None
    ) -> None:
        if topic in (self.topics.routed, self.topics.customer_views):
            self._internal.append((topic, key, value))
        else:
            self.publish(topic, key, value)

    def feed(self, lines: Sequence[Line]) -> None:
        """One batch of lines, then everything it caused, then what fell due by then."""
        for source, run in itertools.groupby(lines, key=lambda line: line.source):
            group = list(run)
            if isinstance(source, SourceKind):
                self.pipeline.ingest(source, (self._message(line) for line in group))
            else:
                for line in group:
                    self._dead_letter(line, source)
        self.lines += len(lines)
        self._drain()
        self._sweep()

    def finish(self, until: datetime | None = None) -> datetime:
        """End of input: release the lateness, advance the clock to ``until`` (default the
        newest event time) and report what fell due; the moment the replay ends at."""
        reached = self.clock()
        target = until.timestamp() if until is not None else self.clock.watermark
        self.clock.lateness_s = 0.0
        # Deadlines up to ``reached`` were judged already: the clock never goes back.
        self.clock.watermark = max(target, reached)
        self._sweep()
        return datetime.fromtimestamp(self.clock(), UTC)

    def _message(self, line: Line) -> Message:
        return Message(self.source_name, _PARTITION, line.number, None, line.raw)

    def _dead_letter(self, line: Line, rejection: Rejection) -> None:
        self.metrics.rejected.labels(UNKNOWN_SOURCE, rejection.reason.value).inc()
        letter = encode_dead_letter(
            rejection,
            topic=self.source_name,
            partition=_PARTITION,
            offset=line.number,
            key=None,
            raw=line.raw,
        )
        self.publish(self.topics.deadletter, None, letter)

    def _drain(self) -> None:
        """Hand the internal topics back to their steps, as the agents would, until empty."""
        while self._internal:
            pending, self._internal = self._internal, []
            routed = [
                self._internal_message(sent) for sent in pending if sent[0] == self.topics.routed
            ]
            views = [
                self._internal_message(sent) for sent in pending if sent[0] != self.topics.routed
            ]
            if routed:
                self.pipeline.update_tickets(self.tickets, routed)
            if views:
                self.pipeline.update_customers(self.customers, views)

    def _internal_message(self, sent: tuple[str, bytes | None, bytes]) -> Message:
        topic, key, value = sent
        return Message(topic, _PARTITION, next(self._offsets), key, value)

    def _sweep(self) -> None:
        """The worker's timer, repeated until nothing is due (each call looks at a bounded
        number of keys)."""
        while True:
            due = self.pipeline.check_deadlines(self.tickets)
            if self.rules.repeat is not None:
                self.pipeline.share_clock((_PARTITION,), 1)
                self._drain()
                due += self.pipeline.close_windows(self.customers)
            self._drain()
            if not due:
                return


def answers_of(registry: CollectorRegistry) -> dict[str, Answers]:
    """Survey answers by channel, read back from the metrics that counted them; empty
    when this build has no survey metrics."""
    found: dict[str, Answers] = defaultdict(Answers)
    for family in registry.collect():
        for sample in family.samples:
            channel = sample.labels.get("channel", UNKNOWN_SOURCE)
            part = _answer_part(sample.name, sample.labels, sample.value)
            if part is not None:
                found[channel] = found[channel] + part
    return dict(found)


def _answer_part(name: str, labels: Mapping[str, str], value: float) -> Answers | None:
    count = round(value)
    match name:
        case "ccpulse_csat_answers_total":
            positive = count if labels.get("answer") == "positive" else 0
            return Answers(csat_positive=positive, csat_total=count)
        case "ccpulse_nps_answers_total":
            group = labels.get("group")
            return Answers(
                promoters=count if group == "promoter" else 0,
                passives=count if group == "passive" else 0,
                detractors=count if group == "detractor" else 0,
            )
        case "ccpulse_ces_score_sum":
            return Answers(ces_sum=value)
        case "ccpulse_ces_score_count":
            return Answers(ces_count=count)
    return None
