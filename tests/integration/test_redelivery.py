"""The same event delivered again changes nothing, through a real worker and across a restart.

A contact center's day (``contact_scenario``, no copies of its own) is produced with every
message three times, the copies interleaved further down the stream; or produced once,
the worker killed once it has processed everything, and produced a second time to the
restarted worker. Snapshots, SLA audit ids, repeat flags, FCR verdicts and every counter
must be what the plan says, as if each event had come once; the copies are counted as
duplicates and nothing else.

The SLA clock is event time, with a lateness longer than the day's events span: nothing is
judged until a last event far later in time is sent, once every copy is processed, so the
order in which the worker's partitions come cannot matter.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from processor.config import Settings
from tests.integration import contact_truth as truth
from tests.integration.contact_scenario import Message, Scenario, generate, worker_settings
from tests.integration.support import (
    TopicWatcher,
    WorkerProcess,
    clock_event,
    eventually,
    group_lag,
    produce,
)

pytestmark = pytest.mark.integration

SPAN = timedelta(hours=6)
LATENESS = timedelta(days=1)
"""Longer than the day's event times span (openings over 6 h, answers up to 9 h later)."""
TICKETS = 600


def day(seed: int) -> tuple[Scenario, datetime]:
    now = datetime.now(UTC).replace(microsecond=0)
    return generate(seed, TICKETS, now - timedelta(days=3), SPAN, copy_share=0), now


def three_times(messages: list[Message], rng: random.Random) -> list[Message]:
    """Each message, then two copies of it at random places later in the stream."""
    slots: list[list[Message]] = [[] for _ in messages]
    for index, message in enumerate(messages):
        for _ in range(2):
            slots[rng.randrange(index, len(messages))].append(message)
    return [m for index, original in enumerate(messages) for m in (original, *slots[index])]


def send(settings: Settings, messages: list[Message]) -> None:
    topics = settings.topics
    produce(
        settings.kafka.bootstrap_servers,
        [(topics.source(m.source), m.key, m.body) for m in messages],
    )


@contextmanager
def watched_worker(
    settings: Settings, tmp_path: Path
) -> Iterator[tuple[WorkerProcess, list[TopicWatcher]]]:
    topics = settings.topics
    with ExitStack() as stack:
        watchers = [
            stack.enter_context(
                TopicWatcher(settings.kafka.bootstrap_servers, topic, topics.partitions)
            )
            for topic in (topics.ticket_metrics, topics.sla_events, topics.repeat_contacts)
        ]
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        stack.callback(worker.stop)
        worker.start().wait_for(WorkerProcess.ready, what="ready")
        yield worker, watchers


def processed(settings: Settings) -> None:
    with group_lag(settings) as lag:
        eventually(lambda: _equal(lag.fresh(), 0), timeout=120)


def release(settings: Settings, now: datetime) -> None:
    """Every deadline and FCR window passes, once everything before is in."""
    processed(settings)
    clock_event(settings, 0, now - timedelta(hours=1))
    processed(settings)


def test_every_event_delivered_three_times_counts_once(settings: Settings, tmp_path: Path) -> None:
    scenario, now = day(seed=11)
    settings = worker_settings(settings, tmp_path / "sla.yaml", LATENESS)
    stream = three_times(scenario.messages, random.Random(11))
    with watched_worker(settings, tmp_path) as (worker, watchers):
        send(settings, stream)
        release(settings, now)
        eventually(lambda: check_outputs(scenario, watchers), timeout=60)
        scrape = worker.scrape()
    assert truth.comparable(scrape) == truth.expected_counters(scenario.plans, verdicts=True)
    per_source = Counter(m.source.value for m in scenario.messages)
    assert consumed(scrape) == {source: 3 * n for source, n in per_source.items()} | {
        "tickets": 3 * per_source["tickets"] + 1
    }
    assert duplicates(scrape) == {source: 2 * n for source, n in per_source.items()}
    counted = sum(duplicates(scrape).values())
    print(
        f"\nredelivery: {len(scenario.messages)} events sent three times, {counted:.0f} duplicates"
    )


def test_events_seen_before_a_restart_are_recognised_after_it(
    settings: Settings, tmp_path: Path
) -> None:
    scenario, now = day(seed=12)
    settings = worker_settings(settings, tmp_path / "sla.yaml", LATENESS)
    with watched_worker(settings, tmp_path) as (worker, watchers):
        send(settings, scenario.messages)
        release(settings, now)
        eventually(lambda: check_outputs(scenario, watchers), timeout=60)
        first = worker.scrape()
        worker.kill()
        worker.start().wait_for(WorkerProcess.ready, what="ready after the restart")
        send(settings, scenario.messages)
        processed(settings)
        again = worker.scrape()
        check_outputs(scenario, watchers)
    assert truth.comparable(first) == truth.expected_counters(scenario.plans, verdicts=True)
    assert truth.comparable(again) == Counter()
    per_source = Counter(m.source.value for m in scenario.messages)
    assert consumed(again) == dict(per_source)
    assert duplicates(again) == dict(per_source)
    counted = sum(duplicates(again).values())
    print(
        f"\nafter a restart: {len(scenario.messages)} events sent again, {counted:.0f} duplicates"
    )


def check_outputs(scenario: Scenario, watchers: list[TopicWatcher]) -> None:
    truth.check_outputs(scenario.plans, *(watcher.messages() for watcher in watchers))


def consumed(scrape: dict[truth.Key, float]) -> dict[str, float]:
    return _per_source(scrape, "ccpulse_events_consumed_total")


def duplicates(scrape: dict[truth.Key, float]) -> dict[str, float]:
    return _per_source(scrape, "ccpulse_events_duplicate_total")


def _per_source(scrape: dict[truth.Key, float], name: str) -> dict[str, float]:
    found: defaultdict[str, float] = defaultdict(float)
    for (sample, labels), value in scrape.items():
        if sample == name and value:
            found[dict(labels)["source"]] += value
    return dict(found)


def _equal(got: Any, expected: Any) -> None:
    assert got == expected
