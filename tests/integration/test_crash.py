"""A worker SIGKILLed again and again while a contact center's day streams in loses nothing
and counts nothing twice.

About 22,000 messages (5,000 tickets on five channels, 3 % of the messages sent twice,
customers coming back within the repeat windows, survey answers, SLA warnings, breaches
and mets under a short first-response policy) are produced while a real worker is killed
with SIGKILL at random moments: while it processes, while it starts and recovers its
tables, and while the day's SLA deadlines and FCR windows are released by a final event
far later in event time. It is restarted each time. At the end the last snapshot of every
ticket, the set of SLA audit ids, the repeat flags, the FCR verdicts and the backlog
gauges equal what ``contact_truth`` reads off the plan. A consumer may see an SLA audit
event or a repeat contact again after a crash (same id; consumers drop ids they have
seen): how many is reported, and every copy of an id must say the same.

The SLA clock is event time: deadlines pass when the newest event time seen, less
``LATENESS``, passes them. A restarted worker works through what arrived while it was
down in whatever order its partitions come, so the producer holds back until the group
has processed and committed every source partition up to within ``MAX_SKEW`` of the next
messages (measured from outside, from the group's committed offsets), and the final event
is sent once everything before it is processed: no event then arrives later than the
lateness, which the README asks of event-time processing.

Counters are kept in each worker process and die with it: the sum of each run's last
scrape is what Prometheus would see. It is printed next to the truth, not asserted: a
kill loses what a run counted since its last scrape, and a run that counted a batch but
was killed before its table writes reached the broker counts it again after the restart.

``CCPULSE_CRASH_KILLS`` (default 5), ``CCPULSE_CRASH_EVENTS`` (default 22,000) and
``CCPULSE_CRASH_SEED`` (default: random, printed) make a longer or a repeated run.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition

from processor.config import Settings
from processor.shell.app import partition_of
from tests.integration import contact_truth as truth
from tests.integration.contact_scenario import POLICY_VERSION, Scenario, generate, worker_settings
from tests.integration.support import (
    GroupLag,
    StreamProducer,
    TopicWatcher,
    WorkerProcess,
    clock_event,
    eventually,
    group_lag,
    produce,
)

pytestmark = pytest.mark.integration

KILLS = int(os.environ.get("CCPULSE_CRASH_KILLS", "5"))
MESSAGES = int(os.environ.get("CCPULSE_CRASH_EVENTS", "22000"))
MESSAGES_PER_TICKET = 4.5
SPAN = timedelta(hours=6)
LATENESS = SPAN * 0.4
MAX_SKEW = timedelta(minutes=40)
"""How far (event time) the producer lets any source partition fall behind the stream."""
INTERNAL_CAP = 2000
"""Messages on the internal topics the producer lets the group fall behind."""
CHUNK = 250
SETTLE_S = 120.0
READY_S = 300.0
"""Longest a restarted worker may take to recover its tables (the long run's are large)."""


@dataclass
class CrashLog:
    """What the kills hit, and the last counters each killed run showed."""

    started: float = field(default_factory=time.monotonic)
    kills: list[tuple[str, float, int]] = field(default_factory=list)
    last_scrapes: list[dict[truth.Key, float]] = field(default_factory=list)

    def kill_and_restart(self, worker: WorkerProcess, moment: str, sent: int) -> None:
        try:
            scrape = worker.scrape()
        except OSError:  # killed before it served /metrics: it counted nothing
            scrape = {}
        worker.kill()
        self.last_scrapes.append(scrape)
        self.kills.append((moment, time.monotonic() - self.started, sent))
        worker.start()

    def describe(self) -> str:
        return ", ".join(f"{what} at {at:.0f} s ({sent} sent)" for what, at, sent in self.kills)


# Minutes on a slow machine; the long version (make reliability) scales with its stream.
@pytest.mark.timeout(600 + MESSAGES // 50)
def test_sigkills_at_random_moments_lose_nothing_and_count_nothing_twice(
    settings: Settings, tmp_path: Path
) -> None:
    seed = int(os.environ.get("CCPULSE_CRASH_SEED", str(random.randrange(1_000_000))))
    print(f"\ncrash test: CCPULSE_CRASH_SEED={seed} repeats this run")
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    tickets = round(MESSAGES / MESSAGES_PER_TICKET)
    scenario = generate(seed, tickets, now - timedelta(days=3), SPAN)
    settings = worker_settings(settings, tmp_path / "sla.yaml", LATENESS)
    topics = settings.topics
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    log = CrashLog()
    with ExitStack() as stack:
        watchers = [
            stack.enter_context(
                TopicWatcher(settings.kafka.bootstrap_servers, topic, topics.partitions)
            )
            for topic in (topics.ticket_metrics, topics.sla_events, topics.repeat_contacts)
        ]
        stack.callback(worker.stop)
        worker.start().wait_for(WorkerProcess.ready, what="ready")
        stream_with_kills(settings, scenario, worker, log, rng)
        release_at = now - timedelta(hours=1)
        clock_event(settings, 0, release_at)
        wait_until(lambda: ticks_consumed(worker) >= 1, "the clock event consumed")
        time.sleep(rng.uniform(0.2, 2.0))
        log.kill_and_restart(worker, "releasing deadlines", len(scenario.messages))
        ticks = settle(settings, worker, scenario, watchers, release_at)
        # All the outputs can be out before the last run has recovered its tables; its
        # gauges count once it is ready.
        worker.wait_for(WorkerProcess.ready, timeout=READY_S, what="ready to count")
        eventually(lambda: check_gauges(worker, scenario), timeout=30, pause=1)
        final = worker.scrape()
    sla_events, repeat_contacts = watchers[1].messages(), watchers[2].messages()
    sla_copies = copies_by_id(sla_events, ("kind", "at", "deadline", "level"))
    repeat_copies = copies_by_id(repeat_contacts, ("type", "repeat_of", "fcr"))
    print(
        f"crash test seed {seed}: {len(scenario.messages)} messages ({scenario.copies} sent "
        f"twice), {len(scenario.plans)} tickets, {ticks} clock events; {len(log.kills)} "
        f"SIGKILLs: {log.describe()}; SLA audit events: {len(sla_copies)} ids, "
        f"{sum(sla_copies.values()) - len(sla_copies)} extra copies; repeat contacts and FCR "
        f"verdicts: {len(repeat_copies)} ids, {sum(repeat_copies.values()) - len(repeat_copies)} "
        f"extra copies; counters summed over the runs' last scrapes minus the truth: "
        f"{counter_drift(scenario, [*log.last_scrapes, final])}"
    )


def stream_with_kills(
    settings: Settings,
    scenario: Scenario,
    worker: WorkerProcess,
    log: CrashLog,
    rng: random.Random,
) -> None:
    """Produce the stream, killing the worker as it passes random points (and now and then
    again while it starts); return once everything is processed and committed."""
    stream_kills = max(1, KILLS - 2)
    share = sorted(rng.uniform(0.05, 0.95) for _ in range(stream_kills))
    thresholds = [round(s * len(scenario.messages)) for s in share]
    early = set(rng.sample(range(stream_kills), max(1, KILLS // 5)))
    with group_lag(settings) as lag:
        messages = scenario.for_topics(settings.topics.source)
        pacer = Pacer(scenario, settings, lag)
        producer = StreamProducer(settings.kafka.bootstrap_servers, messages, pacer, CHUNK)
        producer.start()
        for number, threshold in enumerate(thresholds):
            wait_until(sent_at_least(producer, threshold), f"{threshold} sent", producer)
            log.kill_and_restart(worker, "processing", producer.sent)
            if number in early:
                time.sleep(rng.uniform(0.3, 4.0))
                log.kill_and_restart(worker, "starting", producer.sent)
        producer.join(timeout=120 + len(messages) / 100)
        # The clock must not pass a deadline before an answer in time is in.
        wait_until(lambda: lag.fresh() == 0, "the stream processed")


class Pacer:
    """``may_send`` for a ``StreamProducer``: the next chunk goes once a measurement newer
    than the previous chunk shows every source partition processed and committed up to
    within ``MAX_SKEW`` (event time) of the chunk's newest event, and the internal topics
    less than ``INTERNAL_CAP`` messages behind. A count of messages would not do: the
    agent of a busy topic lags hours of event time behind that of a quiet one."""

    def __init__(self, scenario: Scenario, settings: Settings, lag: GroupLag) -> None:
        self.lag, self.seen = lag, -1
        self.messages = scenario.messages
        partitions = settings.topics.partitions
        self.partition_of = [
            TopicPartition(settings.topics.source(m.source), partition_of(m.key, partitions))
            for m in scenario.messages
        ]
        self.times: dict[TopicPartition, list[datetime]] = defaultdict(list)
        for message, tp in zip(self.messages, self.partition_of, strict=True):
            self.times[tp].append(message.at)
        self.sources = set(self.times)
        self.produced: Counter[TopicPartition] = Counter()
        self.next = 0

    def __call__(self) -> bool:
        lag = self.lag
        if lag.lag is None or lag.measured == self.seen:
            return False
        internal = sum(n for tp, n in lag.behind.items() if tp not in self.sources)
        chunk = range(self.next, min(self.next + CHUNK, len(self.messages)))
        newest = max(self.messages[i].at for i in chunk)
        for tp, produced in self.produced.items():
            committed = lag.committed.get(tp, 0)
            if committed < produced and newest - self.times[tp][committed] > MAX_SKEW:
                return False
        if internal > INTERNAL_CAP:
            return False
        self.seen, self.next = lag.measured, chunk.stop
        self.produced.update(self.partition_of[i] for i in chunk)
        return True


def wait_until(
    condition: Callable[[], bool],
    what: str,
    producer: StreamProducer | None = None,
    timeout: float = 240,
) -> None:
    """Fails after ``timeout`` s without ``condition``; while a producer is given, only after
    ``timeout`` s in which it sent nothing more (a long stream on a slow machine is fine)."""
    deadline = time.monotonic() + timeout
    sent = producer.sent if producer is not None else 0
    while not condition():
        if producer is not None and producer.sent != sent:
            sent, deadline = producer.sent, time.monotonic() + timeout
        failed = producer.error if producer is not None else None
        if failed is not None or time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} ({failed!r})")
        time.sleep(0.05)


def sent_at_least(producer: StreamProducer, count: int) -> Callable[[], bool]:
    """Whether ``producer`` has sent ``count`` messages."""
    return lambda: producer.sent >= count


def ticks_consumed(worker: WorkerProcess) -> float:
    try:
        labels = {"source": "tickets", "type": "ticket.priority_changed"}
        return worker.value("ccpulse_events_consumed_total", **labels)
    except OSError:
        return 0.0


def settle(
    settings: Settings,
    worker: WorkerProcess,
    scenario: Scenario,
    watchers: list[TopicWatcher],
    release_at: datetime,
) -> int:
    """Wait until every output equals the truth, moving the clock on every 2 s (a
    restarted worker's event-time clock goes on from the newest event its tables hold,
    which is not the release when the kill came before its table write); the number of
    clock events sent."""
    deadline, ticks, last_tick = time.monotonic() + SETTLE_S, 1, time.monotonic()
    while True:
        try:
            check_outputs(scenario, watchers)
            return ticks
        except AssertionError:
            if time.monotonic() > deadline or not worker.alive():
                raise
        if time.monotonic() - last_tick > 2:
            clock_event(settings, ticks, release_at)
            ticks, last_tick = ticks + 1, time.monotonic()
        time.sleep(0.5)


def check_outputs(scenario: Scenario, watchers: list[TopicWatcher]) -> None:
    truth.check_outputs(scenario.plans, *(watcher.messages() for watcher in watchers))


def check_gauges(worker: WorkerProcess, scenario: Scenario) -> None:
    assert truth.gauges(worker.scrape()) == truth.expected_gauges(
        scenario.plans, deadlines_passed=True
    )


def copies_by_id(
    messages: list[tuple[float, dict[str, Any]]], fields: tuple[str, ...]
) -> Counter[str]:
    """How often each id was published; every copy of an id must say the same."""
    copies: Counter[str] = Counter()
    said: dict[str, tuple[Any, ...]] = {}
    for _, message in messages:
        content = tuple(message.get(name) for name in fields)
        assert said.setdefault(message["event_id"], content) == content, message
        copies[message["event_id"]] += 1
    return copies


def counter_drift(scenario: Scenario, scrapes: list[dict[truth.Key, float]]) -> str:
    counted: Counter[truth.Key] = Counter()
    for scrape in scrapes:
        counted.update(truth.comparable(scrape))
    expected = truth.expected_counters(scenario.plans, verdicts=True)
    drift = {k: counted.get(k, 0) - expected.get(k, 0) for k in counted.keys() | expected.keys()}
    by_name: Counter[str] = Counter()
    for (name, _), value in drift.items():
        by_name[name] += value
    total = sum(expected.values())
    changed = {name: value for name, value in by_name.items() if value}
    return f"{changed or 'none'} (of {total:.0f} counted)"


def test_audit_events_of_a_closed_ticket_not_yet_due_at_a_crash_are_published_after_it(
    settings: Settings, tmp_path: Path
) -> None:
    """A chat answered in time and ended: on the event-time clock with a lateness its
    ``applied`` and ``met`` are due only later. The worker is killed before that; the
    restarted one has no event for the chat, only its recovered state."""
    settings = worker_settings(settings, tmp_path / "sla.yaml", LATENESS)
    bootstrap = settings.kafka.bootstrap_servers
    opened = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    session = {"session_id": "chat-1", "customer_id": "cust-1"}
    chat = [
        {"type": "chat.started", "event_id": "c1", "occurred_at": opened.isoformat()},
        {
            "type": "chat.message",
            "author": "agent",
            "event_id": "c2",
            "occurred_at": (opened + timedelta(seconds=30)).isoformat(),
        },
        {
            "type": "chat.ended",
            "event_id": "c3",
            "occurred_at": (opened + timedelta(minutes=5)).isoformat(),
        },
    ]
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    with TopicWatcher(bootstrap, settings.topics.sla_events, settings.topics.partitions) as sla:
        try:
            worker.wait_for(WorkerProcess.ready, what="ready")
            produce(bootstrap, [(settings.topics.chats, b"chat-1", e | session) for e in chat])
            with group_lag(settings) as lag:
                eventually(lambda: _assert_equal(lag.fresh(), 0), timeout=60)
            assert not sla.messages(ticket_id="chat-1")
            worker.kill()
            worker.start()
            worker.wait_for(WorkerProcess.ready, what="ready after the restart")
            # Past the audit events, not past the chat's FCR window: its verdict, an event
            # for the chat, would have the restarted worker look at the chat anyway.
            clock_event(settings, 0, opened + LATENESS + timedelta(hours=1))
            base = "chat-1/first_response/0"
            expected = {f"{base}/applied/chat@{POLICY_VERSION}", f"{base}/met"}
            eventually(
                lambda: _assert_equal({m["event_id"] for _, m in sla.messages()}, expected),
                timeout=30,
            )
        finally:
            worker.stop()
    assert len(sla.messages()) == 2


def _assert_equal(got: Any, expected: Any) -> None:
    assert got == expected
