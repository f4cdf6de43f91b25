"""The group consumer Faust creates waits at most the configured time in a fetch."""

from __future__ import annotations

import asyncio

import faust
from faust.transport.drivers.aiokafka import Consumer, Transport

from processor.config import KafkaSettings
from processor.kafka import faust_broker_options
from processor.shell.fetchwait import install_fetch_wait


def worker_consumer_wait() -> int:
    async def create() -> int:
        app = faust.App("fetch-wait-test", **faust_broker_options(KafkaSettings()))
        group_consumer, transport = app.consumer, app.transport
        assert isinstance(group_consumer, Consumer)
        assert isinstance(transport, Transport)
        consumer = group_consumer._thread._create_worker_consumer(transport)
        wait: int = consumer._fetch_max_wait_ms
        return wait

    return asyncio.run(create())


def test_the_configured_fetch_wait_replaces_fausts_fixed_one_and_the_last_install_wins() -> None:
    install_fetch_wait(80)
    assert worker_consumer_wait() == 80
    install_fetch_wait(250)
    assert worker_consumer_wait() == 250
