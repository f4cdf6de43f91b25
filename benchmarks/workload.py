"""The workloads of the broker-based benchmarks: the demo's realistic events, open
tickets, probe tickets, warming a worker up, and table state written straight onto the
changelog topics with the product's own pipeline and codec.

It measures nothing itself and is imported by the benchmark scripts only.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import orjson
from common import PARTITIONS, Record, Worker, produce

from processor.broker import EmbeddedBroker
from processor.config import Settings
from processor.demo.simulation import ContactCenter, Emission
from processor.shell.app import partition_of

PROBE_CHANNEL = "web"
"""The simulation never uses this channel, so counters labelled with it count probes only."""


# -- events ----------------------------------------------------------------------------


def realistic(count: int, *, seed: int = 7, end: datetime | None = None) -> list[Emission]:
    """``count`` emissions of the demo's contact center (its channel mix, follow-ups,
    reopens, repeat customers, surveys and 0.5 % malformed messages), ending about now
    in event time so that wall-clock SLA deadlines are a realistic mix of passed and
    pending ones."""
    end = end or datetime.now(UTC)
    span_s = 1800.0
    contacts_per_s = max(1.0, count / 5.4 / span_s)
    start = end - timedelta(seconds=span_s)
    center = ContactCenter(seed=seed, start=start, rate=contacts_per_s)
    emissions: list[Emission] = []
    moment = start
    while len(emissions) < count:
        moment += timedelta(seconds=30)
        emissions.extend(center.advance(moment))
    return emissions[:count]


def records_of(emissions: Iterable[Emission], settings: Settings) -> list[Record]:
    topics = settings.topics
    return [(topics.source(e.kind), e.key, e.value) for e in emissions]


def valid_count(emissions: Iterable[Emission]) -> int:
    return sum(1 for e in emissions if not isinstance(e.payload, bytes))


def open_ticket_records(
    settings: Settings, first: int, count: int, *, at: datetime | None = None
) -> list[Record]:
    """Two events per ticket, ``first`` .. ``first + count - 1``: an email ticket created
    by its customer (a new customer each) and the customer's email, so it stays open,
    awaits its first response and runs first-response and resolution SLA timers."""
    moment = (at or datetime.now(UTC)).isoformat()
    topics = settings.topics
    records: list[Record] = []
    for number in range(first, first + count):
        ticket = f"T{number:08d}"
        customer = f"C{number:08d}"
        key = ticket.encode()
        created = (
            f'{{"type":"ticket.created","event_id":"{ticket}-c","occurred_at":"{moment}",'
            f'"customer_id":"{customer}","ticket_id":"{ticket}","channel":"email",'
            f'"priority":"normal","queue":"general","reason":"billing"}}'
        )
        received = (
            f'{{"type":"email.received","event_id":"{ticket}-m","occurred_at":"{moment}",'
            f'"customer_id":"{customer}","ticket_id":"{ticket}","thread_id":"th-{ticket}",'
            f'"message_id":"m-{ticket}"}}'
        )
        records.append((topics.tickets, key, created.encode()))
        records.append((topics.emails, key, received.encode()))
    return records


def probe_record(settings: Settings, ticket: str, at: datetime | None = None) -> Record:
    """A ticket created on the probe channel: its snapshot and counters are the probe's."""
    moment = (at or datetime.now(UTC)).isoformat()
    body = {
        "type": "ticket.created",
        "event_id": f"{ticket}-probe",
        "occurred_at": moment,
        "customer_id": f"cust-{ticket}",
        "ticket_id": ticket,
        "channel": PROBE_CHANNEL,
        "priority": "normal",
    }
    return (settings.topics.tickets, ticket.encode(), orjson.dumps(body))


def probe_key_for_partition(prefix: str, partition: int, partitions: int = PARTITIONS) -> str:
    """A probe ticket id whose key lands on ``partition``."""
    for serial in range(100_000):
        ticket = f"{prefix}-{serial}"
        if partition_of(ticket.encode(), partitions) == partition:
            return ticket
    raise AssertionError("unreachable")


