"""Drive real ccpulse worker processes against the embedded broker, and read what they emit."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from processor.config import Settings, settings_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def eventually(check: Callable[[], None], timeout: float = 60, pause: float = 0.5) -> None:
    """Run ``check`` until it stops raising AssertionError; re-raise the last one at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(pause)


class WorkerProcess:
    """A ``ccpulse worker`` subprocess with its own /metrics port and log file."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.metrics_port}/metrics"

    def start(self) -> WorkerProcess:
        env = {**os.environ, **settings_env(self.settings)}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "processor", "worker"], env=env, stdout=log, stderr=log
        )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def stop_scraped(
        self, timeout: float = 60
    ) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Stop gracefully (SIGTERM) while scraping /metrics every 0.1 s, and return the
        last scrape that answered: the process's counters once it stopped working."""
        assert self.process is not None
        last = self.scrape()
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                last = self.scrape()
            except OSError:  # the endpoint is gone: nothing is processed any more
                break
            time.sleep(0.1)
        self.stop(timeout=max(1.0, deadline - time.monotonic()))
        return last

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            text = response.read().decode()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def total(self, name: str) -> float:
        """A metric summed over all its label values."""
        return sum(value for (sample, _), value in self.scrape().items() if sample == name)

    def value(self, name: str, **labels: str) -> float:
        return self.scrape().get((name, tuple(sorted(labels.items()))), 0.0)

    def endpoint(self, path: str) -> tuple[int, str]:
        """Status and body of ``path`` on the worker's HTTP port (/healthz, /readyz...)."""
        url = f"http://127.0.0.1:{self.settings.metrics_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def ready(self) -> bool:
        """Whether /readyz answers 200 (False while the worker is down or not serving)."""
        try:
            return self.endpoint("/readyz")[0] == 200
        except OSError:
            return False

    def backlog(self) -> float | None:
        """Messages on its partitions not yet processed and committed (the consumer-lag
        gauge summed over topics); None unless the worker is ready."""
        try:
            if not self.ready():
                return None
            return self.total("ccpulse_consumer_lag_messages")
        except OSError:
            return None

    def rss_kib(self) -> int:
        """Resident memory of the process (VmRSS in /proc/<pid>/status), in KiB."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS line")

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far (from /proc)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_exit(self, timeout: float) -> int:
        """The exit code, once the process ends by itself within ``timeout``."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker still running:\n{self.log_tail()}") from None

    def wait_for(
        self, condition: Callable[[WorkerProcess], bool], timeout: float = 90, what: str = ""
    ) -> None:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"worker exited:\n{self.log_tail()}")
            try:
                if condition(self):
                    return
            except OSError as error:  # not serving yet
                last_error = error
            time.sleep(0.2)
        raise AssertionError(
            f"timed out waiting for {what or condition} ({last_error}):\n{self.log_tail()}"
        )


