"""SLA timers of one ticket, and the audit events they produce up to a given moment.

A ticket runs up to three kinds of timer, each against the target its policy sets:

- ``first_response``: from the first inbound contact to the first human response.
- ``next_response``: one per later exchange, from the first customer message after an
  agent's response to the next agent response (cycles 1, 2, ...).
- ``resolution``: from the moment the ticket opened to its resolution; the time a ticket
  spends resolved before a reopen does not count.

Response timers stop without a verdict when the ticket is resolved first. Every timer is
suspended while the ticket waits on the customer (``pending`` / ``on_hold``) and, with a
business calendar, counts business time only.

``due(clock, policy, now)`` lists every audit event that has happened by ``now`` (a wall
clock or an event-time watermark, passed in): applied, warning, breached, met, paused,
resumed. Each has an id that is stable for the ticket, so the shell emits exactly the ids
it has not emitted before. Everything here is a function of the ticket's facts, the
policy and ``now``: the same events give the same audit trail in any arrival order.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from processor.core.calendar import BusinessCalendar

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HORIZON = timedelta(days=3660)
_NO_TIME = timedelta(0)
WAITING_ON_CUSTOMER = frozenset({"pending", "on_hold"})
ABANDONED = "abandoned"
CLOSING = frozenset({"solved", "closed", ABANDONED})


class Target(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class SlaKind(StrEnum):
    APPLIED = "applied"
    WARNING = "warning"
    BREACHED = "breached"
    MET = "met"
    PAUSED = "paused"
    RESUMED = "resumed"


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    version: str
    targets: Mapping[Target, float]
    """Seconds of (business) time per target; a missing target is not measured."""
    warn_fractions: tuple[float, ...] = (0.8,)
    """Warn when this share of a target has elapsed."""
    warn_before_s: tuple[float, ...] = ()
    """Warn this many seconds before a breach."""
    calendar: BusinessCalendar | None = None
    """Business hours; ``None`` counts every hour of every day."""

    def levels(self, target: Target) -> tuple[float, ...]:
        """The warning ladder of a target as shares of it, ascending, each in (0, 1)."""
        seconds = self.targets[target]
        before = (1 - ahead / seconds for ahead in self.warn_before_s)
        return tuple(sorted({round(f, 6) for f in (*self.warn_fractions, *before) if 0 < f < 1}))


@dataclass(frozen=True, slots=True)
class TicketClock:
    """What the timers need from a ticket: event times in microseconds, sorted."""

    opened_at: int | None
    inbound: tuple[int, ...]
    responses: tuple[int, ...]
    statuses: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class Timer:
    target: Target
    cycle: int
    start: int
    stop: int | None
    """When the timer stopped: the answer / resolution, or the resolution that ended a
    response timer without a verdict (then ``verdict`` is False)."""
    verdict: bool = True


@dataclass(frozen=True, slots=True)
class SlaEvent:
    event_id: str
    """Stable per ticket: the same audit event always has the same id."""
    kind: SlaKind
    target: Target
    cycle: int
    at: datetime
    policy: str
    policy_version: str
    target_seconds: float
    deadline: datetime | None = None
    level: float | None = None
    business_elapsed_seconds: float = 0.0
    calendar_elapsed_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Running:
    """A running timer's warning and breach moments, for the at-risk and time-to-breach
    gauges (evaluated against the clock when they are read)."""

    target: Target
    warns_at: datetime | None
    breaches_at: datetime


def moment(at: int) -> datetime:
    return _EPOCH + timedelta(microseconds=at)


def timers(clock: TicketClock) -> list[Timer]:
    resolutions = [at for at, status in clock.statuses if status in CLOSING]
    found: list[Timer] = []
    if clock.inbound:
        start = clock.inbound[0]
        found.append(_response_timer(Target.FIRST_RESPONSE, 0, start, clock, resolutions))
        found.extend(_next_response_timers(clock, resolutions))
    if clock.opened_at is not None:
        closed_at = _closed_at(clock)
        # An abandoned call is closed, not resolved: its resolution timer has no verdict.
        resolved = clock.statuses[-1][1] != ABANDONED if closed_at is not None else True
        found.append(Timer(Target.RESOLUTION, 0, clock.opened_at, closed_at, verdict=resolved))
    return found


def _response_timer(
    target: Target, cycle: int, start: int, clock: TicketClock, resolutions: list[int]
) -> Timer:
    answer = next((at for at in clock.responses if at >= start), None)
    closed = next((at for at in resolutions if at >= start), None)
    if closed is not None and (answer is None or closed < answer):
        return Timer(target, cycle, start, closed, verdict=False)
    return Timer(target, cycle, start, answer)


def _next_response_timers(clock: TicketClock, resolutions: list[int]) -> Iterator[Timer]:
    first_answer = next((at for at in clock.responses if at >= clock.inbound[0]), None)
    if first_answer is None:
        return
    cycle, waiting = 0, False
    exchanges = sorted(
        [(at, 1) for at in clock.inbound if at > first_answer]
        + [(at, 0) for at in clock.responses if at > first_answer]
    )
    for at, inbound in exchanges:
        if inbound and not waiting:
            cycle += 1
            waiting = True
            yield _response_timer(Target.NEXT_RESPONSE, cycle, at, clock, resolutions)
        elif not inbound:
            waiting = False


def _closed_at(clock: TicketClock) -> int | None:
    """When the ticket's current closed spell (solved, closed, abandoned) began, if closed."""
    latest = clock.statuses[-1] if clock.statuses else None
    if latest is None or latest[1] not in CLOSING:
        return None
    resolved = latest[0]
    for at, status in reversed(clock.statuses):
        if status not in CLOSING:
            break
        resolved = at
    return resolved


