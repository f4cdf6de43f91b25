"""Gauges computed when /metrics is scraped: backlog and SLA state, consumer lag, and
whether the worker is ready and reaches its broker.

They describe exactly the partitions this worker owns at that moment, so summed (or
max-ed, min-ed) over workers they equal the truth, also while partitions move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from processor.metrics.labels import CHANNELS, LAG_TOPICS, PRIORITIES, TARGETS
from processor.open_tickets import OpenTickets


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


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    ready: bool
    broker_connected: bool


StatusSource = Callable[[], WorkerStatus]
"""What /readyz would answer, and whether the last probe of the broker was answered."""


class WorkerStatusCollector(Collector):
    """Readiness and broker reachability as 0/1 gauges; both 0 until a source is set."""

    def __init__(self) -> None:
        self.source: StatusSource = lambda: WorkerStatus(ready=False, broker_connected=False)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        status = self.source()
        yield GaugeMetricFamily(
            "ccpulse_worker_ready",
            "1 when the worker is ready (as /readyz): broker reachable, topics present, "
            "partitions assigned and tables recovered.",
            value=int(status.ready),
        )
        yield GaugeMetricFamily(
            "ccpulse_broker_connected",
            "1 when the Kafka broker answered the worker's last probe.",
            value=int(status.broker_connected),
        )
