"""Soak: a million events through one worker while closed tickets are forgotten; RSS must level off.

Days of a contact center (``tests/integration/contact_scenario``, every contact closed in
the end) stream in event time, hour after hour, into one ``ccpulse worker`` on the
embedded broker, on the event-time SLA clock with ``CCPULSE_STATE_RETENTION=2h`` and
repeat windows of 30 min and 1 h (shorter than the retention). Every 10 s the worker's
resident memory (``VmRSS`` in ``/proc/<pid>/status``) is sampled with the events consumed,
the open tickets and the table keys forgotten so far.

Memory is bounded if it levels off: after the first third of the samples (the warm-up:
allocator arenas, producer buffers, the first retention period), a straight line fitted
to the last third must not rise by more than ``--tolerance`` (default 10 %) of the RSS
there. The script prints the curve and exits 1 when it keeps growing, 2 when the worker
died. It is not part of the test suite (it takes about 20 minutes); ``--events`` and
``--minutes`` shorten it. It deliberately checks no metric value: the integration tests do.

    .venv/bin/python tests/soak/soak.py [--events 1000000] [--minutes 30] [--output FILE]
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from processor.broker import EmbeddedBroker
from processor.config import KafkaSettings, RepeatSettings, Settings, TopicSettings
from processor.events import SourceKind
from tests.integration.contact_scenario import generate, worker_settings
from tests.integration.support import WorkerProcess, free_port, produce

TICKETS_PER_HOUR = 2000
BACKLOG_CAP = 4000
"""Consumer lag the producer allows: well under the retention in event time, so that no
event arrives after its ticket was forgotten."""
SAMPLE_EVERY_S = 10.0
SOURCES: dict[SourceKind, str] = {}
WINDOWS = RepeatSettings(windows=("30m", "1h"))
"""Repeat windows (the widest is the FCR window) shorter than the 2 h retention."""


@dataclass(frozen=True, slots=True)
class Sample:
    seconds: float
    consumed: float
    rss_mib: float
    open_tickets: float
    forgotten: float
    """Table keys deleted after the retention (tickets and customers)."""


def soak_settings(broker: EmbeddedBroker, workdir: Path) -> Settings:
    run = uuid.uuid4().hex[:8]
    names = {
        field: f"soak-{run}.{default}"
        for field, default in TopicSettings().model_dump().items()
        if isinstance(default, str)
    }
    settings = Settings(
        app_id=f"soak-{run}",
        kafka=KafkaSettings(bootstrap_servers=broker.bootstrap_servers, session_timeout_s=6),
        topics=TopicSettings(**names, partitions=4),
        metrics_port=free_port(),
        data_dir=str(workdir / run),
        state_retention="2h",
        repeat=WINDOWS,
    )
    settings = worker_settings(settings, workdir / "sla.yaml", lateness=timedelta(minutes=30))
    return settings.model_copy(update={"repeat": WINDOWS})


def stream(start: datetime) -> Iterator[list[Any]]:
    """Hour after hour of contacts, every message in event-time order: an hour's contacts
    go on for hours (answers, closes), so each is held until nothing earlier can come."""
    pending: list[tuple[datetime, int, Any]] = []
    serial = itertools.count()
    for hour in itertools.count():
        opened = start + timedelta(hours=hour)
        scenario = generate(
            hour,
            TICKETS_PER_HOUR,
            opened,
            timedelta(hours=1),
            0.01,
            prefix=f"h{hour}-",
            close_all=True,
        )
        for message in scenario.messages:
            heapq.heappush(pending, (message.at, next(serial), message))
        due = []
        while pending and pending[0][0] < opened + timedelta(hours=1):
            due.append(heapq.heappop(pending)[2])
        yield [(SOURCES[m.source], m.key, m.body) for m in due]


def sample(worker: WorkerProcess, started: float) -> Sample:
    scrape = worker.scrape()

    def total(name: str) -> float:
        return sum(value for (sample, _), value in scrape.items() if sample == name)

    return Sample(
        seconds=time.monotonic() - started,
        consumed=total("ccpulse_events_consumed_total"),
        rss_mib=worker.rss_kib() / 1024,
        open_tickets=total("ccpulse_tickets_open"),
        forgotten=total("ccpulse_state_forgotten_total"),
    )


def run(events: int, minutes: float, log: Path) -> list[Sample]:
    samples: list[Sample] = []
    with (
        tempfile.TemporaryDirectory(prefix="ccpulse-soak-") as tmp,
        EmbeddedBroker(log_path=log.with_suffix(".broker.log")) as broker,
    ):
        settings = soak_settings(broker, Path(tmp))
        SOURCES.update({kind: settings.topics.source(kind) for kind in SourceKind})
        worker = WorkerProcess(settings, log).start()
        try:
            worker.wait_for(WorkerProcess.ready, what="ready")
            started = last = time.monotonic()
            start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
            sent, hours = 0, stream(start)
            while sent < events and time.monotonic() - started < minutes * 60:
                if (backlog := worker.backlog()) is None or backlog > BACKLOG_CAP:
                    time.sleep(0.5)
                else:
                    messages = next(hours)
                    produce(settings.kafka.bootstrap_servers, messages)
                    sent += len(messages)
                if time.monotonic() - last >= SAMPLE_EVERY_S:
                    samples.append(sample(worker, started))
                    last = time.monotonic()
                    print(line(samples[-1], sent), flush=True)
            while (
                worker.backlog() not in (0, None)
                and time.monotonic() - started < minutes * 60 + 120
            ):
                time.sleep(SAMPLE_EVERY_S)
                samples.append(sample(worker, started))
                print(line(samples[-1], sent), flush=True)
        finally:
            alive = worker.alive()
            worker.stop()
        if not alive:
            print(f"the worker died:\n{worker.log_tail()}")
            raise SystemExit(2)
    return samples


def line(s: Sample, sent: int) -> str:
    return (
        f"{s.seconds:7.0f} s  consumed {s.consumed:>9,.0f} (sent {sent:>9,})"
        f"  RSS {s.rss_mib:7.1f} MiB  open {s.open_tickets:>7,.0f}  forgotten {s.forgotten:>9,.0f}"
    )


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


def verdict(samples: list[Sample], tolerance: float) -> tuple[bool, str]:
    """Whether RSS levelled off over the last third of the samples, and why."""
    last = samples[len(samples) * 2 // 3 :]
    if len(last) < 3:
        return False, f"too few samples ({len(samples)}) to judge"
    per_event = slope([(s.consumed, s.rss_mib) for s in last])
    rise = per_event * (last[-1].consumed - last[0].consumed)
    base = sum(s.rss_mib for s in last) / len(last)
    summary = (
        f"last third: {last[0].consumed:,.0f} -> {last[-1].consumed:,.0f} events, fitted RSS rise "
        f"{rise:+.1f} MiB ({rise / base:+.1%} of {base:.0f} MiB; "
        f"{per_event * 1e6 * 1024:+.0f} KiB per million events)"
    )
    return rise <= tolerance * base, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--tolerance", type=float, default=0.10)
    parser.add_argument("--output", type=Path, help="also write the curve (CSV) here")
    args = parser.parse_args()
    log = Path(tempfile.gettempdir()) / f"ccpulse-soak-{uuid.uuid4().hex[:6]}.log"
    print(f"soak: {args.events:,} events, at most {args.minutes:g} min; worker log {log}")
    samples = run(args.events, args.minutes, log)
    if args.output:
        rows = [
            f"{s.seconds:.0f},{s.consumed:.0f},{s.rss_mib:.1f},{s.open_tickets:.0f},{s.forgotten:.0f}"
            for s in samples
        ]
        args.output.write_text(
            "seconds,consumed,rss_mib,open_tickets,forgotten\n" + "\n".join(rows) + "\n"
        )
    bounded, summary = verdict(samples, args.tolerance)
    print(("bounded: " if bounded else "GROWING: ") + summary)
    raise SystemExit(0 if bounded else 1)


if __name__ == "__main__":
    main()