def suspensions(clock: TicketClock, target: Target) -> list[tuple[int, int | None]]:
    """Periods in which a timer does not run: waiting on the customer, and for the
    resolution timer also the time between a resolution and a reopen."""
    stopping = WAITING_ON_CUSTOMER | (CLOSING if target is Target.RESOLUTION else frozenset())
    periods: list[tuple[int, int | None]] = []
    since: int | None = None
    for at, status in clock.statuses:
        if status in stopping and since is None:
            since = at
        elif status not in stopping and since is not None:
            periods.append((since, at))
            since = None
    if since is not None:
        periods.append((since, None))
    return periods


def _pauses(clock: TicketClock) -> list[tuple[int, int | None]]:
    return suspensions(clock, Target.FIRST_RESPONSE)


class _Elapsed:
    """Business time of one timer: how much has elapsed by a moment, and when an amount will."""

    def __init__(
        self, timer: Timer, clock: TicketClock, policy: Policy, as_of: datetime | None = None
    ) -> None:
        """``as_of``: the timer as it stood then, still running, with the suspensions that
        had begun by then (what its deadline looked like at that moment)."""
        self.start = moment(timer.start)
        stop = timer.stop if as_of is None else None
        end = moment(stop) if stop is not None else self.start + _HORIZON
        running: list[tuple[datetime, datetime]] = []
        cursor = self.start
        for paused, resumed in suspensions(clock, timer.target):
            if as_of is not None and moment(paused) >= as_of:
                continue
            a = max(moment(paused), self.start)
            b = moment(resumed) if resumed is not None else end
            if b <= cursor or a >= end:
                continue
            if a > cursor:
                running.append((cursor, a))
            cursor = max(cursor, b)
        if cursor < end:
            running.append((cursor, end))
        self.running = running
        self.calendar = policy.calendar
        # The business periods, worked out as far as a question needed them, with the
        # business time elapsed at the end of each: exact, and in seconds summed in period
        # order (so that ``by`` gives the very float a walk over the periods would).
        self._periods = self._business()
        self._starts: list[datetime] = []
        self._ends: list[datetime] = []
        self._elapsed: list[timedelta] = []
        self._elapsed_s: list[float] = []

    def _business(self) -> Iterator[tuple[datetime, datetime]]:
        for a, b in self.running:
            if self.calendar is None:
                yield a, b
            else:
                yield from self.calendar.openings(a, b)

    def _next_period(self) -> bool:
        """Work out one more business period (False: there is none)."""
        period = next(self._periods, None)
        if period is None:
            return False
        a, b = period
        self._starts.append(a)
        self._ends.append(b)
        self._elapsed.append((self._elapsed[-1] if self._elapsed else _NO_TIME) + (b - a))
        seconds = (b - a).total_seconds()
        self._elapsed_s.append(self._elapsed_s[-1] + seconds if self._elapsed_s else seconds)
        return True

    def when(self, seconds: float) -> datetime | None:
        """The moment ``seconds`` of business time will have elapsed (None: never, as the
        timer stops or is suspended for good before)."""
        wanted = timedelta(seconds=seconds)
        while not self._elapsed or self._elapsed[-1] < wanted:
            if not self._next_period():
                return None
        index = bisect_left(self._elapsed, wanted)
        before = self._elapsed[index - 1] if index else _NO_TIME
        return self._starts[index] + (wanted - before)

    def by(self, until: datetime) -> float:
        """The business time elapsed by ``until``, in seconds."""
        while not self._ends or self._ends[-1] < until:
            if not self._next_period():
                break
        begun = bisect_left(self._starts, until)  # the periods that began before ``until``
        if not begun:
            return 0.0
        last = begun - 1
        partial = (min(self._ends[last], until) - self._starts[last]).total_seconds()
        return self._elapsed_s[last - 1] + partial if last else partial


def schedule(clock: TicketClock, policy: Policy) -> list[SlaEvent]:
    """Every audit event of the ticket, past and future (if no further event arrives for
    it), in time order."""
    return _schedule(clock, policy, _timed(clock, policy))


def schedule_and_running(
    clock: TicketClock, policy: Policy
) -> tuple[list[SlaEvent], tuple[Running, ...]]:
    """``schedule`` and ``running`` at once, each timer's business time worked out once."""
    timed = _timed(clock, policy)
    return _schedule(clock, policy, timed), _running(policy, timed)