def warm_up(broker: EmbeddedBroker, worker: Worker, timeout: float = 120) -> float:
    """Send one probe per partition until the worker has processed them (it has joined
    its group and recovered); the seconds that took since the worker started."""
    worker.wait_serving(timeout)
    settings = worker.settings
    probes = [probe_key_for_partition(f"warm-{uuid.uuid4().hex[:6]}", p) for p in range(4)]
    produce(broker.bootstrap_servers, [probe_record(settings, ticket) for ticket in probes])

    def created() -> bool:
        return _probe_tickets(worker) >= len(probes)

    worker.wait(created, timeout, "the warm-up probes", pause=0.2)
    return time.time() - worker.started_at


def _probe_tickets(worker: Worker) -> float:
    total = 0.0
    for line in worker.metrics_text().splitlines():
        if line.startswith("ccpulse_tickets_created_total{") and f'"{PROBE_CHANNEL}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def probe_count(worker: Worker) -> float:
    """Probe tickets this worker has counted as created (from /metrics)."""
    return _probe_tickets(worker)


# -- table state written straight to the changelogs -------------------------------------

TEMPLATE_NUMBER = 99_999_999


class _Recording(dict[bytes, bytes]):
    """A dict as table that keeps every write, as a changelog would."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[bytes, bytes]] = []

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes.append((key, value))
        super().__setitem__(key, value)


def state_templates(settings: Settings) -> tuple[list[bytes], list[bytes]]:
    """Every changelog record (ticket table, customer table) the product's own pipeline
    writes for one ticket of ``open_ticket_records``, its two events in two batches
    (the most records a worker writes for it), numbered ``TEMPLATE_NUMBER``."""
    from prometheus_client import CollectorRegistry

    from processor.codec import SourceDecoder
    from processor.events import SourceKind
    from processor.open_tickets import OpenTickets
    from processor.shell.pipeline import Message, Pipeline, Topics
    from processor.shell.worker import clock_of, metrics_of, rules_of

    sent: list[Record] = []
    clock = clock_of(settings)
    open_tickets = OpenTickets()
    pipeline = Pipeline(
        Topics("routed", "views", "metrics", "deadletter", "sla", "repeats"),
        SourceDecoder(settings.max_event_bytes),
        metrics_of(settings, CollectorRegistry(), open_tickets, clock),
        open_tickets,
        lambda topic, key, value, partition=None: sent.append((topic, key, value)),
        rules=rules_of(settings),
        clock=clock,
    )
    tickets, customers = _Recording(), _Recording()
    kinds = {settings.topics.tickets: SourceKind.TICKETS, settings.topics.emails: SourceKind.EMAILS}
    for topic, key, value in open_ticket_records(settings, TEMPLATE_NUMBER, 1):
        pipeline.ingest(kinds[topic], [Message(topic, 0, 0, key, value)])
        routed = [Message(t, 0, 0, k, v) for t, k, v in sent if t == "routed"]
        views = [Message(t, 0, 0, k, v) for t, k, v in sent if t == "views"]
        sent.clear()
        pipeline.update_tickets(tickets, routed)
        views += [Message(t, 0, 0, k, v) for t, k, v in sent if t == "views"]
        sent.clear()
        if views:
            pipeline.update_customers(customers, views)
    return [value for _, value in tickets.writes], [value for _, value in customers.writes]


def write_changelogs(bootstrap: str, settings: Settings, count: int) -> int:
    """Put ``count`` open tickets' state (tickets ``T00000000``.. and their customers) on
    the worker's changelog topics, exactly as its own pipeline would have written them;
    the number of records written."""
    ticket_values, customer_values = state_templates(settings)
    token = str(TEMPLATE_NUMBER).encode()
    ticket_log = f"{settings.app_id}-tickets-changelog"
    customer_log = f"{settings.app_id}-customers-changelog"

    def records() -> Iterator[Record]:
        for number in range(count):
            digits = b"%08d" % number
            for value in ticket_values:
                yield ticket_log, b"T" + digits, value.replace(token, digits)
            for value in customer_values:
                yield customer_log, b"C" + digits, value.replace(token, digits)

    from processor.kafka import ensure_topics

    asyncio.run(ensure_topics(settings.kafka, {ticket_log: PARTITIONS, customer_log: PARTITIONS}))
    produce(bootstrap, records())
    return count * (len(ticket_values) + len(customer_values))
