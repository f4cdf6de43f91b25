"""A Faust table recovered from its changelog after a restart holds every update.

A worker sums 20,000 keyed increments over 300 keys on 4 partitions. It handles the first
half, stops gracefully, starts again (rebuilding its table from the changelog) and handles
the second half; every per-key sum must then be exact. A changelog that ends in a
multi-record batch, recovered with and without ``install_highwater_correction()``, shows
that on the embedded broker Faust's own recovery drops the newest records, i.e. that the
correction is what makes it exact.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from processor.config import KafkaSettings, Settings
from processor.kafka import client_options, ensure_topics
from processor.shell.highwater import fetched_highwaters, install_highwater_correction

pytestmark = pytest.mark.integration

MESSAGES = 20_000
KEYS = 300
PARTITIONS = 4


@dataclass(frozen=True, slots=True)
class Increment:
    key: str
    seq: int
    add: int


def increments(seed: int = 7) -> list[Increment]:
    """Keys take turns, so every key gets increments in both halves of the stream."""
    rng = random.Random(seed)
    return [Increment(f"k{i % KEYS}", i // KEYS, rng.randint(1, 9)) for i in range(MESSAGES)]


def final_state(stream: Iterable[Increment]) -> dict[str, list[int]]:
    state: dict[str, list[int]] = {}
    for inc in stream:
        total, _ = state.get(inc.key, [0, -1])
        state[inc.key] = [total + inc.add, inc.seq]
    return state


class SumsWorker:
    """``tests.integration.sums_worker`` as a subprocess, read through its state file."""

    def __init__(self, settings: Settings, workdir: Path, *, corrected: bool) -> None:
        self.state_file = workdir / "state.json"
        self.log_path = workdir / "worker.log"
        self.command = [
            sys.executable,
            "-m",
            "tests.integration.sums_worker",
            settings.kafka.bootstrap_servers,
            settings.app_id,
            settings.topics.calls,
            str(self.state_file),
            str(workdir / "data"),
            *([] if corrected else ["--uncorrected"]),
        ]
        self.process: subprocess.Popen[bytes] | None = None

    @contextmanager
    def running(self) -> Iterator[SumsWorker]:
        self.state_file.unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=log)
        try:
            yield self
        finally:
            self.stop()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def table(self) -> dict[str, list[int]]:
        try:
            state: dict[str, Any] = orjson.loads(self.state_file.read_bytes())
        except FileNotFoundError:
            return {}
        return dict(state["sums"])

    def wait_until_caught_up(self, target: dict[str, list[int]], timeout_s: float = 90) -> None:
        """Wait until every key has seen its last increment (its sum may still be wrong)."""
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited:\n{self.log_tail()}")
            table = self.table()
            if all(table.get(key, [0, -1])[1] == last for key, (_, last) in target.items()):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"worker did not catch up:\n{self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def produce(kafka: KafkaSettings, topic: str, stream: Iterable[Increment]) -> None:
    async def send_all() -> None:
        producer = AIOKafkaProducer(**client_options(kafka), linger_ms=5)
        await producer.start()
        try:
            for inc in stream:
                value = orjson.dumps({"seq": inc.seq, "add": inc.add})
                await producer.send(topic, value, key=inc.key.encode())
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(send_all())


def run_restart_scenario(
    settings: Settings, workdir: Path, *, corrected: bool
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """(expected, recovered-and-continued) tables after a stop/start between two halves."""
    stream = increments()
    first, second = stream[: MESSAGES // 2], stream[MESSAGES // 2 :]
    asyncio.run(ensure_topics(settings.kafka, {settings.topics.calls: PARTITIONS}))
    worker = SumsWorker(settings, workdir, corrected=corrected)
    with worker.running():
        produce(settings.kafka, settings.topics.calls, first)
        worker.wait_until_caught_up(final_state(first))
    with worker.running():  # rebuilds the table from the changelog before it consumes
        produce(settings.kafka, settings.topics.calls, second)
        expected = final_state(stream)
        worker.wait_until_caught_up(expected)
        return expected, worker.table()


def test_a_restarted_worker_recovers_every_table_update(settings: Settings, tmp_path: Path) -> None:
    expected, table = run_restart_scenario(settings, tmp_path, corrected=True)
    assert table == expected


def seed_changelog(settings: Settings, records: dict[str, list[int]]) -> None:
    """Write ``records`` to the sums table's changelog as one record batch per partition.

    Every record goes out within the producer's linger, so each partition ends with one
    multi-record batch: the case in which the broker's ListOffsets answer is too low.
    """
    changelog = f"{settings.app_id}-sums-changelog"

    async def send_all() -> None:
        await ensure_topics(
            settings.kafka, {settings.topics.calls: PARTITIONS, changelog: PARTITIONS}
        )
        producer = AIOKafkaProducer(**client_options(settings.kafka), linger_ms=200)
        await producer.start()
        try:
            for n, (key, value) in enumerate(records.items()):
                await producer.send(
                    changelog, orjson.dumps(value), key=orjson.dumps(key), partition=n % PARTITIONS
                )
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(send_all())


def recovered_table(settings: Settings, workdir: Path, *, corrected: bool) -> dict[str, list[int]]:
    """The table a fresh worker holds once it has recovered and runs (no input to handle)."""
    workdir.mkdir()
    worker = SumsWorker(settings, workdir, corrected=corrected)
    with worker.running():
        deadline = time.monotonic() + 60
        while not worker.state_file.exists():
            assert time.monotonic() < deadline, f"worker never ran:\n{worker.log_tail()}"
            time.sleep(0.2)
        time.sleep(1)  # a few more state writes: recovery is over before the first one
        return worker.table()


def test_the_correction_is_what_recovers_a_changelog_ending_in_a_large_batch(
    settings: Settings, tmp_path: Path
) -> None:
    records = {f"k{n}": [n, 0] for n in range(KEYS)}
    seed_changelog(settings, records)
    uncorrected = recovered_table(settings, tmp_path / "uncorrected", corrected=False)
    corrected = recovered_table(settings, tmp_path / "corrected", corrected=True)
    print(f"uncorrected recovery restored {len(uncorrected)} of {KEYS} keys")
    assert corrected == records
    assert len(uncorrected) < KEYS


def test_the_corrected_end_is_the_high_watermark_for_low_and_exact_answers(
    settings: Settings,
) -> None:
    topic = settings.topics.chats
    full, empty = TopicPartition(topic, 0), TopicPartition(topic, 1)

    async def corrected_ends() -> list[dict[TopicPartition, int]]:
        await ensure_topics(settings.kafka, {topic: 2})
        producer = AIOKafkaProducer(**client_options(settings.kafka), linger_ms=50)
        await producer.start()
        try:
            for n in range(100):  # queued within the linger: one batch, the broker answers 1
                await producer.send(topic, str(n).encode(), partition=0)
            await producer.flush()
        finally:
            await producer.stop()
        options = client_options(settings.kafka)
        return [await fetched_highwaters(options, {full: n, empty: 0}) for n in (1, 50, 100)]

    assert asyncio.run(corrected_ends()) == [{full: 100, empty: 0}] * 3


def test_installing_the_correction_twice_wraps_faust_once() -> None:
    install_highwater_correction()
    installed = AIOKafkaConsumerThread._highwaters
    install_highwater_correction()
    assert AIOKafkaConsumerThread._highwaters is installed