def _timed(clock: TicketClock, policy: Policy) -> list[tuple[Timer, _Elapsed]]:
    return [
        (timer, _Elapsed(timer, clock, policy))
        for timer in timers(clock)
        if timer.target in policy.targets
    ]


def _schedule(
    clock: TicketClock, policy: Policy, timed: list[tuple[Timer, _Elapsed]]
) -> list[SlaEvent]:
    events: list[SlaEvent] = []
    for timer, elapsed in timed:
        events.extend(_timer_events(timer, elapsed, clock, policy))
    return sorted(events, key=lambda e: (e.at, e.event_id))


def due(clock: TicketClock, policy: Policy, now: datetime) -> list[SlaEvent]:
    """Every audit event of the ticket that has happened by ``now``, in time order."""
    return [e for e in schedule(clock, policy) if e.at <= now]


def first_after(events: list[SlaEvent], now: datetime) -> datetime | None:
    """When the first of ``events`` (in time order) after ``now`` happens."""
    return next((e.at for e in events if e.at > now), None)


def _timer_events(
    timer: Timer, elapsed: _Elapsed, clock: TicketClock, policy: Policy
) -> Iterator[SlaEvent]:
    seconds = policy.targets[timer.target]
    base = f"{timer.target}/{timer.cycle}"
    stop = moment(timer.stop) if timer.stop is not None else None

    def event(
        kind: SlaKind,
        at: datetime,
        suffix: str = "",
        *,
        level: float | None = None,
        deadline: datetime | None = None,
    ) -> SlaEvent:
        return SlaEvent(
            event_id=f"{base}/{kind}{suffix}",
            kind=kind,
            target=timer.target,
            cycle=timer.cycle,
            at=at,
            policy=policy.name,
            policy_version=policy.version,
            target_seconds=seconds,
            business_elapsed_seconds=elapsed.by(at),
            calendar_elapsed_seconds=(at - elapsed.start).total_seconds(),
            deadline=deadline,
            level=level,
        )

    def deadline_as_of(at: datetime) -> datetime | None:
        # What the deadline looked like at that moment, so that the same events give the
        # same audit trail whether or not the answer that stopped the timer was known yet.
        return _Elapsed(timer, clock, policy, as_of=at).when(seconds)

    deadline = elapsed.when(seconds)
    yield event(SlaKind.APPLIED, elapsed.start, f"/{policy.name}@{policy.version}")
    for level in (*policy.levels(timer.target), 1.0):
        at = elapsed.when(seconds * level)
        if at is None or (stop is not None and stop <= at):
            continue
        if level < 1.0:
            yield event(
                SlaKind.WARNING, at, f"/{level:g}", level=level, deadline=deadline_as_of(at)
            )
        else:
            yield event(SlaKind.BREACHED, at, deadline=at)
    if stop is not None and timer.verdict and (deadline is None or stop <= deadline):
        yield event(SlaKind.MET, stop, deadline=deadline_as_of(stop))
    if timer.target is not Target.RESOLUTION:
        yield from _pause_events(timer, clock, event)


def _pause_events(
    timer: Timer, clock: TicketClock, event: Callable[..., SlaEvent]
) -> Iterator[SlaEvent]:
    stop = timer.stop
    for paused, resumed in _pauses(clock):
        if paused < timer.start or (stop is not None and paused >= stop):
            continue
        yield event(SlaKind.PAUSED, moment(paused), f"/{paused}")
        if resumed is not None and (stop is None or resumed < stop):
            yield event(SlaKind.RESUMED, moment(resumed), f"/{resumed}")


def next_due(clock: TicketClock, policy: Policy, now: datetime) -> datetime | None:
    """The earliest moment after ``now`` at which another audit event happens, if no
    further event arrives for the ticket."""
    return first_after(schedule(clock, policy), now)


def running(clock: TicketClock, policy: Policy) -> tuple[Running, ...]:
    """The timers still running, with the moments they reach a warning and their breach."""
    return _running(policy, _timed(clock, policy))


def _running(policy: Policy, timed: list[tuple[Timer, _Elapsed]]) -> tuple[Running, ...]:
    found: list[Running] = []
    for timer, elapsed in timed:
        if timer.stop is not None:
            continue
        seconds = policy.targets[timer.target]
        breach = elapsed.when(seconds)
        if breach is None:
            continue
        levels = policy.levels(timer.target)
        warns = elapsed.when(seconds * levels[0]) if levels else None
        found.append(Running(timer.target, warns, breach))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Rule:
    """Applies ``policy`` to tickets matching every given attribute (None matches any)."""

    policy: Policy
    channel: str | None = None
    priority: str | None = None
    queue: str | None = None

    def matches(self, channel: str | None, priority: str, queue: str | None) -> bool:
        return (
            self.channel in (None, channel)
            and self.priority in (None, priority)
            and self.queue in (None, queue)
        )


@dataclass(frozen=True, slots=True)
class PolicyBook:
    """Ordered rules: a ticket gets the policy of the first rule it matches."""

    rules: tuple[Rule, ...] = ()

    def policy_for(self, channel: str | None, priority: str, queue: str | None) -> Policy | None:
        return next((r.policy for r in self.rules if r.matches(channel, priority, queue)), None)
