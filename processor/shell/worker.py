"""``ccpulse worker``: serve /metrics and health, wait for the broker, create topics, run Faust.

The HTTP endpoint comes up first, so /metrics, /healthz and /readyz answer while the worker
waits (up to ``broker_wait_s``, backing off from 0.5 s to 10 s) for the broker. From then on
a thread probes the broker for as long as the process lives (``BrokerWatch``) and a Faust
sensor follows the consumer group's rebalances and table recovery (``GroupSensor``); both
report to the ``HealthBoard`` the endpoints read. While the broker is away the worker
stays up and idle and says so once; aiokafka's retries, which repeat the same errors ten
times a second, are logged once a minute (``RepeatedWarnings``). When the broker answers
again the consumer rejoins the group by itself, recovers, and the worker is ready again.

Exit codes: 0 after a requested stop; 69 (``EX_UNAVAILABLE``) when no broker answered
within ``broker_wait_s``; 75 (``EX_TEMPFAIL``) when the cluster came back without this
consumer group's state (its generation went back, as after a broker that lost its data):
its committed offsets, changelogs and likely its topics are gone, the worker's in-memory
tables no longer match anything, and a restart rebuilds them from what the cluster holds
now; 1 when Faust crashed.

It deliberately does not restart Faust inside the process, and does not exit because the
broker is away however long: /healthz turns 503 after ``unhealthy_after_s`` and leaves the
decision to the supervisor.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import faust
from aiokafka.errors import KafkaError
from faust.types import AppT, TopicT
from prometheus_client import CollectorRegistry

from processor.config import KafkaSettings, Settings
from processor.core.sla import PolicyBook
from processor.kafka import (
    describe_error,
    ensure_topics,
    install_fetcher_close_fix,
    wait_for_broker,
    watch_broker,
)
from processor.metrics import Metrics
from processor.open_tickets import OpenTickets
from processor.policies import load_policies
from processor.shell.app import create_app
from processor.shell.completeflush import install_complete_flush
from processor.shell.fetchwait import install_fetch_wait
from processor.shell.health import (
    Health,
    HealthBoard,
    Phase,
    answered,
    entered,
    failed,
    news,
    unanswered,
)
from processor.shell.highwater import install_highwater_correction
from processor.shell.http import serve
from processor.shell.pipeline import Clock, Rules
from processor.shell.uncommitted import install_uncommitted_seek

log = logging.getLogger("ccpulse.worker")


def topics_to_create(settings: Settings) -> dict[str, int]:
    """The topics ccpulse reads and writes (Faust creates its internal ones itself).

    Each source topic has an agent of its own and outputs are keyed, so an existing
    topic may keep whatever partition count it has.
    """
    topics = settings.topics
    outputs = [topics.ticket_metrics, topics.deadletter, topics.sla_events, topics.repeat_contacts]
    return dict.fromkeys([*topics.sources(), *outputs], topics.partitions)


async def prepare(settings: Settings) -> None:
    await wait_for_broker(settings.kafka, timeout_s=settings.broker_wait_s, log=log)
    if settings.create_topics:
        await ensure_topics(settings.kafka, topics_to_create(settings), exact_partitions=False)


def rules_of(settings: Settings) -> Rules:
    """The configured rules; a bad policy file raises ``PolicyFileError`` naming the line."""
    policy_file = settings.sla.policy_file
    return Rules(
        policies=load_policies(policy_file) if policy_file else PolicyBook(),
        repeat=settings.repeat.rule(),
        retention=settings.retention(),
    )


def clock_of(settings: Settings) -> Clock:
    """The clock deadlines pass on: the wall clock, or event time less the lateness."""
    return Clock(
        event_time=settings.sla.clock == "event_time",
        wall=time.time,
        lateness_s=settings.sla.lateness_s,
    )


def metrics_of(
    settings: Settings, registry: CollectorRegistry, open_tickets: OpenTickets, clock: Clock
) -> Metrics:
    """The worker's metrics on ``registry``, with the configured label sets and rules."""
    return Metrics(
        registry,
        open_tickets,
        clock,
        service_level=settings.service_level.rule(),
        repeat_windows=settings.repeat.windows,
        voice=settings.surveys.rule(),
        reasons=settings.reasons,
    )


