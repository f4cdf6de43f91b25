"""The Faust application: topics, the ticket table, and the agents that feed the pipeline.

One ingest agent per source topic validates messages and re-keys them by ticket id onto
an internal routing topic, so every event of a ticket reaches the same partition whatever
topic it came from. One ticket agent consumes that topic in batches and keeps the
per-ticket state in a table backed by a changelog topic. When what repeat contacts depend
on changes, it sends the ticket's view, keyed by customer id, to a second internal topic;
the customer agent keeps per-customer state in a second table and sends what it finds
back to the ticket over the routing topic. All agents run with ``concurrency=1`` and
at-least-once delivery: redelivered events are recognised by ``event_id``.

A timer looks for SLA deadlines and FCR windows that passed without any event arriving,
and deletes the state of closed tickets and of customers whose retention has passed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import faust
from aiokafka.partitioner import murmur2

from processor.codec import SourceDecoder, decode_state
from processor.config import Settings
from processor.core import derive
from processor.events import SourceKind
from processor.kafka import faust_broker_options
from processor.metrics import CUSTOMER_VIEWS_LAG, ROUTED_LAG, Metrics
from processor.open_tickets import OpenTickets
from processor.shell.lag import consumer_lag
from processor.shell.pipeline import Clock, Message, Pipeline, Rules, Topics

RAW: dict[str, Any] = {"key_type": bytes, "value_type": bytes}


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a key (as used for the routing topic)."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def create_app(
    settings: Settings, metrics: Metrics, open_tickets: OpenTickets, rules: Rules, clock: Clock
) -> faust.App:
    partitions = settings.topics.partitions
    app = faust.App(
        settings.app_id,
        **faust_broker_options(settings.kafka),
        store="memory://",
        datadir=settings.data_dir,
        topic_partitions=partitions,
        web_enabled=False,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
    )
    routed = app.topic(
        f"{settings.app_id}-ticket-events", partitions=partitions, internal=True, **RAW
    )
    views = app.topic(
        f"{settings.app_id}-customer-tickets", partitions=partitions, internal=True, **RAW
    )
    tickets = app.Table("tickets", partitions=partitions, use_partitioner=True, **RAW)
    customers = app.Table("customers", partitions=partitions, use_partitioner=True, **RAW)
    topics = Topics(
        routed=routed.get_topic_name(),
        customer_views=views.get_topic_name(),
        ticket_metrics=settings.topics.ticket_metrics,
        deadletter=settings.topics.deadletter,
        sla_events=settings.topics.sla_events,
        repeat_contacts=settings.topics.repeat_contacts,
    )
    outputs = {
        topics.routed: routed,
        topics.customer_views: views,
        **{
            name: app.topic(name, **RAW)
            for name in (
                topics.ticket_metrics,
                topics.deadletter,
                topics.sla_events,
                topics.repeat_contacts,
            )
        },
    }

    lag_names = {
        **{settings.topics.source(kind): kind.value for kind in SourceKind},
        topics.routed: ROUTED_LAG,
        topics.customer_views: CUSTOMER_VIEWS_LAG,
    }
    metrics.lag.source = lambda: consumer_lag(app, lag_names)

    def send(topic: str, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        # Buffered; Faust flushes the producer before it commits the input offsets.
        outputs[topic].send_soon(key=key, value=value, partition=partition, force=True)

    decoder = SourceDecoder(
        settings.max_event_bytes,
        now=clock.wall,
        max_future_skew_s=settings.max_future_skew_s,
        max_age_days=settings.max_event_age_days,
    )
    pipeline = Pipeline(topics, decoder, metrics, open_tickets, send, rules=rules, clock=clock)
    for kind in SourceKind:
        _add_ingest_agent(app, settings, pipeline, kind)

    @app.agent(routed, name="tickets", concurrency=1)
    async def ticket_agent(stream: faust.StreamT[bytes]) -> None:
        async for events in _batches(stream, settings):
            pipeline.update_tickets(tickets, (_message(event) for event in events))

    @app.agent(views, name="customers", concurrency=1)
    async def customer_agent(stream: faust.StreamT[bytes]) -> None:
        async for events in _batches(stream, settings):
            pipeline.update_customers(customers, (_message(event) for event in events))

    def owned(topic: str) -> set[int]:
        actives = app.assignor.assigned_actives()
        return {tp.partition for tp in actives if tp.topic == topic}

    async def sweep() -> None:
        # No await inside: it never interleaves with an agent's batch.
        pipeline.check_deadlines(tickets)
        pipeline.forget_expired(tickets)
        if rules.repeat is not None:
            pipeline.share_clock(owned(topics.routed), partitions)
            pipeline.close_windows(customers)

    app.timer(settings.sla.check_interval_s)(sweep)

    @tickets.on_recover
    async def index_recovered_tickets() -> None:
        mine = owned(topics.routed)
        recovered = [
            (partition, key, state, derive(state))
            for key, value in tickets.data.items()
            if (partition := partition_of(key, partitions)) in mine
            and (state := decode_state(value))
        ]
        open_tickets.replace((partition, ticket) for partition, _, _, ticket in recovered)
        for partition, key, state, ticket in recovered:
            pipeline.recovered_ticket(partition, key, state, ticket)

    @customers.on_recover
    async def index_recovered_customers() -> None:
        mine = owned(topics.customer_views)
        for key in customers.data:
            if (partition := partition_of(key, partitions)) in mine:
                pipeline.fcr_due.set(partition, key, 0.0)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget_revoked(sender: Any, revoked: set[Any], **_: Any) -> None:
        open_tickets.drop_partitions(tp.partition for tp in revoked if tp.topic == topics.routed)
        for index in (pipeline.sla_due, pipeline.expiry):
            index.drop_partitions(tp.partition for tp in revoked if tp.topic == topics.routed)
        views = [tp.partition for tp in revoked if tp.topic == topics.customer_views]
        pipeline.fcr_due.drop_partitions(views)
        pipeline.view_clocks.drop_partitions(views)
        pipeline.shared_clock = None  # the views partitions' new owners must hear it

    return app


def _add_ingest_agent(
    app: faust.App, settings: Settings, pipeline: Pipeline, kind: SourceKind
) -> None:
    topic = app.topic(settings.topics.source(kind), **RAW)

    async def ingest(stream: faust.StreamT[bytes]) -> None:
        async for events in _batches(stream, settings):
            pipeline.ingest(kind, (_message(event) for event in events))

    app.agent(topic, name=f"ingest-{kind.value}", concurrency=1)(ingest)


def _batches(
    stream: faust.StreamT[bytes], settings: Settings
) -> AsyncIterator[Sequence[faust.EventT[bytes]]]:
    # ``take_events`` lives on the concrete Stream, not on the StreamT interface.
    concrete = cast(faust.Stream[bytes], stream)
    return concrete.take_events(settings.batch_size, settings.batch_within_s)


def _message(event: Any) -> Message:
    message = event.message
    return Message(message.topic, message.partition, message.offset, message.key, message.value)
