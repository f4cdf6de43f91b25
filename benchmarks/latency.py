"""Latency of a running ccpulse worker at fixed offered loads, in one run.

A warmed-up worker (realistic policy file, repeat contacts, everything on) receives the
demo's contact-center traffic at a fixed rate (events sent evenly, in 5 ms ticks) for a
fixed time per level. A consumer reads ``cc.ticket-metrics`` all along. The latency of
the n-th valid event of a ticket is the time from its send to the first snapshot of that
ticket counting at least n events (a snapshot's ``events``); events of a ticket that
never becomes known have no snapshot and are counted apart. A level is *sustained* when
the latency does not grow during it (median of the last fifth of the events at most
twice that of the first fifth plus 100 ms); when the top level is not, one more level runs
at 80 % of the rate the worker managed during it.

Meanwhile, once a second, a probe ticket on a channel the traffic never uses is sent and
``/metrics`` is polled until ``ccpulse_tickets_created_total{channel="web"}`` counts it:
produced → visible on ``/metrics``. The same is done with no traffic at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from common import (
    PARTITIONS,
    Worker,
    Workspace,
    bench_settings,
    embedded_broker,
    percentile,
    worker_log,
)
from report import Section, Target, arguments, emit, table
from throughput import create_topics
from workload import probe_count, probe_record, realistic, warm_up

from processor.config import Settings
from processor.demo.simulation import Emission

TICK_S = 0.005


@dataclass(slots=True)
class Snapshots:
    """(received at, events) of every snapshot, by ticket key."""

    seen: dict[bytes, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))
    count: int = 0

    async def follow(self, bootstrap: str, topic: str, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=20, max_records=5000)
                now = time.time()
                for messages in batch.values():
                    for message in messages:
                        events = orjson.loads(message.value)["events"]
                        self.seen[message.key].append((now, events))
                        self.count += 1
        finally:
            await consumer.stop()


@dataclass(slots=True)
class Level:
    rate: float
    seconds: float
    sent: dict[bytes, list[float]] = field(default_factory=lambda: defaultdict(list))
    latencies: list[tuple[float, float]] = field(default_factory=list)
    """(sent at, latency) of every event that got its snapshot."""
    missing: int = 0
    probes: list[float] = field(default_factory=list)

    def settle(self, snapshots: Snapshots) -> None:
        self.latencies.clear()
        self.missing = 0
        for key, sends in self.sent.items():
            seen = snapshots.seen.get(key, [])
            for number, sent_at in enumerate(sends, start=1):
                arrivals = [at for at, events in seen if events >= number and at >= sent_at]
                if arrivals:
                    self.latencies.append((sent_at, min(arrivals) - sent_at))
                else:
                    self.missing += 1

    def pending(self, snapshots: Snapshots) -> int:
        return sum(
            1
            for key, sends in self.sent.items()
            if max((events for _, events in snapshots.seen.get(key, [])), default=0) < len(sends)
        )

    @property
    def sustained(self) -> bool:
        ordered = sorted(self.latencies)
        fifth = max(1, len(ordered) // 5)
        first = percentile([lat for _, lat in ordered[:fifth]], 0.5)
        last = percentile([lat for _, lat in ordered[-fifth:]], 0.5)
        return bool(ordered) and last <= 2 * first + 0.1

    def managed_rate(self) -> float:
        """Events whose snapshots arrived, per second from the first send to the last."""
        if not self.latencies:
            return 0.0
        start = min(at for at, _ in self.latencies)
        end = max(at + lat for at, lat in self.latencies)
        return len(self.latencies) / max(end - start, 1e-6)


async def offer(
    producer: AIOKafkaProducer, settings: Settings, emissions: list[Emission], level: Level
) -> None:
    valid = [e for e in emissions if not isinstance(e.payload, bytes)]
    began = time.monotonic()
    index = 0
    while index < len(valid):
        due = min(len(valid), int((time.monotonic() - began) * level.rate) + 1)
        now = time.time()
        for emission in valid[index:due]:
            topic = settings.topics.source(emission.kind)
            await producer.send(topic, key=emission.key, value=emission.value)
            level.sent[emission.key].append(now)
        index = due
        await asyncio.sleep(TICK_S)


async def probe_metrics(
    broker: str, producer: AIOKafkaProducer, worker: Worker, until: float, level: Level
) -> None:
    """A probe ticket per second until ``until``: send, then poll /metrics for it."""
    while time.monotonic() < until:
        before = await asyncio.to_thread(probe_count, worker)
        topic, key, value = probe_record(worker.settings, f"probe-{uuid.uuid4().hex[:10]}")
        sent = time.time()
        await producer.send(topic, key=key, value=value)
        while time.time() - sent < 30:
            if await asyncio.to_thread(probe_count, worker) > before:
                level.probes.append(time.time() - sent)
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(max(0.0, 1.0 - (time.time() - sent)))


async def run_level(
    broker: str,
    worker: Worker,
    snapshots: Snapshots,
    level: Level,
    seed: int,
    drain_s: float,
) -> Level:
    settings = worker.settings
    count = int(level.rate * level.seconds)
    emissions = await asyncio.to_thread(realistic, count, seed=seed)
    producer = AIOKafkaProducer(bootstrap_servers=broker, enable_idempotence=False)
    await producer.start()
    try:
        until = time.monotonic() + level.seconds
        await asyncio.gather(
            offer(producer, settings, emissions, level),
            probe_metrics(broker, producer, worker, until, level),
        )
        await producer.flush()
        # Until every ticket's snapshots caught up with its events, or none came for 3 s
        # (a ticket that never becomes known never gets one).
        quiet, seen = 0, snapshots.count
        for _ in range(int(drain_s / 0.5)):
            if not level.pending(snapshots) or quiet >= 6:
                break
            await asyncio.sleep(0.5)
            quiet, seen = (quiet + 1, seen) if snapshots.count == seen else (0, snapshots.count)
        await asyncio.sleep(0.5)
    finally:
        await producer.stop()
    level.settle(snapshots)
    return level


async def idle_probes(broker: str, worker: Worker, seconds: float) -> Level:
    level = Level(rate=0.0, seconds=seconds)
    producer = AIOKafkaProducer(bootstrap_servers=broker, enable_idempotence=False)
    await producer.start()
    try:
        await probe_metrics(broker, producer, worker, time.monotonic() + seconds, level)
    finally:
        await producer.stop()
    return level


async def measure(
    broker: str, worker: Worker, plan: list[tuple[float, float]], idle_s: float, drain_s: float
) -> tuple[list[Level], Level]:
    """Run the (rate, seconds) levels of ``plan``; when the last one is not sustained, one
    more at 80 % of what the worker managed during it, as long as the first level."""
    snapshots = Snapshots()
    stop = asyncio.Event()
    follower = asyncio.create_task(
        snapshots.follow(broker, worker.settings.topics.ticket_metrics, stop)
    )
    levels: list[Level] = []
    try:
        idle = await idle_probes(broker, worker, idle_s)
        for seed, (rate, length) in enumerate(plan, start=11):
            level = Level(rate, length)
            levels.append(await run_level(broker, worker, snapshots, level, seed, drain_s))
        top = levels[-1]
        if len(plan) > 2 and not top.sustained:
            rate = round(0.8 * top.managed_rate(), -1)
            level = Level(rate, plan[0][1])
            levels.append(await run_level(broker, worker, snapshots, level, 21, drain_s))
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await follower
    return levels, idle


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def _rows(variant: str, levels: list[Level], idle: Level) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for level in levels:
        values = [lat for _, lat in level.latencies]
        rows.append(
            (
                variant,
                f"{level.rate:,.0f}",
                f"{level.seconds:.0f}",
                f"{len(values):,}",
                f"{level.missing:,}",
                _ms(percentile(values, 0.5)),
                f"**{_ms(percentile(values, 0.99))}**",
                _ms(max(values, default=float("nan"))),
                "yes" if level.sustained else f"no (managed ~{level.managed_rate():,.0f}/s)",
                _probes(level),
            )
        )
    rows.append((variant, "0 (idle)", f"{idle.seconds:.0f}", *[""] * 6, _probes(idle)))
    return rows


def _probes(level: Level) -> str:
    if not level.probes:
        return ""
    median, top = percentile(level.probes, 0.5), max(level.probes)
    return f"{_ms(median)} / {_ms(top)} (n={len(level.probes)})"


def _p99(levels: list[Level], rate: float) -> tuple[float, bool]:
    level = next((lv for lv in levels if lv.rate == rate), levels[0])
    return percentile([lat for _, lat in level.latencies], 0.99), level.sustained


def report(variants: dict[str, tuple[list[Level], Level]]) -> Section:
    header = (
        "worker",
        "offered events/s",
        "s",
        "events with snapshot",
        "without",
        "p50 ms",
        "p99 ms",
        "max ms",
        "sustained",
        "→ /metrics p50 / max ms",
    )
    rows = [row for name, (levels, idle) in variants.items() for row in _rows(name, levels, idle)]
    markdown = "\n\n".join(
        [
            "Event produced → its `cc.ticket-metrics` snapshot seen by a consumer, and probe"
            " ticket produced → counted on `/metrics`. `ccpulse worker` is the product as"
            " shipped (batches of 500 or 50 ms; fetches wait at most"
            " `CCPULSE_KAFKA__FETCH_MAX_WAIT_MS`, which the embedded broker always"
            " waits out); `fetch wait 50 ms` is the same"
            " worker started through `tuned_worker.py`, which caps that wait at 50 ms.",
            table(header, rows),
        ]
    )
    stock_p99, stock_sustained = _p99(variants[STOCK][0], 1000.0)
    measured = f"{_ms(stock_p99)} ms" + ("" if stock_sustained else " (load not sustained)")
    bound = "the fetch wait on a broker without early fetch answers, then throughput"
    if TUNED in variants:
        tuned_p99, tuned_sustained = _p99(variants[TUNED][0], 1000.0)
        measured += f"; with the fetch wait capped at 50 ms: {_ms(tuned_p99)} ms"
        if not tuned_sustained:
            measured += " (load not sustained)"
        bound += "; then throughput (1,000/s is near one worker's capacity)"
    targets = [
        Target(
            "p99 event → snapshot at 1,000 events/s", "≤ 250 ms", measured, stock_p99 <= 0.25, bound
        )
    ]
    figures = {
        name: {
            f"{level.rate:.0f}": {
                "p50_s": percentile([lat for _, lat in level.latencies], 0.5),
                "p99_s": percentile([lat for _, lat in level.latencies], 0.99),
                "sustained": level.sustained,
                "metrics_p50_s": percentile(level.probes, 0.5),
            }
            for level in levels
        }
        | {"idle_metrics_p50_s": percentile(idle.probes, 0.5)}
        for name, (levels, idle) in variants.items()
    }
    return Section("Latency", markdown, figures, targets)


STOCK, TUNED = "ccpulse worker", "fetch wait 50 ms"


def main() -> None:
    args = arguments(__doc__ or "")
    began = time.monotonic()
    if args.quick:
        plans = {STOCK: [(200.0, 2.0), (1000.0, 2.0), (5000.0, 0.6)], TUNED: [(1000.0, 2.0)]}
        idle_s, drain_s = 2.0, 20.0
    else:
        plans = {
            STOCK: [(200.0, 10.0), (1000.0, 10.0), (5000.0, 3.0)],
            TUNED: [(200.0, 10.0), (1000.0, 10.0)],
        }
        idle_s, drain_s = 6.0, 90.0
    variants: dict[str, tuple[list[Level], Level]] = {}
    with Workspace("latency") as space, embedded_broker(space) as broker:
        for name, plan in plans.items():
            settings = bench_settings(broker, space)
            create_topics(settings)
            worker = Worker(settings, worker_log(space, name), tuned=name == TUNED).start()
            try:
                warm_up(broker, worker)
                variants[name] = asyncio.run(
                    measure(broker.bootstrap_servers, worker, plan, idle_s, drain_s)
                )
            finally:
                worker.stop()
    emit(report(variants), args.json, began)


if __name__ == "__main__":
    main()
