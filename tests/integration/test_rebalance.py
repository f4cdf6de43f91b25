"""Backlog and SLA gauges stay true while partitions move: two workers, then three, then one.

Helpdesk tickets arrive in three waves while workers join and leave the group (4
partitions): the first wave to two workers, the second while a third joins, the third
while two of the three stop. Later waves answer and solve tickets of earlier ones, so
state moves with its partitions. After each move, once the group has processed and
committed everything, the gauges summed over the running workers (tickets open, awaiting
a first response, SLA targets at risk and overdue, per channel and priority) equal the
truth of the waves so far, the SLA audit ids published are exactly the ones due (a
worker that takes a ticket over publishes its audit events again, same ids: counted and
reported), and so are the snapshots.

Counters live in each worker and vanish from /metrics when it stops, so a stopped
worker's last scrape is kept: it is scraped while it shuts down until /metrics goes away,
after its partitions were revoked and its last batch was processed. Those final scrapes
plus the running worker's must sum to the truth: a graceful move neither loses nor
repeats a count.

The SLA clock is the wall clock; tickets are opened minutes, forty minutes or hours
before the test starts, against a one-hour first-response target with a warning at half
of it, so no ticket changes state on its own while the test runs.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from processor.config import Settings, SlaSettings
from tests.integration.contact_truth import Key, gauges
from tests.integration.support import (
    GroupLag,
    StreamProducer,
    TopicWatcher,
    WorkerProcess,
    eventually,
    free_port,
    group_lag,
)

pytestmark = pytest.mark.integration

WAVES = 3
TICKETS = 3000
CHANNELS = ("email", "chat", "sms", "social", "web")
PRIORITIES = ("low", "normal", "high", "urgent")
TARGET = timedelta(hours=1)
POLICIES = """version: "rebalance-1"
policies:
  - name: all
    targets: {first_response: 1h}
    warnings: {at: [50%]}
"""
AGES = {
    "fresh": timedelta(minutes=10),
    "at_risk": timedelta(minutes=40),
    "overdue": timedelta(hours=3),
}


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket opened ``age`` before the test, in a wave; maybe answered, maybe solved later."""

    ticket: str
    channel: str
    priority: str
    age: str
    opened: datetime
    wave: int
    answered: tuple[int, datetime] | None
    solved: tuple[int, datetime] | None

    def known(self, wave: int) -> bool:
        return self.wave <= wave

    def answered_by(self, wave: int) -> bool:
        return self.answered is not None and self.answered[0] <= wave

    def open_after(self, wave: int) -> bool:
        return self.known(wave) and not (self.solved is not None and self.solved[0] <= wave)


def plan(rng: random.Random, start: datetime) -> list[Ticket]:
    found = []
    for number in range(TICKETS):
        age = rng.choices(tuple(AGES), (0.6, 0.25, 0.15))[0]
        opened = start - AGES[age] + timedelta(seconds=rng.uniform(-180, 180))
        wave = rng.choices(range(WAVES), (0.5, 0.3, 0.2))[0]
        answered = solved = None
        if age == "fresh" and rng.random() < 0.6:  # in time, before the warning
            answered = (rng.randint(wave, WAVES - 1), opened + timedelta(minutes=rng.uniform(1, 5)))
        elif age == "at_risk" and rng.random() < 0.4:  # after the warning, before the breach
            answered = (rng.randint(wave, WAVES - 1), start - timedelta(minutes=rng.uniform(1, 3)))
        if (answered or age == "overdue") and rng.random() < 0.3:
            after = answered[0] if answered else wave
            solved = (rng.randint(after, WAVES - 1), start - timedelta(seconds=rng.uniform(1, 50)))
        channel, priority = rng.choice(CHANNELS), rng.choice(PRIORITIES)
        found.append(
            Ticket(f"RB-{number:05d}", channel, priority, age, opened, wave, answered, solved)
        )
    return found


def wave_messages(
    settings: Settings, tickets: list[Ticket], wave: int
) -> list[tuple[str, bytes, dict[str, Any]]]:
    """What the helpdesk and the mail gateway send in ``wave``: creations, replies, solves."""
    topics, messages = settings.topics, []
    for t in tickets:
        key = t.ticket.encode()
        if t.wave == wave:
            fields = {"channel": t.channel, "priority": t.priority}
            messages.append((topics.tickets, key, _event(t, "ticket.created", t.opened, **fields)))
        if t.answered is not None and t.answered[0] == wave:
            mail = {"thread_id": t.ticket, "message_id": "r", "agent_id": "a1"}
            messages.append((topics.emails, key, _event(t, "email.sent", t.answered[1], **mail)))
        if t.solved is not None and t.solved[0] == wave:
            status = {"status": "solved"}
            messages.append(
                (topics.tickets, key, _event(t, "ticket.status_changed", t.solved[1], **status))
            )
    return messages


