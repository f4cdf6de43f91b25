"""Consumer lag from a Faust app's consumer: high watermark minus committed offset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from prometheus_client import CollectorRegistry

from processor.metrics import LAG_TOPICS, Metrics
from processor.open_tickets import OpenTickets
from processor.shell.lag import consumer_lag
from processor.shell.pipeline import Clock

NAMES = {"cc.calls": "calls", "app-ticket-events": "ticket-events"}


class TP(NamedTuple):
    topic: str
    partition: int


@dataclass
class FakeConsumer:
    highwaters: dict[TP, int | None]
    _committed_offset: dict[TP, int | None] = field(default_factory=dict)

    def assignment(self) -> set[TP]:
        return set(self.highwaters)

    def highwater(self, tp: TP) -> int | None:
        return self.highwaters[tp]


@dataclass
class FakeApp:
    _consumer: FakeConsumer | None


def test_lag_is_the_high_watermark_minus_the_committed_offset_summed_per_topic() -> None:
    consumer = FakeConsumer(
        highwaters={TP("cc.calls", 0): 120, TP("cc.calls", 1): 40, TP("app-ticket-events", 3): 9},
        _committed_offset={TP("cc.calls", 0): 100, TP("cc.calls", 1): 40},
    )
    assert consumer_lag(FakeApp(consumer), NAMES) == {"calls": 20, "ticket-events": 9}


def test_partitions_of_other_topics_or_not_fetched_yet_are_left_out() -> None:
    consumer = FakeConsumer(
        highwaters={TP("app-tickets-changelog", 0): 500, TP("cc.calls", 2): None},
    )
    assert consumer_lag(FakeApp(consumer), NAMES) == {"calls": 0, "ticket-events": 0}


def test_an_app_that_has_not_started_its_consumer_reports_zero() -> None:
    assert consumer_lag(FakeApp(None), NAMES) == {"calls": 0, "ticket-events": 0}


def test_every_lag_topic_is_exported_even_before_the_consumer_reports() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, OpenTickets(), Clock(event_time=False, wall=lambda: 0.0))
    for topic in LAG_TOPICS:
        assert registry.get_sample_value("ccpulse_consumer_lag_messages", {"topic": topic}) == 0
    metrics.lag.source = lambda: {"calls": 7}
    assert registry.get_sample_value("ccpulse_consumer_lag_messages", {"topic": "calls"}) == 7
