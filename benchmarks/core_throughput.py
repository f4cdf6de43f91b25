"""How fast the processing steps run without Kafka, side by side in one run.

Feeds the demo's synthetic traffic through ``Pipeline.ingest`` and
``Pipeline.update_tickets`` (a dict as the table, a list as the producer) with batches of
1 (what a per-event agent pays: state decoded and re-encoded for every event) and of 500
(what the worker does), without SLA policies and with ``deploy/sla-policies.yaml``, and
prints events/s and CPU microseconds per event. This is the Faust-free part of the
worker's cost: the gap to the full pipeline (``throughput.py``) is Kafka and Faust.

Run: ``.venv/bin/python benchmarks/core_throughput.py [minutes-of-traffic] [--quick]``
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry

from processor.codec import SourceDecoder
from processor.demo.simulation import ContactCenter
from processor.metrics import Metrics
from processor.open_tickets import OpenTickets
from processor.policies import load_policies
from processor.shell.pipeline import Clock, Message, Pipeline, Rules, Topics

POLICY_FILE = Path(__file__).resolve().parent.parent / "deploy" / "sla-policies.yaml"


def run(batch: int, minutes: float, rules: Rules | None = None) -> tuple[int, float]:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    emissions = ContactCenter(seed=1, start=start, rate=10).advance(
        start + timedelta(minutes=minutes)
    )
    sent: list[tuple[str, bytes | None, bytes]] = []
    tickets = OpenTickets()
    pipeline = Pipeline(
        Topics("routed", "views", "metrics", "deadletter", "sla", "repeats"),
        SourceDecoder(65536),
        Metrics(CollectorRegistry(), tickets, time.time),
        tickets,
        lambda topic, key, value, partition=None: sent.append((topic, key, value)),
        rules=rules or Rules(),
        clock=Clock(event_time=False, wall=time.time),
    )
    table: dict[bytes, bytes] = {}
    began = time.process_time()
    for first in range(0, len(emissions), batch):
        chunk = emissions[first : first + batch]
        for emission in chunk:
            message = Message("source", 0, 0, emission.key, emission.value)
            pipeline.ingest(emission.kind, [message])
        routed = [Message("routed", 0, 0, k, v) for topic, k, v in sent if topic == "routed"]
        sent.clear()
        pipeline.update_tickets(table, routed)
    return len(emissions), time.process_time() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("minutes", nargs="?", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="2 minutes of traffic")
    parser.add_argument("--json", type=Path, help="also write a RESULTS.md section here")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the malformed trickle would log one line each
    began = time.monotonic()
    minutes = 2.0 if args.quick else args.minutes
    with_sla = Rules(policies=load_policies(str(POLICY_FILE)))
    rows = []
    print(f"{'batch':>6} {'SLA':>5} {'events':>8} {'events/s':>10} {'µs/event':>9}")
    for batch, rules, label in ((1, None, "none"), (500, None, "none"), (500, with_sla, "yes")):
        events, cpu = run(batch, minutes, rules)
        rate, micros = events / cpu, cpu / events * 1e6
        rows.append((batch, label, events, rate, micros))
        print(f"{batch:>6} {label:>5} {events:>8} {rate:>10,.0f} {micros:>9.1f}")
    if args.json is not None:
        write_section(args.json, rows, minutes, time.monotonic() - began)


def write_section(
    path: Path, rows: list[tuple[int, str, int, float, float]], minutes: float, seconds: float
) -> None:
    header = (
        "| batch | SLA policies | events | events/s (CPU) | µs CPU per event |\n"
        "|---|---|---|---|---|"
    )
    lines = [
        f"| {batch} | {label} | {events:,} | **{rate:,.0f}** | {micros:.1f} |"
        for batch, label, events, rate, micros in rows
    ]
    markdown = (
        f"The Faust-free processing steps (`Pipeline.ingest` + `Pipeline.update_tickets`, a"
        f" dict as table, a list as producer) on {minutes:g} minutes of demo traffic, one"
        " process, CPU time. The customer step is not included.\n\n" + "\n".join([header, *lines])
    )
    section = {
        "title": "Core throughput (no Kafka)",
        "markdown": markdown,
        "figures": {f"batch{b}-sla-{label}": rate for b, label, _, rate, _ in rows},
        "targets": [],
        "seconds": round(seconds, 1),
    }
    path.write_bytes(orjson.dumps(section, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