def required_topics(settings: Settings, app: faust.App) -> frozenset[str]:
    """Every topic the worker reads or writes: sources, outputs and Faust's internal ones."""
    names = set(topics_to_create(settings))
    names.update(table.changelog_topic.get_topic_name() for table in app.tables.values())
    for agent in app.agents.values():
        if isinstance(agent.channel, TopicT):
            names.update(agent.channel.topics)
    return frozenset(names)


class BrokerWatch:
    """Probes the broker from a daemon thread of its own and reports to the board."""

    def __init__(self, kafka: KafkaSettings, board: HealthBoard, *, wait_s: float) -> None:
        self._kafka = kafka
        self._board = board
        self._wait_s = wait_s
        self._required: frozenset[str] = frozenset()

    def require(self, topics: Iterable[str]) -> None:
        """Topics whose absence makes the worker not ready."""
        self._required = frozenset(topics)

    def start(self) -> None:
        run = watch_broker(self._kafka, answered=self._answered, unanswered=self._unanswered)
        threading.Thread(
            target=asyncio.run, args=(run,), name="ccpulse-broker-watch", daemon=True
        ).start()

    def _answered(self, topics: frozenset[str]) -> None:
        now, missing = self._board.now(), self._required - topics
        self._report(lambda health: answered(health, now, missing))

    def _unanswered(self, error: str) -> None:
        now = self._board.now()
        self._report(lambda health: unanswered(health, now, error))

    def _report(self, change: Callable[[Health], Health]) -> None:
        before, after = self._board.apply(change)
        line = news(before, after, self._board.now())
        if line is None:
            return
        if after.connected:
            log.info("%s", line)
        elif after.phase is Phase.WAITING_FOR_BROKER:
            log.warning("%s; retrying for up to %g s", line, self._wait_s)
        else:
            log.warning("%s", line)


class GroupSensor(faust.Sensor):
    """Follows rebalances (joining, recovering, running) and notices a forgotten group.

    A group's generation grows with every rebalance for as long as the cluster keeps the
    group's state; a rebalance that ends at or below the last generation seen means the
    cluster lost it (and with it the committed offsets). The worker then stops, so that
    ``run_worker`` exits with ``EX_TEMPFAIL``.
    """

    def __init__(
        self, board: HealthBoard, settings: Settings, stop: Callable[[], None] | None = None
    ) -> None:
        super().__init__()
        self._board = board
        self._settings = settings
        self._stop = stop or _stop_gracefully
        self._generation: int | None = None
        self.lost: str | None = None

    def on_rebalance_start(self, app: AppT) -> dict[Any, Any]:
        self._board.apply(lambda health: entered(health, Phase.JOINING_GROUP))
        return super().on_rebalance_start(app)

    def on_rebalance_return(self, app: AppT, state: dict[Any, Any]) -> None:
        previous, generation = self._generation, app.consumer_generation_id
        self._generation = generation
        if previous is not None and generation <= previous:
            self._lose(previous, generation)
        else:
            self._board.apply(lambda health: entered(health, Phase.RECOVERING_TABLES))

    def on_rebalance_end(self, app: AppT, state: dict[Any, Any]) -> None:
        self._board.apply(lambda health: entered(health, Phase.RUNNING))

    def _lose(self, previous: int, generation: int) -> None:
        reason = (
            f"the Kafka cluster at {self._settings.kafka.bootstrap_servers} lost the state of "
            f"consumer group {self._settings.app_id!r} (generation {generation} after "
            f"{previous}): its offsets, changelogs and likely topics are gone; stopping so "
            "that a restart rebuilds the tables from what the cluster holds now"
        )
        if self.lost is None:
            self.lost = reason
            log.error("%s", reason)
            self._board.apply(lambda health: failed(health, reason))
            self._stop()


def _stop_gracefully() -> None:
    # Faust's own SIGTERM handling is its tested graceful stop.
    os.kill(os.getpid(), signal.SIGTERM)


