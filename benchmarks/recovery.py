"""How long a ccpulse worker is away: restart with state, and takeover in a group.

*Restart to ready.* N open tickets of state (``memory.py``'s tickets, written straight
onto the changelog topics with the product's own pipeline and codec) are recovered by a
first worker, which is then stopped (SIGTERM); a second one is started with the same
``app_id``. Ready = one probe event per partition processed (counted on ``/metrics``),
timed from the process start. The store is Faust's ``memory://``, which replays every
changelog from offset 0 at each start; whether ``faust-streaming[rocksdict]`` (a store
that keeps its data and offsets on disk) would install here is checked with pip's
resolver, without installing it.

*Takeover.* Two workers share a group (state: N/10 tickets). A probe ticket is sent
every 50 ms, cycling over the partitions, and ``cc.ticket-metrics`` is followed; then one
worker leaves (SIGTERM, and in the full mode later SIGKILL after it rejoined). Takeover =
the longest any probe sent in the 2 s after the leave waited for its snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from common import (
    PARTITIONS,
    Worker,
    Workspace,
    bench_settings,
    embedded_broker,
    peer,
    produce,
    rss_bytes,
    worker_log,
)
from report import Section, Target, arguments, emit, table
from throughput import create_topics
from workload import probe_count, probe_key_for_partition, probe_record, warm_up, write_changelogs

from processor.broker import EmbeddedBroker
from processor.config import Settings

PROBE_EVERY_S = 0.05


def restart(broker: EmbeddedBroker, space: Workspace, size: int) -> dict[str, float]:
    settings = bench_settings(broker, space)
    create_topics(settings)
    began = time.monotonic()
    records = write_changelogs(broker.bootstrap_servers, settings, size)
    written_s = time.monotonic() - began
    timeout = max(300.0, size / 300)
    first = Worker(settings, worker_log(space, f"first-{size}")).start()
    try:
        first_ready = warm_up(broker, first, timeout)
    finally:
        first.stop()
    second = Worker(settings, worker_log(space, f"second-{size}")).start()
    try:
        ready = warm_up(broker, second, timeout)
        rss = rss_bytes(second.pid)
    finally:
        second.stop()
    return {
        "tickets": size,
        "records": records,
        "write_s": written_s,
        "first_ready_s": first_ready,
        "ready_s": ready,
        "rss": rss,
    }


def rocksdict_installable() -> str:
    """What pip's resolver says about ``faust-streaming[rocksdict]`` (nothing installed)."""
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet"]
    command += ["--report", "-", "faust-streaming[rocksdict]==0.15.3"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    except subprocess.TimeoutExpired:
        return "unknown (pip timed out)"
    if done.returncode != 0:
        return "no: " + (done.stderr.strip().splitlines() or ["pip failed"])[-1][:200]
    try:
        install = orjson.loads(done.stdout)["install"]
    except (orjson.JSONDecodeError, KeyError):
        return "yes (pip resolved it)"
    found = [item["metadata"] for item in install if item["metadata"]["name"] == "rocksdict"]
    if not found:
        return "unclear: pip resolved it without a rocksdict package"
    return f"yes: pip resolves rocksdict {found[0]['version']} (a binary wheel for this Python)"


def _probe_keys(prefix: str, partition: int) -> Iterator[str]:
    """Endless fresh probe ticket ids on ``partition``."""
    for serial in itertools.count():
        yield probe_key_for_partition(f"{prefix}-{partition}-{serial}", partition)


class ProbeStream:
    """Sends a probe ticket every ``PROBE_EVERY_S``, cycling over the partitions, and
    notes when each one's snapshot is seen."""

    def __init__(self, broker: str, settings: Settings) -> None:
        self.broker, self.settings = broker, settings
        self.sent: list[tuple[float, int, bytes]] = []
        self.seen: dict[bytes, float] = {}
        self.stop = asyncio.Event()
        prefix = f"tk-{uuid.uuid4().hex[:6]}"
        self.keys = {p: _probe_keys(prefix, p) for p in range(PARTITIONS)}

    async def run(self) -> None:
        await asyncio.gather(self._send(), self._follow())

    async def _send(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.broker, enable_idempotence=False)
        await producer.start()
        try:
            for partition in itertools.cycle(range(PARTITIONS)):
                if self.stop.is_set():
                    break
                ticket = next(self.keys[partition])
                topic, key, value = probe_record(self.settings, ticket)
                assert key is not None
                self.sent.append((time.time(), partition, key))
                await producer.send(topic, key=key, value=value)
                await asyncio.sleep(PROBE_EVERY_S)
        finally:
            await producer.stop()

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.broker, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        await consumer.start()
        try:
            topic = self.settings.topics.ticket_metrics
            tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            while not self.stop.is_set():
                batch = await consumer.getmany(timeout_ms=20, max_records=5000)
                now = time.time()
                for messages in batch.values():
                    for message in messages:
                        self.seen.setdefault(message.key, now)
        finally:
            await consumer.stop()

    def delays(self, since: float, until: float) -> dict[int, float]:
        """Per partition: the longest a probe sent in [since, until) waited for its
        snapshot (infinite while one is still missing)."""
        worst: dict[int, float] = defaultdict(float)
        for sent_at, partition, key in self.sent:
            if since <= sent_at < until:
                delay = self.seen[key] - sent_at if key in self.seen else float("inf")
                worst[partition] = max(worst[partition], delay)
        return dict(worst)


def both_assigned(broker: EmbeddedBroker, workers: list[Worker], timeout: float) -> None:
    """Until a round of probes (one per partition) reaches both workers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = [probe_count(worker) for worker in workers]
        prefix = f"join-{uuid.uuid4().hex[:6]}"
        keys = [probe_key_for_partition(prefix, p) for p in range(PARTITIONS)]
        produce(broker.bootstrap_servers, [probe_record(workers[0].settings, k) for k in keys])
        time.sleep(3.0)
        after = [probe_count(worker) for worker in workers]
        if all(a > b for a, b in zip(after, before, strict=True)):
            return
    raise TimeoutError("the two workers did not both get partitions")


def takeover(broker: EmbeddedBroker, space: Workspace, size: int, kill: bool) -> list[float]:
    """Takeover seconds (max over partitions) for a graceful leave, then a SIGKILL."""
    settings = bench_settings(broker, space)
    create_topics(settings)
    write_changelogs(broker.bootstrap_servers, settings, size)
    stay = Worker(peer(settings), worker_log(space, "stay")).start()
    leave = Worker(peer(settings), worker_log(space, "leave")).start()
    results: list[float] = []
    try:
        for worker in (stay, leave):
            worker.wait_serving()
        both_assigned(broker, [stay, leave], timeout=180)
        signals = [signal.SIGTERM, signal.SIGKILL] if kill else [signal.SIGTERM]
        for number, sig in enumerate(signals):
            if number:
                leave = Worker(peer(settings), worker_log(space, f"leave-{number}")).start()
                leave.wait_serving()
                both_assigned(broker, [stay, leave], timeout=180)
            results.append(asyncio.run(_leave(broker, settings, leave, sig)))
    finally:
        stay.stop()
        leave.stop()
    return results


async def _leave(broker: EmbeddedBroker, settings: Settings, leave: Worker, sig: int) -> float:
    probes = ProbeStream(broker.bootstrap_servers, settings)
    task = asyncio.create_task(probes.run())
    try:
        await asyncio.sleep(3.0)
        left_at = time.time()
        await asyncio.to_thread(leave.stop, sig)
        # Probes sent in the first 2 s after the leave: the longest wait among them is
        # how long the group took to process that worker's partitions again.
        window_end = left_at + 2.0
        for _ in range(240):
            await asyncio.sleep(0.5)
            if time.time() > window_end and max(
                probes.delays(left_at, window_end).values()
            ) < float("inf"):
                break
        delays = probes.delays(left_at, window_end)
        print(f"takeover delays by partition: {delays}", file=sys.stderr)
        return max(delays.values())
    finally:
        probes.stop.set()
        with contextlib.suppress(Exception):
            await task


def report(
    restarts: list[dict[str, float]], takeovers: list[float], rocksdict: str, extended: bool
) -> Section:
    rows = [
        (
            f"{row['tickets']:,.0f}",
            f"{row['records']:,.0f}",
            f"{row['first_ready_s']:.1f}",
            f"**{row['ready_s']:.1f}**",
            f"{row['records'] / row['ready_s']:,.0f}",
            f"{row['rss'] / 2**20:,.0f}",
        )
        for row in restarts
    ]
    header = (
        "tickets of state",
        "changelog records",
        "first start → ready s",
        "restart → ready s",
        "records / s of ready time",
        "RSS when ready MiB",
    )
    leaves = ["SIGTERM (graceful leave)", "SIGKILL (crash)"]
    takeover_rows = [(leaves[i], f"**{s:.1f}**") for i, s in enumerate(takeovers)]
    notes = [
        "Store: `memory://` (the product's). Each start replays both changelogs from offset"
        " 0, then indexes every recovered ticket for the SLA sweep; ready includes Python and"
        " Faust start-up and the group join (about 3 s with the 6 s session timeout).",
        f"`faust-streaming[rocksdict]` installable here: {rocksdict}. Not used: the"
        " product stays on the memory store.",
    ]
    if not extended:
        notes.append(
            "1,000,000 tickets (`recovery.py --extended`) is not in this mode: at the replay"
            " rate above, 3 M changelog records take 6-7 minutes per start."
        )
    markdown = "\n\n".join(
        [
            table(header, rows),
            *notes,
            "Takeover in a group of two (the longest a probe sent in the 2 s after the"
            " leave waited for its snapshot; probes are sent every 50 ms on every"
            " partition):",
            table(("how the worker left", "takeover s"), takeover_rows),
        ]
    )
    at_100k = next((row for row in restarts if row["tickets"] == 100_000), restarts[-1])
    targets = [
        Target(
            "restart → ready with 100k tickets",
            "≤ 15 s",
            f"{at_100k['ready_s']:.1f} s ({at_100k['tickets']:,.0f} tickets)",
            at_100k["tickets"] >= 100_000 and at_100k["ready_s"] <= 15,
            "the memory store replays every changelog record at each start",
        )
    ]
    figures = {"restarts": restarts, "takeovers": takeovers, "rocksdict": rocksdict}
    return Section("Recovery", markdown, figures, targets)


def main() -> None:
    args = arguments(__doc__ or "", extended=True)
    began = time.monotonic()
    sizes = [3_000] if args.quick else [100_000]
    if args.extended:
        sizes = [100_000, 1_000_000]
    with Workspace("recovery") as space, embedded_broker(space) as broker:
        restarts = [restart(broker, space, size) for size in sizes]
        takeovers = takeover(broker, space, max(1_000, sizes[0] // 10), kill=not args.quick)
    rocksdict = rocksdict_installable()
    emit(report(restarts, takeovers, rocksdict, args.extended), args.json, began)


if __name__ == "__main__":
    main()
