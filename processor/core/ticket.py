"""Per-ticket state: fold events in, derive the ticket's metrics, report what changed.

``fold`` adds an event's facts to the ticket's fact set (a redelivered ``event_id`` is a
no-op); ``derive`` computes every metric from that set alone. Because the state is a set
and every metric a function of it, the same events give the same metrics in any arrival
order and under any number of redeliveries. ``fold`` reports effects by comparing the
metrics before and after: counts (tickets opened, resolutions, reopens) only ever grow,
so each is reported exactly once whatever the order.

Two marks come from outside the fact set: the repeat contact and the FCR verdict, which
only the customer's history decides (``RepeatFound`` / ``FcrDecided`` from the customer
agent); the latest of each is kept. SLA timers read the ticket through ``clock_of``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from processor.core.effects import (
    CallCompleted,
    DuplicateIgnored,
    Effect,
    FirstResponded,
    FirstResponseCorrected,
    ReasonCounted,
    ReasonKey,
    Reopened,
    Resolved,
    SurveyAnswered,
    TicketOpened,
)
from processor.core.facts import ABANDONED, Fact, FactKind, facts_of, micros
from processor.core.sla import TicketClock, moment
from processor.core.ticket_metrics import TicketMetrics
from processor.events import (
    CesAnswered,
    CsatAnswered,
    NpsAnswered,
    Priority,
    TicketStatus,
    ticket_key,
)
from processor.events.internal import FcrDecided, RepeatFound

RESOLVING = frozenset({TicketStatus.SOLVED.value, TicketStatus.CLOSED.value})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RepeatMark:
    repeat_of: str
    gap_seconds: float
    previous_channel: str | None
    windows: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TicketState:
    ticket_id: str
    customer: tuple[int, str, str]
    """(event time, event id, customer id) of the earliest event: the ticket's customer."""
    facts: Mapping[str, tuple[Fact, ...]]
    """The facts of every event seen, by ``event_id``."""
    sla_sent: frozenset[str] = frozenset()
    """Ids of the SLA audit events already emitted for this ticket."""
    writer: str = ""
    """The worker run that last wrote this state, and so last published its outputs."""
    written_at: float = 0.0
    """Wall-clock Unix time of that write (how long ago the ticket was last processed)."""
    swept: bool = False
    """Written by the timer's sweep: no input offset holds its outputs back (see ``writer``)."""
    repeat: RepeatMark | None = None
    fcr: bool | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    state: TicketState
    before: TicketMetrics | None
    after: TicketMetrics
    effects: tuple[Effect, ...]

    @property
    def changed(self) -> bool:
        return self.before != self.after


def fold(state: TicketState | None, event: Any) -> Transition:
    """Add one event to its ticket's state."""
    return _fold(state, derive(state) if state is not None else None, event)


def fold_all(state: TicketState | None, events: Iterable[Any]) -> Transition:
    """Fold a batch of one ticket's events; effects of every step, metrics before and after."""
    before = metrics = derive(state) if state is not None else None
    effects: list[Effect] = []
    last: Transition | None = None
    for event in events:
        last = _fold(state, metrics, event)
        effects.extend(last.effects)
        state, metrics = last.state, last.after
    if last is None:
        raise ValueError("fold_all needs at least one event")
    return Transition(last.state, before, last.after, tuple(effects))


def _fold(state: TicketState | None, before: TicketMetrics | None, event: Any) -> Transition:
    if isinstance(event, RepeatFound | FcrDecided):
        state = _with_mark(state, event)
        after = derive(state)
        return Transition(state, before, after, _reason_moves(before, after))
    if state is not None and before is not None and event.event_id in state.facts:
        duplicate = DuplicateIgnored(state.ticket_id, event.type)
        return Transition(state, before, before, (duplicate,))
    previous = state
    state = _with_event(state, event)
    after = derive(state)
    effects = _effects(before, after) + _reason_moves(before, after)
    if after.is_known and any(fact.kind is FactKind.CALL for fact in facts_of(event)):
        effects += _completed_calls(previous, state, after)
    if isinstance(event, CsatAnswered | NpsAnswered | CesAnswered):
        effects += (_answered(event, after),)
    return Transition(state, before, after, effects)


def _answered(event: CsatAnswered | NpsAnswered | CesAnswered, ticket: TicketMetrics) -> Effect:
    survey = event.type.removeprefix("survey.").removesuffix("_answered")
    scale = 10 if isinstance(event, NpsAnswered) else event.scale
    channel = event.channel.value if event.channel else ticket.channel
    return SurveyAnswered(ticket, survey, event.score, scale, channel)


def _reason_key(ticket: TicketMetrics | None) -> ReasonKey | None:
    if ticket is None or not ticket.is_known or ticket.reason is None:
        return None
    return ReasonKey(ticket.reason, ticket.channel, ticket.repeat_of is not None)


