"""Where a ccpulse worker's time goes under load: py-spy samples, grouped.

The worker is started on a backlog of the demo's contact center (as in
``throughput.py``); once it is taking events in, py-spy samples every thread of it,
idle frames included, for a fixed time. The event-loop thread's samples are then put
into one category each, by the most specific frame on their stack (logging, snapshot
encoding, state (de)serialization, routed and source decoding, SLA, the ticket and
customer core, metrics, table writes, producing, consuming, Faust's per-event stream
dispatch, the asyncio loop itself, waiting), and the top frames by own and by inclusive
time are listed.

It needs py-spy (``.venv/bin/pip install py-spy``; it is not a project dependency) and
the right to ptrace the worker. It changes nothing in the worker.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from common import Worker, Workspace, bench_settings, embedded_broker, produce, worker_log
from report import Section, arguments, emit, table
from throughput import create_topics
from workload import realistic, records_of

MAIN_THREAD = "MainThread"
IDLE_LEAVES = ("EpollSelector.select", "_PollLikeSelector.select", "select (selectors.py")
_FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>[^:()]+)(?::(?P<line>\d+))?\)$")

SPECIFIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    # (category, substrings of "function (file)"); the frame nearest the leaf that one
    # of these matches decides; the first category listed wins on that frame.
    ("logging", ("logging/",)),
    ("snapshot encoding (orjson of TicketMetrics)", ("encode_snapshot",)),
    ("routed-event decoding (pydantic validate_json)", ("decode_event",)),
    ("source decoding (orjson + pydantic)", ("SourceDecoder.decode",)),
    ("routing re-encode (pydantic to_json)", ("encode_event",)),
    ("output messages (pydantic to_json)", ("_sla_message", "_json (processor")),
    ("table state (de)serialization", ("processor/codec.py",)),
    ("SLA timers and calendars", ("ticket_sla.py", "core/sla.py", "core/calendar.py")),
    ("ticket core: fold / derive", ("core/ticket.py", "core/facts.py", "ticket_metrics.py")),
    ("customer core: repeats / FCR", ("core/customer.py",)),
    ("metrics (prometheus_client)", ("prometheus_client/", "processor/metrics/")),
    ("gauge / deadline indexes", ("open_tickets.py", "due_index.py")),
    ("other pipeline code", ("processor/shell/pipeline.py",)),
    ("table writes (Faust table + changelog)", ("faust/tables/", "faust/stores/")),
    (
        "producing (Faust send_soon, producer buffer, aiokafka)",
        ("faust/transport/producer", "aiokafka/producer", "faust/topics.py", "send_soon"),
    ),
    ("sockets (writes to the broker)", ("selector_events.py",)),
    ("consuming (fetch, records)", ("aiokafka/consumer", "aiokafka/record", "consumer.py")),
)
GENERIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Only when no specific frame is on the stack.
    ("Faust stream dispatch (per-event awaits)", ("faust/", "mode/")),
    ("asyncio event loop", ("asyncio/",)),
)
INCLUSIVE_PREFIXES = ("processor/", "faust/", "aiokafka/", "prometheus_client/", "logging/")


@dataclass(slots=True)
class Profile:
    threads: Counter[str] = field(default_factory=Counter)
    busy: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    leaves: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)

    @property
    def main_busy(self) -> int:
        return self.busy[MAIN_THREAD]


def _label(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    file = re.sub(r"^.*?site-packages/", "", match["file"])
    return f"{match['function']} ({file})"


def analyse(raw: str) -> Profile:
    profile = Profile()
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        thread, *frames = stack.split(";")
        name = thread.split(": ", 1)[-1]
        profile.threads[name] += count
        if not frames or frames[-1].startswith(IDLE_LEAVES):
            continue
        profile.busy[name] += count
        if name != MAIN_THREAD:
            continue
        labels = [_label(frame) for frame in frames]
        profile.leaves[labels[-1]] += count
        for label in set(labels):
            if any(prefix in label for prefix in INCLUSIVE_PREFIXES):
                profile.inclusive[label] += count
        profile.categories[_category(labels)] += count
    return profile


def _category(labels: list[str]) -> str:
    for rules in (SPECIFIC, GENERIC):
        for label in reversed(labels):
            for category, needles in rules:
                if any(needle in label for needle in needles):
                    return category
    return "other"


def report(profile: Profile, seconds: float, rate: int, messages: int) -> Section:
    main_total = profile.threads[MAIN_THREAD] or 1
    busy = profile.main_busy or 1

    def share(count: int, whole: int) -> str:
        return f"{100 * count / whole:.1f} %"

    threads = [
        (name, share(profile.busy[name], total), f"{profile.busy[name] / total:.2f}")
        for name, total in profile.threads.most_common()
    ]
    categories = [(name, share(count, busy)) for name, count in profile.categories.most_common()]
    leaves = [(f"`{name}`", share(count, busy)) for name, count in profile.leaves.most_common(15)]
    inclusive = [
        (f"`{name}`", share(count, busy))
        for name, count in profile.inclusive.most_common(60)
        if count < 0.99 * busy  # entry points: on every stack
    ][:25]
    markdown = "\n\n".join(
        [
            f"py-spy at {rate} Hz for {seconds:.0f} s (idle frames included) on a worker "
            f"working off a backlog of {messages:,} messages of the demo mix. The event-loop "
            f"thread was busy {share(profile.main_busy, main_total)} of the time; the rest it "
            "waited in `select` (for the broker, for a batch to fill, for the producer).",
            "Threads (share of samples not waiting in `select`):",
            table(("thread", "busy", "cores"), threads),
            "Event-loop thread, busy samples by category (each sample counted once, under "
            "the most specific frame on its stack):",
            table(("category", "share of busy samples"), categories),
            "Top frames by own time (leaf), share of busy event-loop samples:",
            table(("frame", "own"), leaves),
            "Top frames by inclusive time (on the stack), share of busy event-loop samples:",
            table(("frame", "inclusive"), inclusive),
        ]
    )
    figures = {
        "main_thread_busy": profile.main_busy / main_total,
        "categories": {name: count / busy for name, count in profile.categories.items()},
    }
    return Section("Profile", markdown, figures)


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def main() -> None:
    args = arguments(__doc__ or "")
    began = time.monotonic()
    spy = py_spy()
    if spy is None:
        section = Section("Profile", "Skipped: py-spy is not installed (`pip install py-spy`).")
        emit(section, args.json, began)
        return
    messages, seconds, rate = (6_000, 4.0, 100) if args.quick else (40_000, 25.0, 100)
    with Workspace("profile") as space, embedded_broker(space) as broker:
        settings = bench_settings(broker, space)
        create_topics(settings)
        produce(broker.bootstrap_servers, records_of(realistic(messages), settings))
        worker = Worker(settings, worker_log(space, "worker")).start()
        try:
            worker.wait(
                lambda: (
                    worker.totals("ccpulse_events_consumed_total")["ccpulse_events_consumed_total"]
                    > 0
                ),
                120,
                "the first event",
                pause=0.1,
            )
            out = space.path / "profile.txt"
            command = [spy, "record", "--pid", str(worker.pid), "--duration", f"{seconds:.0f}"]
            command += ["--rate", str(rate), "--format", "raw", "--idle", "--threads"]
            done = subprocess.run(
                [*command, "--output", str(out)], capture_output=True, text=True, check=False
            )
            if done.returncode != 0 or not out.exists():
                raise RuntimeError(f"py-spy failed: {done.stderr[-2000:]}")
            profile = analyse(out.read_text())
        finally:
            worker.stop()
    emit(report(profile, seconds, rate, messages), args.json, began)


if __name__ == "__main__":
    main()
