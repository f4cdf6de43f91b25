"""The worker's liveness and readiness, decided from what it has observed.

``Health`` is a frozen value: the worker's phase, what the last probe of the Kafka cluster
found, and a failure that is taking the process down. Observations are pure functions
``(health, observation) -> health``; ``readiness`` and ``liveness`` turn a health into a
``Verdict`` with a short reason, which is what /readyz and /healthz answer. ``news`` says
which change of the broker's state deserves one log line. ``HealthBoard`` holds the
current value for the threads that observe (the broker watch, the Faust sensor) and those
that read (/healthz, /readyz, /metrics).

Ready means: the broker answers, every topic the worker reads and writes exists, the
consumer group is joined with its partitions assigned (possibly none) and the tables are
recovered. Alive means: not failed, and not cut off from the broker for longer than
``unhealthy_after_s`` after the start; waiting for the broker at start is alive.

It deliberately does no I/O and reads no clock of its own (times are passed in, the board
is given a clock), and it does not decide what the process does about a failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from processor.metrics.gauges import WorkerStatus


class Phase(StrEnum):
    """Where the worker is in its life; the value is the reason /readyz gives."""

    WAITING_FOR_BROKER = "waiting for the Kafka broker"
    CREATING_TOPICS = "creating topics"
    JOINING_GROUP = "joining the consumer group"
    RECOVERING_TABLES = "recovering tables"
    RUNNING = "running"
    STOPPING = "shutting down"


@dataclass(frozen=True, slots=True)
class Health:
    broker: str
    """The bootstrap servers, as messages name them."""
    phase: Phase = Phase.WAITING_FOR_BROKER
    connected: bool = False
    last_answer: float | None = None
    outage_since: float | None = None
    """The last answer before the broker stopped answering (the first failed probe when
    it never answered)."""
    error: str = ""
    """Why the last probe failed."""
    missing_topics: tuple[str, ...] = ()
    failure: str | None = None
    """Why the process is going down: it is then neither alive nor ready."""


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str


def answered(health: Health, now: float, missing_topics: Iterable[str] = ()) -> Health:
    """The broker answered a probe; ``missing_topics`` are required ones it does not have."""
    return replace(
        health,
        connected=True,
        last_answer=now,
        outage_since=None,
        error="",
        missing_topics=tuple(sorted(missing_topics)),
    )


def unanswered(health: Health, now: float, error: str) -> Health:
    outage_since = health.outage_since
    if outage_since is None:  # a probe that timed out began well before ``now``
        outage_since = health.last_answer if health.last_answer is not None else now
    return replace(health, connected=False, outage_since=outage_since, error=error)


def entered(health: Health, phase: Phase) -> Health:
    return replace(health, phase=phase)


def failed(health: Health, reason: str) -> Health:
    """The first failure is the one reported: later ones are its consequences."""
    return health if health.failure is not None else replace(health, failure=reason)


def observed_app(health: Health, state: str, crash: BaseException | None) -> Health:
    """Fold in the Faust app's state (mode's ``Service.state``: init, running, crashed...)."""
    if state == "crashed":
        return failed(health, f"the Faust worker crashed: {crash!r}")
    if state in ("stopping", "shutdown"):
        return entered(health, Phase.STOPPING)
    return health


def readiness(health: Health, now: float) -> Verdict:
    if health.failure is not None:
        return Verdict(ok=False, reason=health.failure)
    if health.phase is Phase.WAITING_FOR_BROKER:
        return Verdict(ok=False, reason=_waiting(health))
    if not health.connected:
        return Verdict(ok=False, reason=_unreachable(health, now))
    if health.phase is not Phase.RUNNING:
        return Verdict(ok=False, reason=health.phase.value)
    if health.missing_topics:
        return Verdict(
            ok=False, reason="topics missing on the broker: " + ", ".join(health.missing_topics)
        )
    return Verdict(ok=True, reason="ready")


def liveness(health: Health, now: float, unhealthy_after_s: float) -> Verdict:
    if health.failure is not None:
        return Verdict(ok=False, reason=health.failure)
    if health.phase is Phase.WAITING_FOR_BROKER:
        return Verdict(ok=True, reason=_waiting(health))
    cut_off_s = _outage_s(health, now)
    if cut_off_s is not None and cut_off_s > unhealthy_after_s:
        return Verdict(
            ok=False,
            reason=f"{_unreachable(health, now)}, longer than the {unhealthy_after_s:g} s allowed",
        )
    return Verdict(ok=True, reason=f"alive: {health.phase.value}")


def news(before: Health, after: Health, now: float) -> str | None:
    """The one log line a change of the broker's state deserves, if any."""
    at = f"the Kafka broker at {after.broker}"
    if after.connected and not before.connected:
        again = "" if before.phase is Phase.WAITING_FOR_BROKER else " again"
        waited = "" if before.outage_since is None else f" after {now - before.outage_since:.0f} s"
        return f"{at} answers{again}{waited}"
    if not after.connected and (before.connected or before.outage_since is None):
        if after.phase is Phase.WAITING_FOR_BROKER:
            return f"waiting for {at} ({after.error})"
        return f"lost {at} ({after.error}); not ready until it answers again"
    # Before it runs, Faust is still creating its internal topics.
    running = after.phase is Phase.RUNNING
    if running and after.missing_topics and after.missing_topics != before.missing_topics:
        return "topics missing on the broker: " + ", ".join(after.missing_topics)
    return None


def _waiting(health: Health) -> str:
    reason = f"{Phase.WAITING_FOR_BROKER.value} at {health.broker}"
    return f"{reason} ({health.error})" if health.error else reason


def _outage_s(health: Health, now: float) -> float | None:
    if health.connected or health.outage_since is None:
        return None
    return max(0.0, now - health.outage_since)


def _unreachable(health: Health, now: float) -> str:
    return (
        f"the Kafka broker at {health.broker} has not answered for "
        f"{_outage_s(health, now) or 0.0:.0f} s ({health.error})"
    )


AppState = Callable[[], tuple[str, BaseException | None]]
"""The Faust app's state and crash reason, read when health is asked for."""


class HealthBoard:
    """The current ``Health``, shared by threads; verdicts are taken at the board's clock."""

    def __init__(self, broker: str, unhealthy_after_s: float, clock: Callable[[], float]) -> None:
        self._health = Health(broker=broker)
        self._unhealthy_after_s = unhealthy_after_s
        self._clock = clock
        self._changed = threading.Condition()
        self._app_state: AppState | None = None

    def now(self) -> float:
        return self._clock()

    def apply(self, change: Callable[[Health], Health]) -> tuple[Health, Health]:
        """Apply ``change``; returns the health before and after it."""
        with self._changed:
            before = self._health
            self._health = change(before)
            self._changed.notify_all()
            return before, self._health

    def watch_app(self, state: AppState) -> None:
        self._app_state = state

    def current(self) -> Health:
        with self._changed:
            health = self._health
        if self._app_state is not None:
            health = observed_app(health, *self._app_state())
        return health

    def readiness(self) -> Verdict:
        return readiness(self.current(), self._clock())

    def liveness(self) -> Verdict:
        return liveness(self.current(), self._clock(), self._unhealthy_after_s)

    def status(self) -> WorkerStatus:
        health = self.current()
        return WorkerStatus(
            ready=readiness(health, self._clock()).ok, broker_connected=health.connected
        )

    def wait_until_connected(self, timeout_s: float) -> bool:
        """Block until the broker answers a probe; False after ``timeout_s``."""
        with self._changed:
            return self._changed.wait_for(lambda: self._health.connected, timeout_s)
