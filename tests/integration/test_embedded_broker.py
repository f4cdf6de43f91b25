"""The embedded broker starts, carries messages, creates topics as asked and leaves nothing."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from processor.broker import EmbeddedBroker
from processor.config import KafkaSettings, Settings
from processor.kafka import (
    TopicMismatchError,
    client_options,
    ensure_topics,
    wait_for_broker,
)

pytestmark = pytest.mark.integration


def test_the_broker_answers_on_its_loopback_port(broker: EmbeddedBroker) -> None:
    assert broker.running()
    assert broker.bootstrap_servers == f"127.0.0.1:{broker.port}"
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
    asyncio.run(wait_for_broker(kafka, 5, log=logging.getLogger("test")))


def test_a_produced_message_is_consumed_back(settings: Settings) -> None:
    topic = settings.topics.calls

    async def round_trip() -> list[tuple[bytes | None, bytes | None]]:
        await ensure_topics(settings.kafka, {topic: 1})
        producer = AIOKafkaProducer(**client_options(settings.kafka))
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello", key=b"k1")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(**client_options(settings.kafka))
        await consumer.start()
        try:
            consumer.assign([TopicPartition(topic, 0)])
            await consumer.seek_to_beginning()
            batch = await consumer.getmany(timeout_ms=5000)
        finally:
            await consumer.stop()
        return [(m.key, m.value) for messages in batch.values() for m in messages]

    assert asyncio.run(round_trip()) == [(b"k1", b"hello")]


def test_ensure_topics_creates_the_requested_partitions_and_is_idempotent(
    settings: Settings,
) -> None:
    wanted = {settings.topics.calls: 4, settings.topics.chats: 2, settings.topics.tickets: 1}

    async def create_twice() -> dict[str, int]:
        await ensure_topics(settings.kafka, wanted, compacted=[settings.topics.tickets])
        await ensure_topics(settings.kafka, wanted)
        return await partition_counts(settings.kafka, list(wanted))

    assert asyncio.run(create_twice()) == wanted


def test_ensure_topics_refuses_an_existing_topic_with_other_partitions(
    settings: Settings,
) -> None:
    topic = settings.topics.emails
    asyncio.run(ensure_topics(settings.kafka, {topic: 4}))
    with pytest.raises(TopicMismatchError, match=f"'{topic}' has 4 partitions.* needs 8"):
        asyncio.run(ensure_topics(settings.kafka, {topic: 8}))


def test_ensure_topics_can_accept_existing_topics_of_any_partition_count(
    settings: Settings,
) -> None:
    kept, created = settings.topics.calls, settings.topics.chats
    asyncio.run(ensure_topics(settings.kafka, {kept: 2}))
    asyncio.run(ensure_topics(settings.kafka, {kept: 4, created: 4}, exact_partitions=False))
    with pytest.raises(TopicMismatchError, match=f"'{kept}' has 2 partitions"):
        asyncio.run(ensure_topics(settings.kafka, {kept: 4, created: 4}))


def test_waiting_for_an_absent_broker_times_out_naming_it() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{sock.getsockname()[1]}"
    kafka = KafkaSettings(bootstrap_servers=closed)
    with pytest.raises(TimeoutError, match=f"Kafka at {closed} not reachable after 1 s"):
        asyncio.run(wait_for_broker(kafka, 1, log=logging.getLogger("test")))


def test_stop_leaves_no_process_and_frees_the_port() -> None:
    broker = EmbeddedBroker().start()
    pid, port = broker.pid, broker.port
    assert pid is not None
    broker.stop()
    assert not process_exists(pid)
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_the_broker_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "broker.pid"
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import pathlib, sys, time\n"
            "from processor.broker import EmbeddedBroker\n"
            "broker = EmbeddedBroker().start()\n"
            "pathlib.Path(sys.argv[1]).write_text(str(broker.pid))\n"
            "time.sleep(60)\n",
            str(pid_file),
        ]
    )
    try:
        wait_until(pid_file.exists, 30)
        broker_pid = int(pid_file.read_text())
        assert process_exists(broker_pid)
        starter.send_signal(signal.SIGKILL)  # no cleanup code runs
        starter.wait()
        wait_until(lambda: not process_exists(broker_pid), 5)
    finally:
        starter.kill()
        starter.wait()


async def partition_counts(kafka: KafkaSettings, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return {topic["topic"]: len(topic["partitions"]) for topic in described}


def process_exists(pid: int) -> bool:
    """True while ``pid`` runs; a zombie waiting for its new parent to reap it counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in {"Z", "X"}


def wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s"
        time.sleep(0.05)
