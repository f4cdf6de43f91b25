"""Resident memory per open ticket of a ccpulse worker, at several numbers of tickets.

An open ticket here is an email ticket its customer opened (``ticket.created`` and the
customer's ``email.received``, a new customer each): it awaits its first response, runs
two SLA timers and has a customer record. Two ways to hold N of them, side by side:

- *live*: a warmed-up worker processes the 2·N events itself; RSS growth is read from
  /proc/<pid>/statm once it is idle again (it includes what processing left behind:
  allocator arenas, producer buffers, garbage not yet returned);
- *recovered*: the same state is written straight onto the changelog topics with the
  product's own pipeline and codec (every record the worker writes for such a ticket),
  and a fresh worker recovers it; RSS growth over an empty, warmed-up worker is the
  memory the state costs at rest.

Per ticket = RSS growth ÷ N. Nothing here runs Python's garbage collector in the worker.
"""

from __future__ import annotations

import time

from common import (
    Worker,
    Workspace,
    bench_settings,
    embedded_broker,
    produce,
    read_topic,
    rss_bytes,
    worker_log,
)
from report import Section, Target, arguments, emit, table
from throughput import create_topics
from workload import open_ticket_records, warm_up, write_changelogs

from processor.broker import EmbeddedBroker

SETTLE_S = 3.0
WARM_UP_MESSAGES = 4


def idle_rss(broker: EmbeddedBroker, space: Workspace) -> int:
    """RSS of a warmed-up worker with no state."""
    settings = bench_settings(broker, space)
    create_topics(settings)
    worker = Worker(settings, worker_log(space, "empty")).start()
    try:
        warm_up(broker, worker)
        time.sleep(SETTLE_S)
        return rss_bytes(worker.pid)
    finally:
        worker.stop()


def live(broker: EmbeddedBroker, space: Workspace, sizes: list[int]) -> list[dict[str, float]]:
    settings = bench_settings(broker, space)
    create_topics(settings)
    worker = Worker(settings, worker_log(space, "live")).start()
    rows = []
    try:
        warm_up(broker, worker)
        time.sleep(SETTLE_S)
        base = rss_bytes(worker.pid)
        done = 0
        for size in sizes:
            began = time.monotonic()
            produce(broker.bootstrap_servers, open_ticket_records(settings, done, size - done))
            done = size
            worker.wait_idle(WARM_UP_MESSAGES + 2 * size, timeout=max(300.0, size / 50))
            seconds = time.monotonic() - began
            time.sleep(SETTLE_S)
            grown = rss_bytes(worker.pid) - base
            open_now = worker.totals("ccpulse_tickets_open")["ccpulse_tickets_open"]
            rows.append(
                {
                    "tickets": size,
                    "open": open_now - WARM_UP_MESSAGES,
                    "rss_growth": grown,
                    "per_ticket": grown / size,
                    "seconds": seconds,
                }
            )
        records = sum(
            len(read_topic(broker.bootstrap_servers, f"{settings.app_id}-{table}-changelog"))
            for table in ("tickets", "customers")
        )
        rows[-1]["changelog_records_per_ticket"] = records / sizes[-1]
    finally:
        worker.stop()
    return rows


def recovered(
    broker: EmbeddedBroker, space: Workspace, size: int, empty_rss: int
) -> dict[str, float]:
    settings = bench_settings(broker, space)
    create_topics(settings)
    records = write_changelogs(broker.bootstrap_servers, settings, size)
    worker = Worker(settings, worker_log(space, f"recovered-{size}")).start()
    try:
        ready_s = warm_up(broker, worker, timeout=max(300.0, size / 500))
        time.sleep(SETTLE_S)
        grown = rss_bytes(worker.pid) - empty_rss
        open_now = worker.totals("ccpulse_tickets_open")["ccpulse_tickets_open"]
        return {
            "tickets": size,
            "open": open_now - WARM_UP_MESSAGES,
            "rss_growth": grown,
            "per_ticket": grown / size,
            "records": records,
            "ready_s": ready_s,
            "broker_rss": rss_bytes(broker.pid) if broker.pid else 0,
        }
    finally:
        worker.stop()


def _kb(value: float) -> str:
    return f"{value / 1024:,.2f}"


def report(
    live_rows: list[dict[str, float]],
    recovered_rows: list[dict[str, float]],
    empty_rss: int,
    extended: bool,
) -> Section:
    rows = [
        (
            "live",
            f"{row['tickets']:,.0f}",
            f"{row['open']:,.0f}",
            f"{row['rss_growth'] / 2**20:,.1f}",
            f"**{_kb(row['per_ticket'])}**",
            f"processed in {row['seconds']:.0f} s",
        )
        for row in live_rows
    ]
    rows += [
        (
            "recovered",
            f"{row['tickets']:,.0f}",
            f"{row['open']:,.0f}",
            f"{row['rss_growth'] / 2**20:,.1f}",
            f"**{_kb(row['per_ticket'])}**",
            f"{row['records']:,.0f} changelog records, ready after {row['ready_s']:.0f} s",
        )
        for row in recovered_rows
    ]
    per_record = live_rows[-1].get("changelog_records_per_ticket", 0.0)
    notes = [
        f"RSS of a warmed-up worker with no state: {empty_rss / 2**20:.0f} MiB. The live"
        f" worker wrote {per_record:.2f} changelog records per ticket; the recovered"
        " changelogs hold 3 per ticket (two ticket states, one customer state).",
    ]
    if not extended:
        notes.append(
            "1,000,000 tickets is not in this mode (`memory.py --extended`): the live"
            " worker processes ~1,000 events/s (2 M events ≈ 35 min) and a recovery replays"
            " ~8,000 changelog records/s (3 M records ≈ 6-7 min), which does not fit a"
            " 15-minute `make bench` next to the other benchmarks."
        )
    header = ("how", "tickets", "open (gauge)", "RSS growth MiB", "KiB per ticket", "")
    markdown = "\n\n".join([table(header, rows), *notes])
    worst = max(row["per_ticket"] for row in live_rows)
    largest = recovered_rows[-1]
    at_rest = largest["per_ticket"]
    targets = [
        Target(
            "RSS per open ticket",
            "≤ 2 KB",
            f"{_kb(at_rest)} KiB at rest ({largest['tickets']:,.0f} tickets), up to"
            f" {_kb(worst)} KiB while processing",
            at_rest <= 2048 and worst <= 2048,
            "the memory store keeps every state as JSON bytes plus Faust's and the"
            " indexes' per-key objects",
        )
    ]
    figures = {"empty_rss": empty_rss, "live": live_rows, "recovered": recovered_rows}
    return Section("Memory", markdown, figures, targets)


def main() -> None:
    parser_args = arguments(__doc__ or "", extended=True)
    began = time.monotonic()
    if parser_args.quick:
        live_sizes, recovered_sizes = [1_000, 3_000], [3_000]
    else:
        live_sizes, recovered_sizes = [10_000], [10_000, 100_000]
    if parser_args.extended:
        live_sizes, recovered_sizes = [10_000, 100_000], [10_000, 100_000, 1_000_000]
    with Workspace("memory") as space, embedded_broker(space) as broker:
        empty = idle_rss(broker, space)
        live_rows = live(broker, space, live_sizes)
        recovered_rows = [recovered(broker, space, size, empty) for size in recovered_sizes]
    section = report(live_rows, recovered_rows, empty, parser_args.extended)
    emit(section, parser_args.json, began)


if __name__ == "__main__":
    main()
