"""What the broker-based benchmarks share: the embedded broker, worker processes and
their /metrics, /proc sampling, fast producing and reading of topics.

Nothing here times or asserts anything on its own, and nothing here is imported by the
product or its tests. The workloads are in ``workload.py``, the report in ``report.py``.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from processor.broker import EmbeddedBroker
from processor.config import KafkaSettings, RepeatSettings, Settings, SlaSettings, TopicSettings
from processor.config import settings_env as _settings_env
from processor.shell.app import partition_of

REPO = Path(__file__).resolve().parent.parent
POLICY_FILE = REPO / "deploy" / "sla-policies.yaml"
PARTITIONS = 4
SESSION_TIMEOUT_S = 6.0
"""The embedded broker holds every group join for half the session timeout."""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

Record = tuple[str, bytes | None, bytes]
"""(topic, key, value) to produce."""


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


# -- processes -------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


class CpuSampler:
    """Samples a process's CPU seconds every ``interval_s`` on a thread; ``at(t)``
    interpolates the CPU used up to wall time ``t``."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self.pid, self.interval_s = pid, interval_s
        self.times: list[float] = []
        self.cpu: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _sample(self) -> None:
        with contextlib.suppress(OSError):
            cpu = cpu_seconds(self.pid)
            self.times.append(time.time())
            self.cpu.append(cpu)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def at(self, moment: float) -> float:
        index = bisect.bisect_left(self.times, moment)
        if index <= 0:
            return self.cpu[0]
        if index >= len(self.times):
            return self.cpu[-1]
        t0, t1 = self.times[index - 1], self.times[index]
        c0, c1 = self.cpu[index - 1], self.cpu[index]
        return c0 + (c1 - c0) * (moment - t0) / (t1 - t0) if t1 > t0 else c1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Workspace:
    """A temporary directory for one benchmark's logs and Faust data; removed at exit
    unless the benchmark failed or ``CCPULSE_BENCH_KEEP`` is set (the logs then stay)."""

    def __init__(self, name: str) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=f"ccpulse-bench-{name}-"))

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None and not os.environ.get("CCPULSE_BENCH_KEEP"):
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            print(f"logs kept in {self.path}", file=sys.stderr)


@contextlib.contextmanager
def embedded_broker(space: Workspace) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(log_path=space.path / "broker.log") as broker:
        yield broker


def bench_settings(
    broker: EmbeddedBroker, space: Workspace, *, app_id: str | None = None, **overrides: Any
) -> Settings:
    """Settings of a worker with topics of its own, the realistic policy file and the
    default repeat window; ``app_id`` shares a group (and topics) with another worker."""
    run = app_id or f"bench-{uuid.uuid4().hex[:8]}"
    topics = {
        name: f"{run}.{default}"
        for name, default in TopicSettings().model_dump().items()
        if isinstance(default, str)
    }
    values: dict[str, Any] = {
        "app_id": run,
        "kafka": KafkaSettings(
            bootstrap_servers=broker.bootstrap_servers, session_timeout_s=SESSION_TIMEOUT_S
        ),
        "topics": TopicSettings(**topics, partitions=PARTITIONS),
        "metrics_port": free_port(),
        "data_dir": str(space.path / f"{run}-{uuid.uuid4().hex[:6]}"),
        "sla": SlaSettings(policy_file=str(POLICY_FILE)),
        "repeat": RepeatSettings(),
    }
    values.update(overrides)
    return Settings(**values)


def peer(settings: Settings) -> Settings:
    """The same worker settings (group, topics) with a /metrics port and data dir of its own."""
    data_dir = f"{settings.data_dir}-{uuid.uuid4().hex[:6]}"
    return settings.model_copy(update={"metrics_port": free_port(), "data_dir": data_dir})


def settings_env(settings: Settings) -> dict[str, str]:
    return _settings_env(settings)


