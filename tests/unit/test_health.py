"""The worker's health: readiness and liveness verdicts, the log lines a broker outage
deserves, the /metrics, /healthz and /readyz endpoint, and the pieces of the worker that
feed them (probe backoff, the rebalance sensor, the filter on repeated client warnings)."""

from __future__ import annotations

import itertools
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from processor.config import Settings
from processor.kafka import retry_delays
from processor.metrics import Metrics
from processor.metrics.gauges import WorkerStatus
from processor.open_tickets import OpenTickets
from processor.shell.health import (
    Health,
    HealthBoard,
    Phase,
    Verdict,
    answered,
    entered,
    failed,
    liveness,
    news,
    observed_app,
    readiness,
    unanswered,
)
from processor.shell.http import serve
from processor.shell.worker import GroupSensor, RepeatedWarnings

BROKER = "kafka-1:9092"
LIMIT_S = 30.0
WAITING = Health(broker=BROKER)
RUNNING = entered(answered(WAITING, now=0.0), Phase.RUNNING)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_worker_waiting_for_its_broker_at_start_is_alive_but_not_ready() -> None:
    waiting = unanswered(WAITING, now=0.0, error="connection failed")
    long_after = LIMIT_S * 10
    assert liveness(waiting, long_after, LIMIT_S).ok
    verdict = readiness(waiting, long_after)
    assert not verdict.ok
    assert verdict.reason == f"waiting for the Kafka broker at {BROKER} (connection failed)"


def test_readiness_names_each_step_until_the_tables_are_recovered() -> None:
    health = answered(WAITING, now=0.0)
    reasons = []
    for phase in (Phase.CREATING_TOPICS, Phase.JOINING_GROUP, Phase.RECOVERING_TABLES):
        health = entered(health, phase)
        reasons.append(readiness(health, 0.0))
        assert liveness(health, 0.0, LIMIT_S).ok
    assert [(v.ok, v.reason) for v in reasons] == [
        (False, "creating topics"),
        (False, "joining the consumer group"),
        (False, "recovering tables"),
    ]
    assert readiness(entered(health, Phase.RUNNING), 0.0) == Verdict(ok=True, reason="ready")


def test_a_broker_lost_mid_run_means_unready_at_once_and_unhealthy_after_the_limit() -> None:
    seen = answered(RUNNING, now=100.0)
    lost = unanswered(seen, now=105.0, error="no answer in time")  # asked at 100 at the latest
    lost = unanswered(lost, now=110.0, error="connection failed")

    soon = readiness(lost, 106.0)
    assert not soon.ok
    assert soon.reason.startswith(f"the Kafka broker at {BROKER} has not answered for 6 s")
    assert liveness(lost, 100.0 + LIMIT_S, LIMIT_S).ok
    late = liveness(lost, 100.0 + LIMIT_S + 1, LIMIT_S)
    assert not late.ok
    assert "has not answered for 31 s (connection failed)" in late.reason
    assert "longer than the 30 s allowed" in late.reason


def test_a_broker_that_answers_again_makes_the_worker_ready_and_healthy_again() -> None:
    lost = unanswered(RUNNING, now=100.0, error="connection failed")
    back = answered(lost, now=120.0)
    much_later = 100.0 + LIMIT_S * 10
    assert readiness(back, much_later).ok
    assert liveness(back, much_later, LIMIT_S).ok


def test_missing_topics_make_a_running_worker_not_ready_but_not_unhealthy() -> None:
    health = answered(RUNNING, 0.0, ["cc.tickets", "cc.calls"])
    verdict = readiness(health, 0.0)
    assert verdict == Verdict(ok=False, reason="topics missing on the broker: cc.calls, cc.tickets")
    assert liveness(health, 0.0, LIMIT_S).ok


def test_a_failure_makes_the_worker_neither_alive_nor_ready_and_the_first_reason_stays() -> None:
    health = failed(failed(RUNNING, "the cluster lost the group"), "a consequence")
    health = entered(health, Phase.RUNNING)
    assert readiness(health, 0.0) == Verdict(ok=False, reason="the cluster lost the group")
    assert liveness(health, 0.0, LIMIT_S) == Verdict(ok=False, reason="the cluster lost the group")


