"""How fast the processing steps run without Kafka, side by side in one run.

Feeds the demo's synthetic traffic through ``Pipeline.ingest`` and
``Pipeline.update_tickets`` (a dict as the table, a list as the producer) with batches of
1 (what a per-event agent pays: state decoded and re-encoded for every event) and of 500
(what the worker does), and prints events/s and CPU microseconds per event.

Run: ``.venv/bin/python benchmarks/core_throughput.py [minutes-of-traffic]``
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from processor.codec import SourceDecoder
from processor.demo.simulation import ContactCenter
from processor.metrics import Metrics
from processor.open_tickets import OpenTickets
from processor.shell.pipeline import Clock, Message, Pipeline, Rules, Topics


def run(batch: int, minutes: float) -> tuple[int, float]:
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
        lambda topic, key, value: sent.append((topic, key, value)),
        rules=Rules(),
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
    logging.disable(logging.WARNING)  # the malformed trickle would log one line each
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    print(f"{'batch':>6} {'events':>8} {'events/s':>10} {'µs/event':>9}")
    for batch in (1, 500):
        events, cpu = run(batch, minutes)
        print(f"{batch:>6} {events:>8} {events / cpu:>10,.0f} {cpu / events * 1e6:>9.1f}")


if __name__ == "__main__":
    main()
