"""``ccpulse worker``: wait for the broker, create topics, serve /metrics, run Faust."""

from __future__ import annotations

import asyncio
import logging
import time

import faust
from prometheus_client import CollectorRegistry, start_http_server

from processor.config import Settings
from processor.core.sla import PolicyBook
from processor.kafka import ensure_topics, wait_for_broker
from processor.metrics import Metrics
from processor.open_tickets import OpenTickets
from processor.policies import load_policies
from processor.shell.app import create_app
from processor.shell.highwater import install_highwater_correction
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


def run_worker(settings: Settings) -> None:
    rules = rules_of(settings)  # before anything starts: a bad file fails at once
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_highwater_correction()
    install_uncommitted_seek()
    asyncio.run(prepare(settings))
    clock = clock_of(settings)
    registry = CollectorRegistry()
    open_tickets = OpenTickets()
    metrics = metrics_of(settings, registry, open_tickets, clock)
    server, _ = start_http_server(settings.metrics_port, settings.metrics_host, registry)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, server.server_port)
    app = create_app(settings, metrics, open_tickets, rules, clock)
    faust.Worker(
        app, loglevel=settings.log_level, redirect_stdouts=False
    ).execute_from_commandline()
