"""A replay of a history gives exactly what a live worker gave for the same events.

A scripted half minute of a contact center (chats, calls, emails, social, SMS and a
helpdesk ticket; SLA targets of a few seconds, met, warned and breached; customers who
come back within the repeat windows; FCR verdicts both ways) is produced live, in real
time, to a real ``ccpulse worker`` on the wall clock. The same events, reordered within
the lateness, are then replayed by ``ccpulse replay`` to other topics on the same broker.
The scenario (``parity_scenario``) keeps every verdict clear of the live worker's
delivery delay, and no deadline or window falls between the replay's ``--until`` and the
moment the live outputs are read.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from processor.config import Settings, SlaSettings, settings_env
from processor.events import source_of
from tests.integration.parity_scenario import (
    FCR_NEGATIVE,
    LAST_DEADLINE_S,
    POLICIES,
    REPEAT,
    REPEATS,
    TICKETS,
    history,
    warm_up,
)
from tests.integration.support import WorkerProcess, last_per_key, read_topic

pytestmark = pytest.mark.integration

LATENESS_S = 3.0
UNTIL_S = LAST_DEADLINE_S + 2
READ_AT_S = LAST_DEADLINE_S + 6  # past it, and a Faust commit later
PARTITIONS = 4


async def _produce_paced(settings: Settings, events: Iterable[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        for event in events:
            await asyncio.sleep(max(0.0, _moment(event) - time.time()))
            topic = settings.topics.source(source_of(event["type"]))
            await producer.send_and_wait(topic, orjson.dumps(event), key=event["event_id"].encode())
    finally:
        await producer.stop()


Samples = dict[tuple[str, Any], float]


def live_outputs(
    settings: Settings, tmp_path: Path
) -> tuple[dict[str, Any], Samples, list[dict[str, Any]]]:
    """The live worker's outputs, its /metrics, and every event it was sent."""
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        warm = warm_up(time.time())
        asyncio.run(_produce_paced(settings, [warm]))
        worker.wait_for(lambda w: w.total("ccpulse_events_consumed_total") >= 1, what="warm-up")
        start = time.time() + 0.5
        events = history(start)
        asyncio.run(_produce_paced(settings, events))
        time.sleep(max(0.0, start + READ_AT_S - time.time()))
        outputs = read_outputs(settings)
        metrics = worker.scrape()
    finally:
        worker.stop()
    return {**outputs, "start": start}, metrics, [warm, *events]


def read_outputs(settings: Settings) -> dict[str, Any]:
    bootstrap, topics = settings.kafka.bootstrap_servers, settings.topics
    snapshots = read_topic(bootstrap, topics.ticket_metrics, PARTITIONS)
    sla = read_topic(bootstrap, topics.sla_events, PARTITIONS)
    repeats = read_topic(bootstrap, topics.repeat_contacts, PARTITIONS)
    return summary(snapshots, sla, repeats)


def summary(
    snapshots: list[tuple[bytes, bytes]],
    sla: list[tuple[bytes, bytes]],
    repeats: list[tuple[bytes, bytes]],
) -> dict[str, Any]:
    """Last snapshot per key, SLA events by id, the last repeat flag and the verdict per
    ticket, each with the key it was published under."""
    messages = [(key.decode(), orjson.loads(value)) for key, value in repeats]
    return {
        "snapshots": dict(last_per_key(snapshots)),
        "sla": {
            m["event_id"]: (key.decode(), m) for key, value in sla for m in [orjson.loads(value)]
        },
        "repeats": {
            m["ticket_id"]: (key, m["repeat_of"], m["windows"], m["gap_seconds"])
            for key, m in messages
            if m["type"] == "repeat_contact"
        },
        "verdicts": {m["ticket_id"]: (key, m) for key, m in messages if m["type"] == "fcr_verdict"},
    }


COUNTERS = (
    "ccpulse_tickets_created_total",
    "ccpulse_tickets_resolved_total",
    "ccpulse_sla_met_total",
    "ccpulse_sla_breaches_total",
    "ccpulse_sla_warnings_total",
    "ccpulse_repeat_contacts_total",
    "ccpulse_fcr_verdicts_total",
    "ccpulse_first_response_seconds_count",
    "ccpulse_events_consumed_total",
)


def _moment(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["occurred_at"]).timestamp()


def counters(samples: Samples) -> Samples:
    return {key: value for key, value in samples.items() if key[0] in COUNTERS and value}


def test_a_replay_of_a_live_history_gives_the_same_outputs_and_counters(
    make_settings: Callable[[], Settings], tmp_path: Path
) -> None:
    policy_file = tmp_path / "sla.yaml"
    policy_file.write_text(POLICIES)
    sla = SlaSettings(policy_file=str(policy_file), check_interval_s=0.25)
    live_settings = make_settings().model_copy(update={"sla": sla, "repeat": REPEAT})
    live, live_metrics, events = live_outputs(live_settings, tmp_path)

    # The replay: reordered within the lateness, in small batches so the order matters.
    shuffle = random.Random(7)
    jitter = {e["event_id"]: shuffle.uniform(0, LATENESS_S * 0.95) for e in events}
    moved = sorted(events, key=lambda e: _moment(e) + jitter[e["event_id"]])
    assert moved != events
    history_file = tmp_path / "history.jsonl"
    history_file.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in moved))
    replay_settings = make_settings().model_copy(
        update={"sla": sla, "repeat": REPEAT, "batch_size": 4}
    )
    out = tmp_path / "replay"
    until = datetime.fromtimestamp(live["start"] + UNTIL_S, UTC).isoformat()
    bootstrap = replay_settings.kafka.bootstrap_servers
    done = subprocess.run(
        [
            *(sys.executable, "-m", "processor", "replay", str(history_file)),
            *("--broker", bootstrap, "--out", str(out), "--until", until),
            *("--lateness", f"{LATENESS_S:g}s"),
        ],
        env={**os.environ, **settings_env(replay_settings)},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    replayed = read_outputs(replay_settings)

    # The scenario did what it was written for (else parity would prove little).
    kinds = [m["kind"] for _, m in live["sla"].values()]
    assert (kinds.count("breached"), kinds.count("warning")) == (9, 18), kinds
    assert kinds.count("met") >= 20
    assert {t: (of, w) for t, (_, of, w, _) in live["repeats"].items()} == REPEATS
    assert {t for t, (_, m) in live["verdicts"].items() if not m["fcr"]} == FCR_NEGATIVE
    assert len(live["verdicts"]) == 22
    assert len(live["snapshots"]) == len(TICKETS) + 1  # and the warm-up

    assert replayed["snapshots"] == live["snapshots"]
    assert replayed["sla"] == live["sla"]
    assert replayed["repeats"] == live["repeats"]
    assert replayed["verdicts"] == live["verdicts"]
    replay_metrics = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families((out / "metrics.prom").read_text())
        for sample in family.samples
    }
    assert counters(replay_metrics) == counters(live_metrics)
    # The files hold what went to Kafka.
    lines = (out / f"{replay_settings.topics.ticket_metrics}.jsonl").read_bytes().splitlines()
    on_file = {line["key"]: line["value"] for line in map(orjson.loads, lines)}
    assert on_file == replayed["snapshots"]