def _event(ticket: Ticket, kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": f"{ticket.ticket}-{kind}",
        "occurred_at": at.isoformat(),
        "customer_id": f"c-{ticket.ticket}",
        "ticket_id": ticket.ticket,
        **fields,
    }


def expected_gauges(tickets: list[Ticket], wave: int) -> Counter[Key]:
    found: Counter[Key] = Counter()
    for t in tickets:
        if not t.open_after(wave):
            continue
        labels = (("channel", t.channel), ("priority", t.priority))
        found[("ccpulse_tickets_open", labels)] += 1
        if not t.answered_by(wave):
            found[("ccpulse_tickets_awaiting_first_response", labels)] += 1
            if t.age != "fresh":
                name = (
                    "ccpulse_sla_tickets_at_risk"
                    if t.age == "at_risk"
                    else "ccpulse_sla_tickets_overdue"
                )
                found[(name, (*labels, ("target", "first_response")))] += 1
    return found


def audit(ticket: Ticket, wave: int) -> dict[str, str]:
    """SLA audit id -> kind of a ticket known after ``wave``: applied; a warning and a
    breach as its age says, unless answered (in time for a ``met``) by then."""
    base = f"{ticket.ticket}/first_response/0"
    found = {f"{base}/applied/all@rebalance-1": "applied"}
    if ticket.age != "fresh":
        found[f"{base}/warning/0.5"] = "warning"
    if ticket.age == "overdue":
        found[f"{base}/breached"] = "breached"
    elif ticket.answered_by(wave):
        found[f"{base}/met"] = "met"
    return found


def expected_sla(tickets: list[Ticket], wave: int) -> set[str]:
    return {sla_id for t in tickets if t.known(wave) for sla_id in audit(t, wave)}


def expected_counters(tickets: list[Ticket]) -> Counter[Key]:
    found: Counter[Key] = Counter()
    names = {"warning": "warnings", "breached": "breaches", "met": "met"}
    for t in tickets:
        labels = (("channel", t.channel), ("priority", t.priority))
        found[("ccpulse_tickets_created_total", labels)] += 1
        found[("ccpulse_tickets_resolved_total", labels)] += t.solved is not None
        found[("ccpulse_first_response_seconds_count", labels)] += t.answered is not None
        for kind in audit(t, WAVES - 1).values():
            if kind in names:
                sla = (*labels, ("target", "first_response"))
                found[(f"ccpulse_sla_{names[kind]}_total", sla)] += 1
    return +found


COUNTERS = {
    "ccpulse_tickets_created_total",
    "ccpulse_tickets_resolved_total",
    "ccpulse_first_response_seconds_count",
    "ccpulse_sla_warnings_total",
    "ccpulse_sla_breaches_total",
    "ccpulse_sla_met_total",
}


def counted(scrapes: list[dict[Key, float]]) -> Counter[Key]:
    found: Counter[Key] = Counter()
    for scrape in scrapes:
        found.update({k: v for k, v in scrape.items() if k[0] in COUNTERS and v})
    return found