def _reason_moves(before: TicketMetrics | None, after: TicketMetrics) -> tuple[Effect, ...]:
    """Whatever the path, a ticket ends up counted once, under its final reason key."""
    old, new = _reason_key(before), _reason_key(after)
    return () if old == new else (ReasonCounted(after, old, new),)


def _with_mark(state: TicketState | None, mark: RepeatFound | FcrDecided) -> TicketState:
    if state is None:
        state = TicketState(mark.ticket_id, (micros(mark.occurred_at), "", mark.customer_id), {})
    if isinstance(mark, FcrDecided):
        return replace(state, fcr=mark.fcr)
    repeat = RepeatMark(mark.repeat_of, mark.gap_seconds, mark.previous_channel, mark.windows)
    return replace(state, repeat=repeat)


def _with_event(state: TicketState | None, event: Any) -> TicketState:
    at = micros(event.occurred_at)
    customer = (at, event.event_id, event.customer_id)
    if state is None:
        return TicketState(ticket_key(event), customer, {event.event_id: facts_of(event)})
    return replace(
        state,
        customer=min(state.customer, customer),
        facts={**state.facts, event.event_id: facts_of(event)},
    )


@dataclass(slots=True)
class _Scan:
    """One pass over a ticket's facts, collecting what the metrics need."""

    created: tuple[int, str, str] | None = None
    inbound: list[tuple[int, str, str]] = field(default_factory=list)
    responses: list[int] = field(default_factory=list)
    touches: dict[str, int] = field(default_factory=dict)
    """Touch -> its earliest response: a chat session or a call is one touch."""
    statuses: list[tuple[int, str, str]] = field(default_factory=list)
    latest: dict[FactKind, tuple[int, str, str]] = field(default_factory=dict)
    calls: dict[str, dict[str, int]] = field(default_factory=dict)
    """Call id -> its steps (queued / answered / abandoned) -> the earliest time of each."""
    last_at: int = 0


def _scan(state: TicketState) -> _Scan:
    scan = _Scan()
    for event_id, facts in state.facts.items():
        for fact in facts:
            key = (fact.at, event_id, fact.value)
            scan.last_at = max(scan.last_at, fact.at)
            match fact.kind:
                case FactKind.CREATED:
                    scan.created = key if scan.created is None else min(scan.created, key)
                case FactKind.INBOUND:
                    scan.inbound.append(key)
                case FactKind.RESPONSE:
                    scan.responses.append(fact.at)
                    earliest = scan.touches.get(fact.touch, fact.at)
                    scan.touches[fact.touch] = min(earliest, fact.at)
                case FactKind.STATUS:
                    scan.statuses.append(key)
                case FactKind.CALL:
                    steps = scan.calls.setdefault(fact.touch, {})
                    steps[fact.value] = min(steps.get(fact.value, fact.at), fact.at)
                case _:
                    scan.latest[fact.kind] = max(scan.latest.get(fact.kind, key), key)
    return scan


@dataclass(frozen=True, slots=True)
class _Lifecycle:
    status: str | None
    resolved_at: int | None
    resolved_now: bool
    abandoned: bool
    resolutions: int
    reopens: int


def _lifecycle(statuses: list[tuple[int, str, str]]) -> _Lifecycle:
    """Walk the status changes in event-time order (event id breaks ties)."""
    status: str | None = None
    resolved_at: int | None = None
    resolved_now = False
    resolutions = reopens = 0
    for at, _, value in sorted(statuses):
        if value in RESOLVING:
            if not resolved_now:
                resolved_now, resolved_at = True, at
                resolutions += 1
        elif value != ABANDONED and resolved_now:
            resolved_now = False
            reopens += 1
        status = value
    abandoned = status == ABANDONED
    return _Lifecycle(status, resolved_at, resolved_now, abandoned, resolutions, reopens)