class RepeatedWarnings(logging.Filter):
    """Lets each warning (or worse) through once per ``interval_s`` per logger and message.

    While a broker is away aiokafka retries every 100 ms and logs the same four errors at
    each retry (about 80 lines a second); the first of each, and a count of the rest once
    a minute, say the same.
    """

    _MAX_KINDS = 1000

    def __init__(self, interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self._interval_s = interval_s
        self._clock = clock
        self._seen: dict[tuple[str, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key, now = (record.name, record.msg), self._clock()
        shown_at, hidden = self._seen.get(key, (None, 0))
        if shown_at is not None and now - shown_at < self._interval_s:
            self._seen[key] = (shown_at, hidden + 1)
            return False
        if len(self._seen) >= self._MAX_KINDS:  # messages formatted before logging
            self._seen.clear()
        self._seen[key] = (now, 0)
        if hidden and shown_at is not None and isinstance(record.msg, str):
            record.msg += f" [and {hidden} more like it in {now - shown_at:.0f} s]"
        return True


def quiet_repeated_client_warnings() -> None:
    repeated = RepeatedWarnings()
    for name in list(logging.root.manager.loggerDict):
        # A filter applies to records of its own logger only, not to its children's.
        if name == "aiokafka" or name.startswith("aiokafka."):
            logging.getLogger(name).addFilter(repeated)


def reach_broker(settings: Settings, board: HealthBoard) -> None:
    """Wait for the broker and create the topics within ``broker_wait_s``, or exit 69."""
    broker, wait_s = settings.kafka.bootstrap_servers, settings.broker_wait_s
    deadline = time.monotonic() + wait_s
    while True:
        if not board.wait_until_connected(max(0.0, deadline - time.monotonic())):
            log.error(
                "no Kafka broker answered at %s within %g s (%s); exiting",
                broker,
                wait_s,
                board.current().error,
            )
            raise SystemExit(os.EX_UNAVAILABLE)
        if not settings.create_topics:
            return
        board.apply(lambda health: entered(health, Phase.CREATING_TOPICS))
        try:
            asyncio.run(
                ensure_topics(settings.kafka, topics_to_create(settings), exact_partitions=False)
            )
            return
        except (KafkaError, OSError) as error:  # the broker went away again meanwhile
            if time.monotonic() >= deadline:
                log.error(
                    "could not create the topics on %s within %g s (%s); exiting",
                    broker,
                    wait_s,
                    describe_error(error),
                )
                raise SystemExit(os.EX_UNAVAILABLE) from None
            log.warning("could not create the topics yet (%s); retrying", describe_error(error))
            time.sleep(1.0)


def run_worker(settings: Settings) -> None:
    rules = rules_of(settings)  # before anything starts: a bad file fails at once
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    quiet_repeated_client_warnings()
    install_fetcher_close_fix()
    install_highwater_correction()
    install_fetch_wait(settings.kafka.fetch_max_wait_ms)
    install_uncommitted_seek()
    install_complete_flush()
    clock = clock_of(settings)
    registry = CollectorRegistry()
    open_tickets = OpenTickets()
    metrics = metrics_of(settings, registry, open_tickets, clock)
    board = HealthBoard(
        settings.kafka.bootstrap_servers, settings.unhealthy_after_s, clock=time.monotonic
    )
    metrics.status.source = board.status
    server = serve(settings.metrics_host, settings.metrics_port, registry, board)
    log.info(
        "metrics and health on http://%s:%d (/metrics, /healthz, /readyz)",
        settings.metrics_host,
        server.server_port,
    )
    watch = BrokerWatch(settings.kafka, board, wait_s=settings.broker_wait_s)
    watch.start()
    reach_broker(settings, board)
    app = create_app(settings, metrics, open_tickets, rules, clock)
    watch.require(required_topics(settings, app))
    sensor = GroupSensor(board, settings)
    app.sensors.add(sensor)
    board.watch_app(lambda: (app.state, app.crash_reason))
    board.apply(lambda health: entered(health, Phase.JOINING_GROUP))
    try:
        faust.Worker(
            app, loglevel=settings.log_level, redirect_stdouts=False
        ).execute_from_commandline()
    except SystemExit:
        if sensor.lost is not None:
            raise SystemExit(os.EX_TEMPFAIL) from None
        raise
