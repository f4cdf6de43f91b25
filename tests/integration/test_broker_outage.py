"""Real workers against a real embedded broker that is late, goes away, hangs or comes back.

- Started before its broker: /healthz 200, /readyz 503 with the reason, one log line;
  processing starts by itself once a broker answers on that port.
- Never answered: exit 69 after ``broker_wait_s`` with one clear line and no traceback.
- Broker gone mid-run: not ready within seconds, idle (CPU measured over 10 s), unhealthy
  after ``unhealthy_after_s``, alive. The embedded broker keeps everything in memory, so
  one started again on the same port has no topics, offsets or group: the worker notices
  that the group's state is gone and exits 75; restarted, as a supervisor does, it
  creates the topics again and processes what is produced then.
- Broker hung (SIGSTOP: connections open, no answers) and resumed with its data: the same
  worker process is unready meanwhile and carries on afterwards.
- Asked to stop while its broker is gone: it stops, exit 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from processor.broker import EmbeddedBroker
from processor.config import KafkaSettings, Settings, TopicSettings
from tests.integration.conftest import PARTITIONS, SESSION_TIMEOUT_S
from tests.integration.support import WorkerProcess, free_port, produce

pytestmark = pytest.mark.integration

EX_UNAVAILABLE, EX_TEMPFAIL = 69, 75
CONSUMED = "ccpulse_events_consumed_total"
CREATED = {"source": "tickets", "type": "ticket.created"}
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def outage_settings(tmp_path: Path, port: int, **overrides: Any) -> Settings:
    """Settings of a worker alone on its own broker at ``127.0.0.1:port``."""
    run = uuid.uuid4().hex[:10]
    topic_names = {
        field: f"t-{run}.{default}"
        for field, default in TopicSettings().model_dump().items()
        if isinstance(default, str)
    }
    return Settings(
        app_id=f"t-{run}",
        kafka=KafkaSettings(
            bootstrap_servers=f"127.0.0.1:{port}", session_timeout_s=SESSION_TIMEOUT_S
        ),
        topics=TopicSettings(**topic_names, partitions=PARTITIONS),
        metrics_port=free_port(),
        data_dir=str(tmp_path / run),
        **overrides,
    )


def tickets(settings: Settings, numbers: range) -> list[tuple[str, bytes, dict[str, Any]]]:
    return [
        (
            settings.topics.tickets,
            f"T{n}".encode(),
            {
                "type": "ticket.created",
                "event_id": f"T{n}-created",
                "occurred_at": (T0 + timedelta(seconds=n)).isoformat(),
                "customer_id": f"c{n}",
                "ticket_id": f"T{n}",
                "channel": "email",
                "priority": "normal",
            },
        )
        for n in numbers
    ]


@contextlib.contextmanager
def running(worker: WorkerProcess) -> Iterator[WorkerProcess]:
    try:
        yield worker.start()
    finally:
        worker.stop()


def ready(worker: WorkerProcess) -> bool:
    return worker.endpoint("/readyz") == (200, "ready\n")


def not_ready(worker: WorkerProcess) -> bool:
    return worker.endpoint("/readyz")[0] == 503


def consumed(worker: WorkerProcess) -> float:
    return worker.value(CONSUMED, **CREATED)


def lines_with(worker: WorkerProcess, text: str) -> list[str]:
    return [line for line in worker.log_path.read_text().splitlines() if text in line]


def test_a_worker_started_before_its_broker_serves_health_and_starts_when_one_answers(
    tmp_path: Path,
) -> None:
    port = free_port()
    settings = outage_settings(tmp_path, port)
    waiting = f"waiting for the Kafka broker at 127.0.0.1:{port}"
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    broker = EmbeddedBroker(port=port)
    try:
        worker.start().wait_for(not_ready, timeout=30, what="/readyz to answer")
        time.sleep(4)  # several retries
        status, reason = worker.endpoint("/readyz")
        assert status == 503
        assert reason.startswith(waiting)
        status, reason = worker.endpoint("/healthz")
        assert status == 200
        assert reason.startswith(waiting)
        assert worker.value("ccpulse_broker_connected") == 0
        assert worker.value("ccpulse_worker_ready") == 0
        assert len(lines_with(worker, waiting)) == 1

        broker.start()
        worker.wait_for(ready, timeout=60, what="/readyz 200")
        assert worker.value("ccpulse_worker_ready") == 1
        assert worker.value("ccpulse_broker_connected") == 1
        produce(broker.bootstrap_servers, tickets(settings, range(5)))
        worker.wait_for(lambda w: consumed(w) == 5, timeout=30, what="5 tickets consumed")
    finally:
        worker.stop()
        broker.stop()


def test_a_worker_whose_broker_never_answers_exits_saying_so(tmp_path: Path) -> None:
    port = free_port()
    settings = outage_settings(tmp_path, port, broker_wait_s=3.0)
    with running(WorkerProcess(settings, tmp_path / "worker.log")) as worker:
        assert worker.wait_exit(30) == EX_UNAVAILABLE
    log = worker.log_path.read_text()
    assert len(lines_with(worker, f"waiting for the Kafka broker at 127.0.0.1:{port}")) == 1
    assert f"no Kafka broker answered at 127.0.0.1:{port} within 3 s" in log
    assert "Traceback" not in log


def test_a_broker_lost_mid_run_idles_the_worker_until_one_without_its_data_makes_it_exit(
    tmp_path: Path,
) -> None:
    port = free_port()
    settings = outage_settings(tmp_path, port, unhealthy_after_s=8.0)
    broker = EmbeddedBroker(port=port).start()
    try:
        with running(WorkerProcess(settings, tmp_path / "worker.log")) as worker:
            worker.wait_for(ready, timeout=60, what="/readyz 200")
            produce(broker.bootstrap_servers, tickets(settings, range(5)))
            worker.wait_for(lambda w: consumed(w) == 5, timeout=30, what="5 tickets consumed")

            broker.stop()
            worker.wait_for(not_ready, timeout=15, what="/readyz 503")
            assert "has not answered for" in worker.endpoint("/readyz")[1]
            assert worker.value("ccpulse_broker_connected") == 0

            cpu_before, since = worker.cpu_seconds(), time.monotonic()
            time.sleep(10)
            share = (worker.cpu_seconds() - cpu_before) / (time.monotonic() - since)
            print(f"CPU while the broker is gone: {share:.1%} of one core")
            assert share < 0.5
            worker.wait_for(
                lambda w: w.endpoint("/healthz")[0] == 503, timeout=15, what="/healthz 503"
            )
            assert "longer than the 8 s allowed" in worker.endpoint("/healthz")[1]
            assert worker.alive()
            assert len(lines_with(worker, f"lost the Kafka broker at 127.0.0.1:{port}")) == 1

            broker = EmbeddedBroker(port=port).start()  # memory-only: nothing of the old one
            assert worker.wait_exit(60) == EX_TEMPFAIL
        log = worker.log_path.read_text()
        assert f"lost the state of consumer group {settings.app_id!r}" in log
        assert "Traceback" not in log

        with running(WorkerProcess(settings, tmp_path / "restarted.log")) as restarted:
            restarted.wait_for(ready, timeout=60, what="/readyz 200 after the restart")
            produce(broker.bootstrap_servers, tickets(settings, range(5, 8)))
            restarted.wait_for(lambda w: consumed(w) == 3, timeout=30, what="3 tickets consumed")
    finally:
        broker.stop()


def test_a_broker_that_hangs_and_resumes_has_the_same_worker_carry_on(tmp_path: Path) -> None:
    port = free_port()
    settings = outage_settings(tmp_path, port)
    broker = EmbeddedBroker(port=port).start()
    assert broker.pid is not None
    try:
        with running(WorkerProcess(settings, tmp_path / "worker.log")) as worker:
            worker.wait_for(ready, timeout=60, what="/readyz 200")
            produce(broker.bootstrap_servers, tickets(settings, range(5)))
            worker.wait_for(lambda w: consumed(w) == 5, timeout=30, what="5 tickets consumed")
            os.kill(broker.pid, signal.SIGSTOP)
            try:
                worker.wait_for(not_ready, timeout=20, what="/readyz 503")
                assert "no answer in time" in worker.endpoint("/readyz")[1]
                time.sleep(8)  # longer than the consumer's session timeout
                assert worker.endpoint("/healthz")[0] == 200
                assert not_ready(worker)
            finally:
                os.kill(broker.pid, signal.SIGCONT)
            worker.wait_for(ready, timeout=30, what="/readyz 200 again")
            produce(broker.bootstrap_servers, tickets(settings, range(5, 10)))
            worker.wait_for(lambda w: consumed(w) == 10, timeout=30, what="10 tickets consumed")
    finally:
        broker.stop()


def test_a_worker_asked_to_stop_while_its_broker_is_gone_stops(tmp_path: Path) -> None:
    port = free_port()
    settings = outage_settings(tmp_path, port)
    broker = EmbeddedBroker(port=port).start()
    try:
        with running(WorkerProcess(settings, tmp_path / "worker.log")) as worker:
            worker.wait_for(ready, timeout=60, what="/readyz 200")
            broker.stop()
            worker.wait_for(not_ready, timeout=15, what="/readyz 503")
            assert worker.process is not None
            worker.process.send_signal(signal.SIGTERM)
            assert worker.wait_exit(30) == 0
    finally:
        broker.stop()
