"""The two reference consumers ``throughput.py`` compares the ccpulse worker with.

Both read the same pre-produced source topics and keep the same minimal per-ticket
bookkeeping ccpulse's FRT and touch metrics rest on: the earliest inbound contact, the
earliest human response, and the set of touches.

- ``faust``: the naive Faust agent, one event at a time (``async for``), a pydantic parse
  of every event, a table read and a table write (with its changelog record) per event.
- ``ceiling``: a plain aiokafka ``getmany`` loop with orjson and a dict, no Faust and no
  changelog: what Python can do at best on this broker. ``ceiling-changelog`` adds one
  changelog record per ticket per batch (sent, then flushed once per batch), the least a
  durable state costs.

Each runs as its own process (``python benchmarks/baselines.py MODE ...``) and writes,
when it has taken in ``--expect`` messages, a JSON file with the wall time and its own
CPU seconds (from /proc/self/stat) at its first and at its last message. They do not
implement SLAs, repeat contacts, metrics or outputs: they are floors of the cost of the
shape of the computation, not alternative products.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import TypeAdapter, ValidationError

from processor.config import KafkaSettings
from processor.events import SourceEvent
from processor.kafka import faust_broker_options

PARTITIONS = 4
_EVENTS: TypeAdapter[Any] = TypeAdapter(SourceEvent)
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

INBOUND = {"call.queued", "email.received", "chat.started", "social.received"}
RESPONSES = {"call.answered", "call.outbound", "email.sent", "social.replied"}
TOUCH_FIELD = {
    "call.answered": "call_id",
    "call.outbound": "call_id",
    "email.sent": "message_id",
    "social.replied": "post_id",
    "chat.message": "session_id",
    "ticket.commented": "event_id",
}


def role(kind: str, get: Callable[[str], Any]) -> str | None:
    """``inbound``, ``response`` or None, by the same rules as ccpulse's facts."""
    if kind in INBOUND:
        return "inbound"
    if kind == "ticket.created":
        return "inbound" if get("opened_by") in (None, "customer") else None
    if kind in RESPONSES:
        return None if get("automated") else "response"
    if kind in ("chat.message", "ticket.commented"):
        if get("internal") or get("public") is False:
            return None
        author = get("author")
        return "inbound" if author == "customer" else "response" if author == "agent" else None
    return None


def bookkeep(state: list[Any], kind: str, at: float, get: Callable[[str], Any]) -> None:
    """state = [earliest inbound, earliest response, touch ids]."""
    found = role(kind, get)
    if found == "inbound":
        state[0] = at if state[0] is None else min(state[0], at)
    elif found == "response":
        state[1] = at if state[1] is None else min(state[1], at)
        touch = str(get(TOUCH_FIELD[kind]))
        if touch not in state[2]:
            state[2].append(touch)


def _cpu() -> float:
    stat = Path("/proc/self/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


class Progress:
    """Counts messages; writes the timing file when the expected number is reached."""

    def __init__(self, expect: int, out: Path) -> None:
        self.expect, self.out = expect, out
        self.count = 0
        self.first: tuple[float, float] | None = None

    def start(self) -> None:
        """The span starts now (by default: at the first message)."""
        self.first = (time.time(), _cpu())

    def taken(self, messages: int = 1) -> bool:
        if self.first is None:
            self.start()
        self.count += messages
        if self.count < self.expect:
            return False
        assert self.first is not None
        first_wall, first_cpu = self.first
        result = {
            "messages": self.count,
            "first_wall": first_wall,
            "last_wall": time.time(),
            "first_cpu": first_cpu,
            "last_cpu": _cpu(),
        }
        self.out.write_bytes(orjson.dumps(result))
        return True


def run_faust(args: argparse.Namespace) -> None:
    import faust

    kafka = KafkaSettings(bootstrap_servers=args.bootstrap, session_timeout_s=6.0)
    app = faust.App(
        f"naive-{os.getpid()}",
        **faust_broker_options(kafka),
        store="memory://",
        datadir=args.data_dir,
        topic_partitions=PARTITIONS,
        web_enabled=False,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
    )
    sources = app.topic(*args.topics.split(","), key_type=bytes, value_type=bytes)
    tickets = app.Table("tickets", partitions=PARTITIONS, key_type=bytes, value_type=bytes)
    progress = Progress(args.expect, Path(args.out))

    @app.agent(sources, concurrency=1)
    async def naive(stream: Any) -> None:
        async for event in stream.events():
            try:
                parsed = _EVENTS.validate_json(event.value)
            except ValidationError:
                progress.taken()
                continue
            stored = tickets.get(event.key)
            state = orjson.loads(stored) if stored is not None else [None, None, []]
            at = parsed.occurred_at.timestamp()
            bookkeep(state, parsed.type, at, vars(parsed).get)
            tickets[event.key] = orjson.dumps(state)
            progress.taken()

    faust.Worker(app, loglevel="WARNING", redirect_stdouts=False).execute_from_commandline()


async def run_ceiling(args: argparse.Namespace, changelog: bool) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 << 20,
    )
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, enable_idempotence=False)
    await consumer.start()
    await producer.start()
    progress = Progress(args.expect, Path(args.out))
    try:
        tps = [TopicPartition(t, p) for t in args.topics.split(",") for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        state: dict[bytes, list[Any]] = {}
        done = False
        progress.start()
        while not done:
            batch = await consumer.getmany(timeout_ms=100, max_records=5000)
            touched: set[bytes] = set()
            for messages in batch.values():
                for message in messages:
                    try:
                        body = orjson.loads(message.value)
                        at = datetime.fromisoformat(body["occurred_at"]).timestamp()
                        kind = body["type"]
                    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                        continue
                    key = message.key
                    ticket = state.get(key)
                    if ticket is None:
                        ticket = state[key] = [None, None, []]
                    bookkeep(ticket, kind, at, body.get)
                    touched.add(key)
                done = progress.taken(len(messages)) or done
            if changelog and touched:
                for key in touched:
                    await producer.send(args.changelog, key=key, value=orjson.dumps(state[key]))
                await producer.flush()
    finally:
        await producer.stop()
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("faust", "ceiling", "ceiling-changelog"))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topics", required=True, help="comma-separated source topics")
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--data-dir", default="/tmp/ccpulse-naive")
    parser.add_argument("--changelog", default="", help="ceiling-changelog: the topic")
    args = parser.parse_args()
    if args.mode == "faust":
        run_faust(args)
    else:
        asyncio.run(run_ceiling(args, changelog=args.mode == "ceiling-changelog"))


if __name__ == "__main__":
    main()