@pytest.mark.timeout(900)  # four group changes, each waited out on the embedded broker
def test_gauges_sum_to_the_truth_as_two_workers_become_three_then_one(
    settings: Settings, tmp_path: Path
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    tickets = plan(random.Random(7), start)
    policy_file = tmp_path / "sla.yaml"
    policy_file.write_text(POLICIES)
    sla = SlaSettings(policy_file=str(policy_file), check_interval_s=0.25)
    settings = settings.model_copy(update={"sla": sla})
    workers = [
        WorkerProcess(
            settings.model_copy(
                update={"metrics_port": free_port(), "data_dir": str(tmp_path / f"w{n}")}
            ),
            tmp_path / f"worker-{n}.log",
        )
        for n in (1, 2, 3)
    ]
    topics, bootstrap = settings.topics, settings.kafka.bootstrap_servers
    stopped: list[dict[Key, float]] = []
    moves: list[str] = []
    with ExitStack() as stack:
        sla_events = stack.enter_context(
            TopicWatcher(bootstrap, topics.sla_events, topics.partitions)
        )
        for worker in workers:
            stack.callback(worker.stop)
        workers[0].start().wait_for(WorkerProcess.ready, what="ready")
        lag = stack.enter_context(group_lag(settings))
        producer = flow(settings, tickets, 0)
        first = synced(workers[0])
        workers[1].start()  # takes half of the first worker's partitions while the wave flows
        workers[1].wait_for(lambda w: synced(w) > 0 and w.ready(), what="the second ready")
        workers[0].wait_for(lambda w: synced(w) > first, what="the first rebalanced")
        producer.join(timeout=120)
        moves.append(settle(lag, workers[:2], tickets, 0, sla_events))
        producer = flow(settings, tickets, 1)
        workers[2].start()  # joins while the second wave flows
        producer.join(timeout=120)
        workers[2].wait_for(WorkerProcess.ready, what="the third ready")
        moves.append(settle(lag, workers, tickets, 1, sla_events))
        producer = flow(settings, tickets, 2)
        # The first two leave one after the other while the third wave flows, the second
        # once the group has settled after the first (a member leaving while the embedded
        # broker's group rebalances can leave it stuck: see docs/RELIABILITY.md). The
        # newest worker takes everything over.
        for number, worker in enumerate(workers[:2]):
            remaining = workers[number + 1 :]
            before = [synced(w) for w in remaining]
            stopped.append(worker.stop_scraped())
            for w, count in zip(remaining, before, strict=True):
                w.wait_for(joined_after(count), what="a new generation")
        producer.join(timeout=120)
        moves.append(settle(lag, workers[2:], tickets, 2, sla_events))
        final = workers[2].scrape()
    assert len(stopped) == 2
    assert counted([*stopped, final]) == expected_counters(tickets)
    copies = Counter(m["event_id"] for _, m in sla_events.messages())
    print(
        f"\nrebalance: {len(tickets)} tickets in {WAVES} waves; "
        + "; ".join(moves)
        + f"; SLA audit ids {len(copies)}, {sum(copies.values()) - len(copies)} extra copies"
    )


def flow(settings: Settings, tickets: list[Ticket], wave: int) -> StreamProducer:
    """A wave at about 200 messages a second, from a thread."""
    last = [0.0]

    def may_send() -> bool:
        if time.monotonic() - last[0] < 0.5:
            return False
        last[0] = time.monotonic()
        return True

    messages = wave_messages(settings, tickets, wave)
    return StreamProducer(settings.kafka.bootstrap_servers, messages, may_send, chunk=100).start()


def settle(
    lag: GroupLag,
    running: list[WorkerProcess],
    tickets: list[Ticket],
    wave: int,
    sla_events: TopicWatcher,
) -> str:
    """Once everything is processed and committed, the running workers' gauges sum to the
    truth (twice in a row) and the SLA audit ids are the ones due; a line for the report."""
    began = time.monotonic()
    eventually(lambda: _caught_up(lag), timeout=240)
    expected = expected_gauges(tickets, wave)

    def summed() -> None:
        scrapes = [gauges(worker.scrape()) for worker in running]
        assert sum(scrapes, Counter()) == expected

    eventually(summed, timeout=60)
    summed()
    due = expected_sla(tickets, wave)
    eventually(lambda: _equal({m["event_id"] for _, m in sla_events.messages()}, due), timeout=30)
    owned = [
        sum(gauges(w.scrape()).get(("ccpulse_tickets_open", k), 0) for k in _labels())
        for w in running
    ]
    shares = "/".join(f"{n:.0f}" for n in owned)
    return f"{len(running)} workers (open tickets {shares}) true {time.monotonic() - began:.0f} s"


def synced(worker: WorkerProcess) -> int:
    """How many group generations the worker has joined (its log says so)."""
    return worker.log_path.read_text(errors="replace").count("Successfully synced group")


def joined_after(generations: int) -> Callable[[WorkerProcess], bool]:
    """Whether a worker has joined a group generation after its first ``generations`` and is
    ready."""
    return lambda worker: synced(worker) > generations and worker.ready()


def _labels() -> list[tuple[tuple[str, str], ...]]:
    return [(("channel", c), ("priority", p)) for c in CHANNELS for p in PRIORITIES]


def _caught_up(lag: GroupLag) -> None:
    behind = {f"{tp.topic}[{tp.partition}]": n for tp, n in lag.behind.items() if n}
    assert lag.fresh() == 0, f"the group is behind: {behind}"


def _equal(got: Any, expected: Any) -> None:
    assert got == expected