def test_a_crashed_faust_app_is_a_failure_and_a_stopping_one_is_not_ready() -> None:
    crashed = observed_app(RUNNING, "crashed", RuntimeError("boom"))
    assert liveness(crashed, 0.0, LIMIT_S) == Verdict(
        ok=False, reason="the Faust worker crashed: RuntimeError('boom')"
    )
    stopping = observed_app(RUNNING, "stopping", None)
    assert readiness(stopping, 0.0) == Verdict(ok=False, reason="shutting down")
    assert liveness(stopping, 0.0, LIMIT_S).ok
    assert observed_app(RUNNING, "running", None) == RUNNING


def test_a_broker_outage_is_logged_once_when_it_starts_and_once_when_it_ends() -> None:
    lines: list[str | None] = []
    health, now = WAITING, 0.0
    steps: list[Callable[[Health], Health]] = [
        lambda h: unanswered(h, now, "connection failed"),
        lambda h: unanswered(h, now, "connection failed"),
        lambda h: answered(h, now),
        lambda h: entered(h, Phase.RUNNING),
        lambda h: answered(h, now),
        lambda h: unanswered(h, now, "no answer in time"),
        lambda h: unanswered(h, now, "connection failed"),
        lambda h: answered(h, now),
    ]
    for step in steps:
        now += 4.0
        before, health = health, step(health)
        lines.append(news(before, health, now))
    assert [line for line in lines if line] == [
        f"waiting for the Kafka broker at {BROKER} (connection failed)",
        f"the Kafka broker at {BROKER} answers after 8 s",
        f"lost the Kafka broker at {BROKER} (no answer in time); not ready until it answers again",
        f"the Kafka broker at {BROKER} answers again after 12 s",
    ]


def test_missing_topics_are_logged_once_the_worker_runs() -> None:
    joining = entered(answered(WAITING, 0.0), Phase.JOINING_GROUP)
    assert news(joining, answered(joining, 0.0, ["app-tickets-changelog"]), 0.0) is None
    missing = answered(RUNNING, 0.0, ["cc.calls"])
    assert news(RUNNING, missing, 0.0) == "topics missing on the broker: cc.calls"
    assert news(missing, answered(missing, 2.0, ["cc.calls"]), 2.0) is None


def test_the_board_wakes_a_waiter_when_the_broker_answers_and_reports_its_status() -> None:
    board = HealthBoard(BROKER, LIMIT_S, clock=FakeClock())
    assert not board.wait_until_connected(0.01)
    assert board.status() == WorkerStatus(ready=False, broker_connected=False)

    def answer_soon() -> None:
        board.apply(lambda health: answered(health, 0.0))

    timer = threading.Timer(0.05, answer_soon)
    timer.start()
    assert board.wait_until_connected(10.0)
    timer.join()
    assert board.status() == WorkerStatus(ready=False, broker_connected=True)
    board.apply(lambda health: entered(health, Phase.RUNNING))
    assert board.status() == WorkerStatus(ready=True, broker_connected=True)


def test_the_board_reads_the_faust_app_state_when_asked() -> None:
    board = HealthBoard(BROKER, LIMIT_S, clock=FakeClock())
    board.apply(lambda health: entered(answered(health, 0.0), Phase.RUNNING))
    state: list[tuple[str, BaseException | None]] = [("running", None)]
    board.watch_app(lambda: state[-1])
    assert board.liveness().ok
    state.append(("crashed", ValueError("bad")))
    assert board.liveness() == Verdict(
        ok=False, reason="the Faust worker crashed: ValueError('bad')"
    )


@dataclass
class Endpoint:
    url: str
    board: HealthBoard
    clock: FakeClock

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def gauges(self) -> dict[str, float]:
        _, text = self.get("/metrics")
        return {
            sample.name: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name in ("ccpulse_worker_ready", "ccpulse_broker_connected")
        }


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    clock = FakeClock()
    board = HealthBoard(BROKER, LIMIT_S, clock=clock)
    registry = CollectorRegistry()
    metrics = Metrics(registry, OpenTickets(), lambda: 0.0)
    metrics.status.source = board.status
    server = serve("127.0.0.1", 0, registry, board)
    yield Endpoint(f"http://127.0.0.1:{server.server_port}", board, clock)
    server.shutdown()
    server.server_close()


def test_one_port_serves_metrics_and_health_while_the_worker_waits(endpoint: Endpoint) -> None:
    endpoint.board.apply(lambda health: unanswered(health, endpoint.clock(), "connection failed"))
    waiting = f"waiting for the Kafka broker at {BROKER} (connection failed)\n"
    assert endpoint.get("/healthz") == (200, waiting)
    assert endpoint.get("/readyz") == (503, waiting)
    assert endpoint.gauges() == {"ccpulse_worker_ready": 0.0, "ccpulse_broker_connected": 0.0}
    _, text = endpoint.get("/metrics")
    assert "ccpulse_events_consumed_total" in text