def derive(state: TicketState) -> TicketMetrics:
    """Every metric of a ticket, from its fact set alone."""
    scan = _scan(state)
    first_inbound = min(scan.inbound) if scan.inbound else None
    first_inbound_at = first_inbound[0] if first_inbound else None
    opened = [moment for moment in (first_inbound_at, scan.created and scan.created[0]) if moment]
    opened_at = min(opened) if opened else None
    first_response_at = _first_response(first_inbound_at, scan.responses)
    life = _lifecycle(scan.statuses)
    touches = sum(
        1
        for at in scan.touches.values()
        if not life.resolved_now or life.resolved_at is None or at <= life.resolved_at
    )
    is_open = opened_at is not None and not life.resolved_now and not life.abandoned
    return TicketMetrics(
        ticket_id=state.ticket_id,
        customer_id=state.customer[2],
        channel=_channel(scan.created, scan.inbound),
        priority=_latest(scan.latest, FactKind.PRIORITY) or Priority.NORMAL.value,
        queue=_latest(scan.latest, FactKind.QUEUE),
        reason=_latest(scan.latest, FactKind.REASON),
        status=life.status,
        opened_at=_moment(opened_at),
        first_inbound_at=_moment(first_inbound_at),
        first_response_at=_moment(first_response_at),
        first_response_seconds=_seconds(first_inbound_at, first_response_at),
        touches=touches,
        resolved_at=_moment(life.resolved_at),
        resolution_seconds=_seconds(first_inbound_at or opened_at, life.resolved_at),
        resolutions=life.resolutions,
        reopens=life.reopens,
        one_touch=(touches == 1 and life.reopens == 0) if life.resolved_now else None,
        is_open=is_open,
        awaiting_first_response=is_open and first_inbound_at is not None and not first_response_at,
        events=len(state.facts),
        last_event_at=_moment(scan.last_at) or _EPOCH,
        repeat_of=state.repeat.repeat_of if state.repeat else None,
        repeat_gap_seconds=state.repeat.gap_seconds if state.repeat else None,
        repeat_previous_channel=state.repeat.previous_channel if state.repeat else None,
        repeat_windows=state.repeat.windows if state.repeat else (),
        fcr=state.fcr,
    )


def clock_of(state: TicketState) -> TicketClock:
    """What the SLA timers need from the ticket."""
    scan = _scan(state)
    inbound = sorted(at for at, _, _ in scan.inbound)
    created = [scan.created[0]] if scan.created else []
    return TicketClock(
        opened_at=min([*created, *inbound[:1]], default=None),
        inbound=tuple(inbound),
        responses=tuple(sorted(scan.responses)),
        statuses=tuple((at, value) for at, _, value in sorted(scan.statuses)),
    )


def _call_outcomes(state: TicketState | None) -> dict[str, tuple[bool, int]]:
    """Call id -> (answered, wait in microseconds) for every call whose outcome is known."""
    if state is None:
        return {}
    outcomes = {}
    for call_id, steps in _scan(state).calls.items():
        queued = steps.get("queued")
        ended = steps.get("answered", steps.get("abandoned"))
        if queued is not None and ended is not None:
            outcomes[call_id] = ("answered" in steps, ended - queued)
    return outcomes


def _completed_calls(
    before: TicketState | None, after: TicketState, ticket: TicketMetrics
) -> tuple[Effect, ...]:
    known = _call_outcomes(before)
    return tuple(
        CallCompleted(ticket, answered, wait / 1_000_000)
        for call_id, (answered, wait) in _call_outcomes(after).items()
        if call_id not in known
    )


def _first_response(first_inbound_at: int | None, responses: list[int]) -> int | None:
    if first_inbound_at is None:
        return None
    after_contact = [at for at in responses if at >= first_inbound_at]
    return min(after_contact) if after_contact else None


def _channel(
    created: tuple[int, str, str] | None, inbound: list[tuple[int, str, str]]
) -> str | None:
    """The channel the helpdesk gave the ticket, else the channel of its first contact."""
    if created is not None:
        return created[2]
    named = [contact for contact in inbound if contact[2]]
    return min(named)[2] if named else None


def _latest(latest: Mapping[FactKind, tuple[int, str, str]], kind: FactKind) -> str | None:
    found = latest.get(kind)
    return found[2] if found else None


def _moment(at: int | None) -> datetime | None:
    return None if at is None else moment(at)


def _seconds(start: int | None, end: int | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start) / 1_000_000


def _effects(before: TicketMetrics | None, after: TicketMetrics) -> tuple[Effect, ...]:
    """What changed, reported once. Nothing is reported for a ticket until it is known: its
    counts so far are then reported at once, so arrival order cannot change the totals."""
    if not after.is_known:
        return ()
    seen = before if before is not None and before.is_known else None
    effects: list[Effect] = [] if seen else [TicketOpened(after)]
    before_frt = seen.first_response_seconds if seen else None
    if after.first_response_seconds is not None:
        if before_frt is None:
            effects.append(FirstResponded(after, after.first_response_seconds))
        elif before_frt != after.first_response_seconds:
            effects.append(FirstResponseCorrected(after, before_frt))
    if after.resolution_seconds is not None:
        new_resolutions = after.resolutions - (seen.resolutions if seen else 0)
        effects.extend(
            Resolved(after, after.resolution_seconds, after.touches) for _ in range(new_resolutions)
        )
    new_reopens = after.reopens - (seen.reopens if seen else 0)
    effects.extend(Reopened(after) for _ in range(new_reopens))
    return tuple(effects)