class Worker:
    """A ``ccpulse worker`` process with its /metrics and its log; ``tuned``: run through
    ``tuned_worker.py`` (the consumers' fetch wait capped, see there)."""

    def __init__(self, settings: Settings, log_path: Path, *, tuned: bool = False) -> None:
        self.settings = settings
        self.log_path = log_path
        self.command = (
            [sys.executable, str(REPO / "benchmarks" / "tuned_worker.py")]
            if tuned
            else [sys.executable, "-m", "processor", "worker"]
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Worker:
        env = {**os.environ, **settings_env(self.settings)}
        with self.log_path.open("ab") as log:
            self.started_at = time.time()
            self.process = subprocess.Popen(self.command, env=env, stdout=log, stderr=log)
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

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def metrics_text(self) -> str:
        url = f"http://127.0.0.1:{self.settings.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())

    def totals(self, *names: str) -> dict[str, float]:
        """Each named metric summed over its label values (one scrape)."""
        sums = dict.fromkeys(names, 0.0)
        for line in self.metrics_text().splitlines():
            if line.startswith("#"):
                continue
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name in sums:
                sums[name] += float(line.rsplit(" ", 1)[1])
        return sums

    def wait(
        self, condition: Callable[[], bool], timeout: float, what: str, pause: float = 0.5
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"worker exited while waiting for {what}:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                if condition():
                    return
            time.sleep(pause)
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")

    def wait_serving(self, timeout: float = 120) -> None:
        self.wait(lambda: bool(self.metrics_text()), timeout, "/metrics", pause=0.1)

    def wait_idle(self, expected_events: int, timeout: float) -> None:
        wait_idle([self], expected_events, timeout)


def wait_idle(
    workers: Sequence[Worker],
    expected_events: int,
    timeout: float,
    *,
    settle_polls: int = 3,
    pause: float = 1.0,
) -> None:
    """Until the workers together took in every source message (accepted or rejected),
    nothing is left unprocessed on any of their topics, and no snapshot was published
    for ``settle_polls`` polls."""
    names = (
        "ccpulse_events_consumed_total",
        "ccpulse_events_rejected_total",
        "ccpulse_consumer_lag_messages",
        "ccpulse_ticket_snapshots_published_total",
    )
    history: list[float] = []

    def idle() -> bool:
        totals = dict.fromkeys(names, 0.0)
        for worker in workers:
            for name, value in worker.totals(*names).items():
                totals[name] += value
        taken = totals[names[0]] + totals[names[1]]
        history.append(totals[names[3]])
        settled = len(history) > settle_polls and len(set(history[-settle_polls:])) == 1
        return taken >= expected_events and totals[names[2]] == 0 and settled

    def all_idle() -> bool:
        for worker in workers[1:]:
            if not worker.alive():
                raise RuntimeError(f"worker exited:\n{worker.log_tail()}")
        return idle()

    workers[0].wait(all_idle, timeout, f"{expected_events} events processed", pause=pause)


def worker_log(space: Workspace, name: str) -> Path:
    return space.path / f"{name}.log"


# -- producing and reading -------------------------------------------------------------


def produce(bootstrap: str, records: Iterable[Record], partitions: int = PARTITIONS) -> None:
    """Send records in batches (keyed ones to Kafka's default partition of their key)."""
    asyncio.run(produce_async(bootstrap, records, partitions))


async def produce_async(
    bootstrap: str, records: Iterable[Record], partitions: int = PARTITIONS
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        builders: dict[tuple[str, int], Any] = {}
        futures: list[asyncio.Future[Any]] = []
        for topic, key, value in records:
            partition = partition_of(key, partitions) if key else 0
            builder = builders.get((topic, partition))
            if builder is None:
                builder = builders[topic, partition] = producer.create_batch()
            if builder.append(key=key, value=value, timestamp=None) is None:
                futures.append(await producer.send_batch(builder, topic, partition=partition))
                builder = builders[topic, partition] = producer.create_batch()
                builder.append(key=key, value=value, timestamp=None)
        for (topic, partition), builder in builders.items():
            if builder.record_count():
                futures.append(await producer.send_batch(builder, topic, partition=partition))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@dataclass(frozen=True, slots=True)
class Received:
    partition: int
    offset: int
    timestamp_s: float
    key: bytes | None
    value: bytes | None


def read_topic(
    bootstrap: str, topic: str, partitions: int = PARTITIONS, idle_polls: int = 3
) -> list[Received]:
    """Every record of a topic, read until the broker sends nothing for a while (its
    ListOffsets answer cannot be trusted to tell where a partition ends)."""
    return asyncio.run(_read_topic(bootstrap, topic, partitions, idle_polls))


async def _read_topic(
    bootstrap: str, topic: str, partitions: int, idle_polls: int
) -> list[Received]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=4 << 20
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Received] = []
        idle = 0
        while idle < idle_polls:
            batch = await consumer.getmany(timeout_ms=300, max_records=20_000)
            idle = 0 if batch else idle + 1
            for messages in batch.values():
                records.extend(
                    Received(m.partition, m.offset, m.timestamp / 1000, m.key, m.value)
                    for m in messages
                )
        return records
    finally:
        await consumer.stop()


def processing_window(
    bootstrap: str, settings: Settings, since: float = 0.0
) -> tuple[float, float, int]:
    """(first routed event's timestamp, last snapshot's timestamp, snapshots), from
    ``since`` on: the span in which the workers took in the first event and published
    their last snapshot."""
    routed = read_topic(bootstrap, f"{settings.app_id}-ticket-events", idle_polls=2)
    snapshots = read_topic(bootstrap, settings.topics.ticket_metrics, idle_polls=2)
    routed = [record for record in routed if record.timestamp_s >= since]
    snapshots = [record for record in snapshots if record.timestamp_s >= since]
    if not routed or not snapshots:
        raise RuntimeError("nothing was routed or no snapshot was published")
    first = min(record.timestamp_s for record in routed)
    last = max(record.timestamp_s for record in snapshots)
    return first, last, len(snapshots)