def test_a_running_worker_is_ready_and_the_gauges_say_so(endpoint: Endpoint) -> None:
    now = endpoint.clock()
    endpoint.board.apply(lambda health: entered(answered(health, now), Phase.RUNNING))
    assert endpoint.get("/readyz") == (200, "ready\n")
    assert endpoint.get("/healthz") == (200, "alive: running\n")
    assert endpoint.gauges() == {"ccpulse_worker_ready": 1.0, "ccpulse_broker_connected": 1.0}


def test_healthz_turns_503_when_the_broker_is_gone_longer_than_allowed(endpoint: Endpoint) -> None:
    now = endpoint.clock()
    endpoint.board.apply(lambda health: entered(answered(health, now), Phase.RUNNING))
    endpoint.board.apply(lambda health: unanswered(health, endpoint.clock(), "connection failed"))
    assert endpoint.get("/healthz")[0] == 200
    status, reason = endpoint.get("/readyz")
    assert status == 503
    assert reason.startswith(f"the Kafka broker at {BROKER} has not answered for 0 s")
    assert endpoint.gauges() == {"ccpulse_worker_ready": 0.0, "ccpulse_broker_connected": 0.0}
    endpoint.clock.now += LIMIT_S + 1
    status, reason = endpoint.get("/healthz")
    assert status == 503
    assert "has not answered for 31 s" in reason


def test_other_paths_are_not_found(endpoint: Endpoint) -> None:
    assert endpoint.get("/")[0] == 404
    assert endpoint.get("/healthz/extra")[0] == 404


def test_probes_back_off_from_half_a_second_to_ten_seconds() -> None:
    assert list(itertools.islice(retry_delays(), 8)) == [0.5, 1, 2, 4, 8, 10, 10, 10]


@dataclass
class FakeApp:
    consumer_generation_id: int = 0


def test_rebalances_walk_the_phases_and_a_generation_going_back_stops_the_worker() -> None:
    board = HealthBoard(BROKER, LIMIT_S, clock=FakeClock())
    board.apply(lambda health: answered(health, 0.0))
    stops: list[bool] = []
    sensor = GroupSensor(board, Settings(app_id="ccpulse"), stop=lambda: stops.append(True))
    app = cast(Any, FakeApp())

    def rebalance(generation: int) -> list[Phase]:
        phases = []
        state = sensor.on_rebalance_start(app)
        phases.append(board.current().phase)
        app.consumer_generation_id = generation
        sensor.on_rebalance_return(app, state)
        phases.append(board.current().phase)
        sensor.on_rebalance_end(app, state)
        phases.append(board.current().phase)
        return phases

    expected = [Phase.JOINING_GROUP, Phase.RECOVERING_TABLES, Phase.RUNNING]
    assert rebalance(generation=3) == expected
    assert rebalance(generation=4) == expected
    assert board.readiness().ok
    assert stops == []

    rebalance(generation=0)  # the cluster forgot the group: it restarted without its data
    assert stops == [True]
    assert sensor.lost is not None
    assert "lost the state of consumer group 'ccpulse' (generation 0 after 4)" in sensor.lost
    assert board.liveness() == Verdict(ok=False, reason=sensor.lost)
    assert not board.readiness().ok


def record(message: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("aiokafka.client", level, __file__, 1, message, ("node-1",), None)


def test_a_repeated_client_error_is_logged_once_a_minute_with_the_count_of_the_rest() -> None:
    clock = FakeClock(0.0)
    repeated = RepeatedWarnings(interval_s=60.0, clock=clock)
    shown = []
    for second in range(0, 130, 1):
        clock.now = float(second)
        entry = record("Unable connect to node %s")
        if repeated.filter(entry):
            shown.append((second, entry.getMessage()))
    assert shown == [
        (0, "Unable connect to node node-1"),
        (60, "Unable connect to node node-1 [and 59 more like it in 60 s]"),
        (120, "Unable connect to node node-1 [and 59 more like it in 60 s]"),
    ]


def test_other_client_messages_and_informational_ones_are_not_held_back() -> None:
    repeated = RepeatedWarnings(interval_s=60.0, clock=FakeClock(0.0))
    assert repeated.filter(record("Unable connect to node %s"))
    assert repeated.filter(record("Failed fetch messages from %s"))
    assert all(repeated.filter(record("Joined group %s", logging.INFO)) for _ in range(3))
