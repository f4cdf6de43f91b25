"""One ccpulse worker against two in one group, on this machine, in one run.

For each group size a fresh group starts, every worker gets partitions (a round of
probes reaches each of them), and only then N events of the demo's contact center are
produced at once. Events/s = N ÷ span from the first routed event to the last snapshot
(both read back from the topics); CPU is every worker's, from /proc/<pid>/stat. With
4 partitions per topic, two workers get two each. The broker and the producer share the
same two cores.
"""

from __future__ import annotations

import contextlib
import time

from common import (
    CpuSampler,
    Worker,
    Workspace,
    bench_settings,
    embedded_broker,
    peer,
    processing_window,
    produce,
    wait_idle,
    worker_log,
)
from recovery import both_assigned
from report import Section, arguments, emit, table
from throughput import create_topics
from workload import probe_count, realistic, records_of, warm_up

from processor.broker import EmbeddedBroker


def run(broker: EmbeddedBroker, space: Workspace, count: int, messages: int) -> dict[str, float]:
    settings = bench_settings(broker, space)
    create_topics(settings)
    workers = [
        Worker(peer(settings), worker_log(space, f"group{count}-{n}")).start() for n in range(count)
    ]
    try:
        for worker in workers:
            worker.wait_serving()
        if count > 1:
            both_assigned(broker, workers, timeout=180)
        else:
            warm_up(broker, workers[0])
        emissions = realistic(messages, seed=31)
        warm = sum(probe_count(worker) for worker in workers)
        with contextlib.ExitStack() as stack:
            samplers = [stack.enter_context(CpuSampler(worker.pid)) for worker in workers]
            since = time.time()
            produce(broker.bootstrap_servers, records_of(emissions, settings))
            wait_idle(workers, messages + int(warm), timeout=max(300.0, messages / 100))
            first, last, _ = processing_window(broker.bootstrap_servers, settings, since)
            cpu = sum(sampler.at(last) - sampler.at(first) for sampler in samplers)
        return {
            "workers": count,
            "events_per_s": messages / (last - first),
            "span_s": last - first,
            "cpu_s_per_million": cpu / messages * 1e6,
            "cores_used": cpu / (last - first),
        }
    finally:
        for worker in workers:
            worker.stop()


def report(rows: list[dict[str, float]], messages: int) -> Section:
    one, two = rows[0], rows[-1]
    table_rows = [
        (
            f"{row['workers']:.0f}",
            f"{row['span_s']:.1f}",
            f"**{row['events_per_s']:,.0f}**",
            f"{row['cpu_s_per_million']:,.0f}",
            f"{row['cores_used']:.2f}",
        )
        for row in rows
    ]
    header = ("workers", "span s", "events/s", "CPU s per 1M events", "worker cores used")
    markdown = "\n\n".join(
        [
            f"{messages:,} messages of the demo mix, produced once the group is formed.",
            table(header, table_rows),
            f"Two workers ÷ one: **{two['events_per_s'] / one['events_per_s']:.2f}×** events/s"
            " on 2 cores (the broker, the producer and the other workers' share of the"
            " machine compete for them).",
        ]
    )
    return Section("Scale-out", markdown, {"runs": rows})


def main() -> None:
    args = arguments(__doc__ or "")
    began = time.monotonic()
    messages = 4_000 if args.quick else 40_000
    with Workspace("scaleout") as space, embedded_broker(space) as broker:
        rows = [run(broker, space, count, messages) for count in (1, 2)]
    emit(report(rows, messages), args.json, began)


if __name__ == "__main__":
    main()
