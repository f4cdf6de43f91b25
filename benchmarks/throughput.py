"""Throughput of the whole ccpulse worker against a naive Faust agent and the Python
ceiling, side by side on the same pre-produced events, in one run.

N events of the demo's contact center (all six sources, 0.5 % malformed) are produced
first; then each consumer starts on them in turn, alone on the machine's cores:

- ccpulse: a real ``ccpulse worker`` process with everything on (ingest and routing,
  ticket and customer tables with their changelogs, snapshots, SLA with
  ``deploy/sla-policies.yaml`` on the wall clock, repeat contacts, metrics). Its span runs
  from the timestamp of the first routed event to that of the last snapshot, read back
  from the topics once the worker is idle (every message taken in, no lag, no new
  snapshot); its CPU is sampled from /proc/<pid>/stat and interpolated at both ends.
- the naive Faust agent and the aiokafka ceiling of ``baselines.py``, which time
  themselves from their first to their N-th message.

It does not measure start-up (reported apart) nor the producer.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass

import orjson
from common import (
    REPO,
    CpuSampler,
    Worker,
    Workspace,
    bench_settings,
    embedded_broker,
    processing_window,
    produce,
    read_topic,
    worker_log,
)
from report import Section, Target, arguments, emit, table
from workload import realistic, records_of, valid_count

from processor.broker import EmbeddedBroker
from processor.config import Settings
from processor.kafka import ensure_topics
from processor.shell.worker import topics_to_create


@dataclass(frozen=True, slots=True)
class Run:
    name: str
    messages: int
    seconds: float
    cpu_s: float
    broker_cpu_s: float
    startup_s: float | None = None

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_per_million(self) -> float:
        return self.cpu_s / self.messages * 1e6


def create_topics(settings: Settings, extra: dict[str, int] | None = None) -> None:
    topics = {**topics_to_create(settings), **(extra or {})}
    asyncio.run(ensure_topics(settings.kafka, topics, exact_partitions=False))


def measure_ccpulse(
    broker: EmbeddedBroker, settings: Settings, space: Workspace, messages: int, name: str
) -> Run:
    assert broker.pid is not None
    worker = Worker(settings, worker_log(space, name)).start()
    try:
        with CpuSampler(worker.pid) as cpu, CpuSampler(broker.pid) as broker_cpu:
            worker.wait_idle(messages, timeout=max(300.0, messages / 100))
            first, last, _ = processing_window(broker.bootstrap_servers, settings)
        return Run(
            name,
            messages,
            last - first,
            cpu.at(last) - cpu.at(first),
            broker_cpu.at(last) - broker_cpu.at(first),
            startup_s=first - worker.started_at,
        )
    finally:
        worker.stop()


def measure_baseline(
    broker: EmbeddedBroker, settings: Settings, space: Workspace, mode: str, messages: int
) -> Run:
    assert broker.pid is not None
    out = space.path / f"{mode}.json"
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "baselines.py"),
        mode,
        "--bootstrap",
        broker.bootstrap_servers,
        "--topics",
        ",".join(settings.topics.sources()),
        "--expect",
        str(messages),
        "--out",
        str(out),
        "--data-dir",
        str(space.path / f"{mode}-data"),
        "--changelog",
        f"{settings.app_id}.ceiling-changelog",
    ]
    log = (space.path / f"{mode}.log").open("ab")
    started = time.time()
    process = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        with CpuSampler(broker.pid) as broker_cpu:
            deadline = time.monotonic() + max(300.0, messages / 100)
            while not out.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{mode} did not finish; see {space.path / mode}.log")
                time.sleep(0.2)
            time.sleep(0.2)  # the file is written in one call; let it land
            result = orjson.loads(out.read_bytes())
        first, last = result["first_wall"], result["last_wall"]
        return Run(
            mode,
            result["messages"],
            last - first,
            result["last_cpu"] - result["first_cpu"],
            broker_cpu.at(last) - broker_cpu.at(first),
            startup_s=first - started,
        )
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


LABELS = {
    "ccpulse": "ccpulse worker (full pipeline)",
    "faust": "(a) naive Faust agent: pydantic parse + table write per event",
    "ceiling": "(b) aiokafka getmany + orjson + dict (ceiling)",
    "ceiling-changelog": "(b') ceiling + one changelog record per ticket per batch",
}


def output_counts(broker: EmbeddedBroker, settings: Settings) -> dict[str, int]:
    """Records on every topic the worker writes, read back after its run."""
    app, topics = settings.app_id, settings.topics
    names = {
        "routed events (internal)": f"{app}-ticket-events",
        "ticket table changelog": f"{app}-tickets-changelog",
        "customer views (internal)": f"{app}-customer-tickets",
        "customer table changelog": f"{app}-customers-changelog",
        "cc.ticket-metrics": topics.ticket_metrics,
        "cc.sla-events": topics.sla_events,
        "cc.repeat-contacts": topics.repeat_contacts,
        "cc.deadletter": topics.deadletter,
    }
    return {
        label: len(read_topic(broker.bootstrap_servers, topic, idle_polls=2))
        for label, topic in names.items()
    }


def report(runs: dict[str, Run], messages: int, valid: int, outputs: dict[str, int]) -> Section:
    ccpulse, naive, ceiling = runs["ccpulse"], runs["faust"], runs["ceiling"]
    rows = [
        (
            LABELS[run.name],
            f"{run.messages:,}",
            f"{run.seconds:.1f}",
            f"**{run.rate:,.0f}**",
            f"{run.cpu_per_million:,.0f}",
            f"{run.cpu_s / run.seconds:.2f}",
            f"{run.broker_cpu_s / run.seconds:.2f}",
            f"{run.startup_s:.1f}" if run.startup_s is not None else "",
        )
        for run in runs.values()
    ]
    header = (
        "consumer",
        "messages",
        "span s",
        "events/s",
        "CPU s per 1M events",
        "CPU cores used",
        "broker cores used",
        "start → first event s",
    )
    ratios = [
        ("ccpulse ÷ naive Faust (events/s)", f"{ccpulse.rate / naive.rate:.2f}×"),
        ("ccpulse ÷ ceiling (events/s)", f"{ccpulse.rate / ceiling.rate:.3f}×"),
        (
            "CPU per event: ccpulse ÷ naive Faust",
            f"{ccpulse.cpu_per_million / naive.cpu_per_million:.2f}×",
        ),
        (
            "CPU per event: ccpulse ÷ ceiling",
            f"{ccpulse.cpu_per_million / ceiling.cpu_per_million:.1f}×",
        ),
    ]
    produced = [
        (label, f"{count:,}", f"{count / messages:.2f}") for label, count in outputs.items()
    ]
    produced.append(
        ("all", f"{sum(outputs.values()):,}", f"{sum(outputs.values()) / messages:.2f}")
    )
    markdown = "\n\n".join(
        [
            f"{messages:,} pre-produced messages of the demo's contact center ({valid:,} valid,"
            " the rest malformed and dead-lettered). Each consumer ran alone; events/s ="
            " messages ÷ span from first to last message processed; CPU of the measured"
            " process only.",
            table(header, rows),
            table(("ratio", "value"), ratios),
            "What the ccpulse worker wrote for them (each record one Faust `send_soon`):",
            table(("topic", "records", "per source message"), produced),
        ]
    )
    targets = [
        Target(
            "throughput vs naive Faust",
            "≥ 3× the naive Faust agent",
            f"{ccpulse.rate / naive.rate:.2f}×",
            ccpulse.rate >= 3 * naive.rate,
            "per output message Faust send_soon + aiokafka send (several outputs per event),"
            " SLA calendar arithmetic, Faust dispatch in two hops: see the profile",
        ),
        Target(
            "events/s per worker",
            "≥ 10,000 events/s",
            f"{ccpulse.rate:,.0f} events/s",
            ccpulse.rate >= 10_000,
            "one Python event loop per worker (one core at most); the core alone with SLA"
            " policies does ~4-6k events/s on this VM (core throughput)",
        ),
    ]
    figures = {
        name: {
            "events_per_s": run.rate,
            "cpu_s_per_million": run.cpu_per_million,
            "span_s": run.seconds,
            "startup_s": run.startup_s,
        }
        for name, run in runs.items()
    }
    return Section("Throughput", markdown, figures, targets)


def main() -> None:
    args = arguments(__doc__ or "")
    began = time.monotonic()
    messages = 6_000 if args.quick else 50_000
    with Workspace("throughput") as space, embedded_broker(space) as broker:
        settings = bench_settings(broker, space)
        create_topics(settings, {f"{settings.app_id}.ceiling-changelog": 4})
        emissions = realistic(messages)
        produce(broker.bootstrap_servers, records_of(emissions, settings))
        runs = {"ccpulse": measure_ccpulse(broker, settings, space, messages, "ccpulse")}
        outputs = output_counts(broker, settings)
        for mode in ("faust", "ceiling", "ceiling-changelog"):
            runs[mode] = measure_baseline(broker, settings, space, mode, messages)
            print(f"{mode}: {runs[mode].rate:,.0f} events/s", file=sys.stderr)
        section = report(runs, messages, valid_count(emissions), outputs)
    emit(section, args.json, began)


if __name__ == "__main__":
    main()