async def _produce(bootstrap: str, messages: Iterable[tuple[str, bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for topic, key, value in messages:
            await producer.send(topic, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def produce(bootstrap: str, messages: Iterable[tuple[str, bytes | None, Any]]) -> None:
    """Send (topic, key, value) in order; dict values are JSON-encoded."""
    encoded = [
        (topic, key, value if isinstance(value, bytes) else orjson.dumps(value))
        for topic, key, value in messages
    ]
    asyncio.run(_produce(bootstrap, encoded))


class StreamProducer:
    """Sends (topic, key, value) messages in order from a thread of its own, in chunks,
    each once ``may_send()`` is true (checked every 0.1 s): a way to hold a stream back
    while a worker is down or behind. ``sent`` counts what was sent so far."""

    def __init__(
        self,
        bootstrap: str,
        messages: Iterable[tuple[str, bytes | None, Any]],
        may_send: Callable[[], bool] = lambda: True,
        chunk: int = 250,
    ) -> None:
        self.bootstrap = bootstrap
        self.messages = [
            (topic, key, value if isinstance(value, bytes) else orjson.dumps(value))
            for topic, key, value in messages
        ]
        self.may_send = may_send
        self.chunk = chunk
        self.sent = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def start(self) -> StreamProducer:
        self._thread.start()
        return self

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"producer still running after {timeout} s ({self.sent} sent)")
        if self.error is not None:
            raise AssertionError(f"producer failed: {self.error!r}")

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as error:  # reported by join()
            self.error = error

    async def _run(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=False)
        await producer.start()
        try:
            for start in range(0, len(self.messages), self.chunk):
                # The condition is another process's state: it can only be polled.
                while not self.may_send():  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
                for topic, key, value in self.messages[start : start + self.chunk]:
                    await producer.send(topic, value=value, key=key)
                await producer.flush()
                self.sent = min(len(self.messages), start + self.chunk)
        finally:
            await producer.stop()


class LoopThread:
    """Runs ``_run`` on an event loop of a thread of its own while the context is open;
    ``_run`` returns once ``_stop`` is set."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    async def _run(self) -> None:
        raise NotImplementedError


class GroupLag(LoopThread):
    """A consumer group's lag over some topics (high watermark - committed offset, summed),
    measured from outside the workers every ``interval_s`` on a thread of its own.

    High watermarks come from Fetch responses of a consumer that reads the topics (the
    embedded broker's ListOffsets answer is too low); committed offsets from the group's
    coordinator. ``lag`` is None until a first full measurement; ``measured`` counts them.
    A worker's own lag gauge cannot say this: it stops when the worker does, and a
    partition the consumer has paused keeps its old high watermark.
    """

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topics: Iterable[str],
        partitions: int,
        interval_s: float = 0.5,
    ) -> None:
        self.bootstrap, self.group, self.interval_s = bootstrap, group, interval_s
        self.partitions = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        self.lag: int | None = None
        self.committed: dict[TopicPartition, int] = {}
        self.behind: dict[TopicPartition, int] = {}
        """Per partition, as last measured (a partition never committed counts from 0)."""
        self.measured = 0
        super().__init__()

    def fresh(self, timeout: float = 30) -> int:
        """The lag as measured by a measurement that began after this call."""
        count = self.measured
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.measured >= count + 2 and self.lag is not None:
                return self.lag
            time.sleep(0.05)
        raise AssertionError(f"no lag measurement within {timeout} s")

    async def _run(self) -> None:
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
        )
        group = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.group, enable_auto_commit=False
        )
        await reader.start()
        await group.start()
        try:
            reader.assign(self.partitions)
            await reader.seek_to_beginning(*self.partitions)
            while not self._stop.is_set():
                await reader.getmany(timeout_ms=int(self.interval_s * 1000))
                committed = await group._coordinator.fetch_committed_offsets(self.partitions)
                offsets = {
                    tp: max(0, committed[tp].offset if tp in committed else 0)
                    for tp in self.partitions
                }
                behind = {tp: max(0, (reader.highwater(tp) or 0) - offsets[tp]) for tp in offsets}
                self.committed, self.behind = offsets, behind
                self.lag, self.measured = sum(behind.values()), self.measured + 1
        finally:
            await reader.stop()
            await group.stop()


def group_lag(settings: Settings, interval_s: float = 0.25) -> GroupLag:
    """The lag of a ccpulse group over its source and internal topics."""
    topics = settings.topics
    internal = [f"{settings.app_id}-ticket-events", f"{settings.app_id}-customer-tickets"]
    return GroupLag(
        settings.kafka.bootstrap_servers,
        settings.app_id,
        [*topics.sources(), *internal],
        topics.partitions,
        interval_s=interval_s,
    )


def clock_event(settings: Settings, number: int, at: datetime) -> dict[str, Any]:
    """Sends an event that opens no ticket: on the event-time clock it moves time on."""
    body = {
        "type": "ticket.priority_changed",
        "event_id": f"clock-{number}",
        "occurred_at": at.isoformat(),
        "customer_id": "clock",
        "ticket_id": "clock",
        "priority": "low",
    }
    produce(settings.kafka.bootstrap_servers, [(settings.topics.tickets, b"clock", body)])
    return body


async def _read_all(bootstrap: str, topic: str, partitions: int) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[tuple[bytes, bytes]] = []
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=500)
            idle = 0 if batch else idle + 1
            for messages in batch.values():
                records.extend((m.key, m.value) for m in messages)
        return records
    finally:
        await consumer.stop()


def read_topic(bootstrap: str, topic: str, partitions: int) -> list[tuple[bytes, bytes]]:
    """Every (key, value) on a topic (the broker's ListOffsets is unreliable: read until idle)."""
    return asyncio.run(_read_all(bootstrap, topic, partitions))


def last_per_key(records: Iterable[tuple[bytes, bytes]]) -> Mapping[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for key, value in records:
        latest[key.decode()] = orjson.loads(value)
    return latest


class TopicWatcher(LoopThread):
    """Consumes a topic from the beginning on a background thread and notes, for every
    message, the wall-clock time (Unix seconds) at which it was received."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.bootstrap, self.topic, self.partitions = bootstrap, topic, partitions
        self.received: list[tuple[float, dict[str, Any]]] = []
        super().__init__()

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                now = time.time()
                for messages in batch.values():
                    self.received.extend((now, orjson.loads(m.value)) for m in messages)
        finally:
            await consumer.stop()

    def messages(self, **match: Any) -> list[tuple[float, dict[str, Any]]]:
        """(received at, message) of the messages whose fields equal ``match``."""
        return [
            (at, message)
            for at, message in list(self.received)
            if all(message.get(field) == value for field, value in match.items())
        ]
