"""``ccpulse replay FILE``: a history of source events through the worker's processing.

Wires the parts: the file is read in batches of ``CCPULSE_BATCH_SIZE`` lines into the
engine; what it publishes goes to the report's history, to ``--out DIR`` (one JSON Lines
file per derived topic, and ``metrics.prom``, the final Prometheus exposition) and, with
``--broker``, to the derived Kafka topics. Progress goes to stderr, a short account of
the run too, and the report (``--report``) to stdout or a file.

Exit status 0 on success, 2 for a missing input file, a bad policy file, an unusable
argument or output directory (with the reason on stderr), 1 when Kafka fails. It never
reads the source topics: replaying from Kafka is what a worker in ``event_time`` mode is
for.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from datetime import datetime
from pathlib import Path

from aiokafka.errors import KafkaError
from prometheus_client import generate_latest

from processor.config import Settings
from processor.replay.engine import Replay, answers_of, derived_topics
from processor.replay.history import History
from processor.replay.options import DEFAULT_OUT, METRICS_FILE, STDOUT
from processor.replay.progress import Progress
from processor.replay.render import csv_text, markdown
from processor.replay.sinks import FileSink, KafkaSink
from processor.replay.source import batches, count_lines, read_lines
from processor.shell.pipeline import Publish, Rules
from processor.shell.worker import rules_of


def run(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        print(f"ccpulse replay: {path}: no such file", file=sys.stderr)
        return 2
    if args.lateness is not None:
        sla = settings.sla.model_copy(update={"lateness_s": args.lateness})
        settings = settings.model_copy(update={"sla": sla})
    rules = rules_of(settings)  # a bad policy file stops here, before any output
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    # One warning per rejected line would bury the progress display; every one is in the
    # dead-letter output and counted in the account printed at the end.
    logging.getLogger("processor.shell.pipeline").setLevel(logging.ERROR)
    out: Path | None = args.out or (None if args.broker else DEFAULT_OUT)
    try:
        engine, history = asyncio.run(
            _replay(settings, rules, path, out, broker=bool(args.broker), until=args.until)
        )
    except (KafkaError, TimeoutError) as error:
        print(f"ccpulse replay: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"ccpulse replay: {error}", file=sys.stderr)
        return 2
    _account(engine, out, args.broker)
    if args.until is not None and engine.clock.now() > args.until:
        _say(
            f"note: --until {args.until.isoformat()} is before the moment the replay had "
            "already judged up to (the newest event less the lateness)"
        )
    if args.report is not None:
        report = history.report(answers_of(engine.registry), engine.clock.now())
        text = csv_text(report) if args.report.endswith(".csv") else markdown(report)
        if args.report == STDOUT:
            sys.stdout.write(text)
        else:
            Path(args.report).write_text(text)
    return 0


async def _replay(
    settings: Settings,
    rules: Rules,
    path: Path,
    out: Path | None,
    *,
    broker: bool,
    until: datetime | None,
) -> tuple[Replay, History]:
    topics = derived_topics(settings)
    history = History(settings)
    outputs: list[Publish] = [history]
    async with contextlib.AsyncExitStack() as stack:
        if out is not None:
            files = FileSink(out, topics)
            stack.callback(files.close)
            outputs.append(files)
        kafka: KafkaSink | None = None
        if broker:
            kafka = await stack.enter_async_context(KafkaSink(settings, topics))
            outputs.append(kafka)
        engine = Replay(settings, rules, _fan_out(outputs), source_name=path.name)
        progress = Progress(count_lines(path), sys.stderr)
        for batch in batches(read_lines(path), settings.batch_size):
            engine.feed(batch)
            progress.advance(len(batch))
            if kafka is not None and kafka.full:
                await kafka.flush()
        engine.finish(until)
        progress.finish()
    if out is not None:
        (out / METRICS_FILE).write_bytes(generate_latest(engine.registry))
    return engine, history


def _fan_out(outputs: list[Publish]) -> Publish:
    def publish(topic: str, key: bytes | None, value: bytes) -> None:
        for output in outputs:
            output(topic, key, value)

    return publish


def _account(engine: Replay, out: Path | None, broker: str | None) -> None:
    consumed = rejected = 0.0
    reasons: dict[str, float] = {}
    for family in engine.registry.collect():
        for sample in family.samples:
            if sample.name == "ccpulse_events_consumed_total":
                consumed += sample.value
            elif sample.name == "ccpulse_events_rejected_total" and sample.value:
                rejected += sample.value
                reason = sample.labels["reason"]
                reasons[reason] = reasons.get(reason, 0) + sample.value
    why = ", ".join(f"{reason} {count:.0f}" for reason, count in sorted(reasons.items()))
    _say(
        f"replayed {engine.lines:,} lines: {consumed:,.0f} events, {rejected:,.0f} "
        f"dead-lettered{f' ({why})' if why else ''}; clock ended at "
        f"{engine.clock.now().isoformat()}"
    )
    if out is not None:
        _say(f"derived topics and {METRICS_FILE} in {out}/")
    if broker:
        _say(f"derived topics produced to {broker}")


def _say(text: str) -> None:
    print(text, file=sys.stderr)
