"""The processing steps, free of Faust so they can be read and tested on their own.

``ingest``: source message bytes -> validated event, routed by ticket id, or a dead letter.
``update_tickets``: a batch of routed events -> per ticket one state write, at most one
snapshot, its new SLA audit events, the effects' metrics, and (when it changed) the
ticket's view for its customer.
``update_customers``: a batch of ticket views -> per customer one state write, repeat
contacts and due FCR verdicts (reported on ``cc.repeat-contacts`` and back to the ticket).
``check_deadlines`` / ``close_windows``: the timer's sweeps for SLA deadlines and FCR
windows that passed with no event arriving; ``forget_expired``: its sweep for closed
tickets past the retention (customers' old history is pruned in ``close_windows``);
``share_clock``: on the event-time clock, the ticket step's clock for the customer step
(see ``processor.view_clocks``).

The Faust agents and timer in ``processor.shell.app`` only hand batches to these.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Iterable, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from processor.codec import (
    Rejection,
    SourceDecoder,
    decode_customer,
    decode_event,
    decode_state,
    decode_view,
    decode_watermark,
    encode_customer,
    encode_dead_letter,
    encode_event,
    encode_snapshot,
    encode_state,
    encode_view,
    encode_watermark,
)
from processor.core import TicketMetrics, TicketState, derive, fold_all
from processor.core.customer import (
    CustomerState,
    Repeat,
    RepeatChange,
    RepeatRule,
    TicketView,
    close_windows,
    next_verdict_at,
    observe,
    update,
)
from processor.core.retention import customer_expires_at, prune, ticket_expires_at
from processor.core.sla import PolicyBook, SlaEvent
from processor.core.ticket_sla import check
from processor.due_index import DueByPartition, DueIndex
from processor.events import SourceKind, ticket_key
from processor.events.internal import FcrDecided, RepeatFound
from processor.metrics import Metrics
from processor.open_tickets import OpenTickets
from processor.outputs import FcrVerdictMessage, RepeatContactMessage, SlaEventMessage
from processor.view_clocks import ViewClocks, Watermark

log = logging.getLogger(__name__)

Stamped = TypeVar("Stamped", TicketState, CustomerState)

Publish = Callable[[str, bytes | None, bytes], None]
"""Publish a derived message: (topic, key, value)."""


class Send(Protocol):
    """Publish a message, to the key's partition unless one is given; delivery is awaited
    before the input offsets commit."""

    def __call__(
        self, topic: str, key: bytes | None, value: bytes, partition: int | None = None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Topics:
    routed: str
    customer_views: str
    ticket_metrics: str
    deadletter: str
    sla_events: str
    repeat_contacts: str


@dataclass(frozen=True, slots=True)
class Rules:
    """What the operators configured: SLA policies and repeat windows."""

    policies: PolicyBook = field(default_factory=PolicyBook)
    repeat: RepeatRule | None = None
    """None: no per-customer state, no repeat contacts and no FCR."""
    retention: timedelta | None = None
    """How long closed tickets and customers' old tickets are remembered; None: forever."""


class Clock:
    """``now`` for deadlines: the wall clock, or (replays) the newest event time seen
    minus ``lateness_s``, so that an event up to that late still counts before a deadline
    or an FCR window it falls before is judged."""

    def __init__(
        self, event_time: bool, wall: Callable[[], float], lateness_s: float = 0.0
    ) -> None:
        self.event_time = event_time
        self.wall = wall
        self.lateness_s = lateness_s
        self.watermark = 0.0

    def observe(self, moment: datetime) -> None:
        self.watermark = max(self.watermark, moment.timestamp())

    def __call__(self) -> float:
        return self.watermark - self.lateness_s if self.event_time else self.wall()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self(), UTC)


SWEEP_LIMIT = 2000
"""Keys looked at per timer tick, so a sweep after recovery never blocks the loop long."""


class Pipeline:
    def __init__(
        self,
        topics: Topics,
        decoder: SourceDecoder,
        metrics: Metrics,
        open_tickets: OpenTickets,
        send: Send,
        *,
        rules: Rules,
        clock: Clock,
    ) -> None:
        self.topics = topics
        self.decoder = decoder
        self.metrics = metrics
        self.open_tickets = open_tickets
        self.send = send
        self.rules = rules
        self.clock = clock
        self.sla_due = DueIndex()
        self.fcr_due = DueByPartition()
        self.view_clocks = ViewClocks()
        self.shared_clock: tuple[float, tuple[int, ...]] | None = None
        """What ``share_clock`` last sent; None: send it again (after a rebalance)."""
        self.expiry = DueIndex()
        self.run = uuid.uuid4().hex
        """This run of the worker: states it wrote have their outputs in its producer."""

    def ingest(self, kind: SourceKind, messages: Iterable[Message]) -> None:
        for message in messages:
            event = self.decoder.decode(kind, message.value)
            if isinstance(event, Rejection):
                self._dead_letter(kind, message, event)
                continue
            self.metrics.consumed.labels(kind.value, event.type).inc()
            self.send(self.topics.routed, ticket_key(event).encode(), encode_event(event))

    def _dead_letter(self, kind: SourceKind, message: Message, rejection: Rejection) -> None:
        log.warning(
            "rejected %s message at %s[%d]@%d: %s",
            kind.value,
            message.topic,
            message.partition,
            message.offset,
            rejection.reason.value,
        )
        self.metrics.rejected.labels(kind.value, rejection.reason.value).inc()
        letter = encode_dead_letter(
            rejection,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            raw=message.value or b"",
        )
        self.send(self.topics.deadletter, message.key, letter)

    def update_tickets(
        self, table: MutableMapping[bytes, bytes], messages: Iterable[Message]
    ) -> None:
        """Fold a batch of routed events: per ticket one state write and at most one snapshot."""
        batches: dict[bytes, list[Any]] = {}
        partitions: dict[bytes, int] = {}
        for message in messages:
            if message.key is None or message.value is None:
                continue
            event = decode_event(message.value)
            self.clock.observe(event.occurred_at)
            batches.setdefault(message.key, []).append(event)
            partitions[message.key] = message.partition
        now = self.clock.now()
        for key, events in batches.items():
            stored = table.get(key)
            state = decode_state(stored) if stored is not None else None
            transition = fold_all(state, events)
            after = transition.after
            # State written by another run of a worker: that run may have died after writing
            # it but before all of the ticket's outputs were out (its events are then
            # redelivered). The first time this run touches it, publish them again (same
            # ids). This run's own outputs are in its producer, flushed before any commit.
            again = state is not None and state.writer != self.run
            state_now = transition.state
            new_state = self._check_sla(partitions[key], key, state_now, after, now, again=again)
            if new_state is not state or again:
                table[key] = encode_state(self._stamped(new_state))
            if (transition.changed or again) and after.is_known:
                self.send(self.topics.ticket_metrics, key, encode_snapshot(after))
                self.metrics.snapshots.inc()
                self._share_view(None if again else transition.before, after)
            self.metrics.record(transition.effects)

    def _check_sla(
        self,
        partition: int,
        key: bytes,
        state: TicketState,
        ticket: TicketMetrics,
        now: datetime,
        *,
        again: bool = False,
    ) -> TicketState:
        """Emit the ticket's new SLA audit events (``again``: all due ones); note when to
        look at it again."""
        sla = check(state, ticket, self.rules.policies, now)
        for event in (*sla.emitted, *sla.events) if again else sla.events:
            self.send(self.topics.sla_events, key, _sla_message(ticket, event))
        self.metrics.record_sla(sla.events, ticket)
        self.open_tickets.update(partition, ticket, sla.running)
        self.sla_due.set(partition, key, sla.next_due.timestamp() if sla.next_due else None)
        # Written now, or unchanged and written before: now never forgets it too early.
        self.expiry.set(partition, key, self.ticket_expiry(state, ticket, self.clock.wall()))
        return sla.state

    def _stamped(self, state: Stamped, *, swept: bool = False) -> Stamped:
        """The state as this run writes it now (``swept``: from the timer's sweep)."""
        return replace(state, writer=self.run, written_at=self.clock.wall(), swept=swept)

    def _written(self, written_at: float) -> datetime | None:
        # On the wall clock a state is kept the retention after it was last written too, so
        # old events arriving now are recognised when redelivered; in event time (replays)
        # only event times count.
        return None if self.clock.event_time else datetime.fromtimestamp(written_at, UTC)

    def ticket_expiry(
        self, state: TicketState, ticket: TicketMetrics, written_at: float
    ) -> float | None:
        """When the ticket's state may be deleted (Unix time); None: not while it is open."""
        retention = self.rules.retention
        if retention is None:
            return None
        # Events that tell nothing about their ticket (an automated reply that arrives before
        # the ticket is known) leave no time in its metrics: the earliest event's time, kept
        # with the state, stops such a state from looking older than any retention and
        # being deleted before its ticket arrives.
        heard = datetime.fromtimestamp(state.customer[0] / 1_000_000, UTC)
        written = self._written(written_at)
        expires = ticket_expires_at(ticket, retention, max(heard, written or heard))
        return expires.timestamp() if expires is not None else None

    def recovered_ticket(
        self, partition: int, key: bytes, state: TicketState, ticket: TicketMetrics
    ) -> None:
        """Index a ticket recovered from the table's changelog."""
        # The event-time clock goes on from the newest event the tables hold.
        self.clock.observe(ticket.last_event_at)
        # The first sweeps check every one: a closed ticket's last audit events may not be
        # due yet (event time with a lateness allowance, events from the future).
        self.sla_due.set(partition, key, 0.0)
        if not ticket.is_open:
            self.expiry.set(partition, key, self.ticket_expiry(state, ticket, state.written_at))

    def forget_expired(self, table: MutableMapping[bytes, bytes]) -> int:
        """Delete the state of closed tickets whose retention has passed; how many."""
        now = self.clock()
        forgotten = 0
        for partition, key in self.expiry.due(now, SWEEP_LIMIT):
            stored = table.get(key)
            if stored is None:
                continue
            state = decode_state(stored)
            expires = self.ticket_expiry(state, derive(state), state.written_at)
            if expires is not None and expires <= now:
                del table[key]
                self.sla_due.set(partition, key, None)
                forgotten += 1
            else:  # an event arrived since: it is open again, or was heard of later
                self.expiry.set(partition, key, expires)
        self.metrics.forgotten.labels("tickets").inc(forgotten)
        return forgotten

    def check_deadlines(self, table: MutableMapping[bytes, bytes]) -> int:
        """Emit what passed deadlines caused for tickets no event arrived for; how many."""
        now = self.clock.now()
        due = self.sla_due.due(now.timestamp(), SWEEP_LIMIT)
        for partition, key in due:
            stored = table.get(key)
            if stored is None:
                continue
            state = decode_state(stored)
            ticket = derive(state)
            again = _unconfirmed(state, self.run)
            checked = self._check_sla(partition, key, state, ticket, now, again=again)
            if checked is not state or again:
                table[key] = encode_state(self._stamped(checked, swept=True))
            else:  # not written now: kept the retention after its last write, not longer
                self.expiry.set(partition, key, self.ticket_expiry(state, ticket, state.written_at))
        return len(due)

    def _share_view(self, before: TicketMetrics | None, after: TicketMetrics) -> None:
        """Tell the ticket's customer about it when what repeats and FCR depend on changed."""
        if self.rules.repeat is None or after.opened_at is None:
            return
        view = _view_of(after)
        if before is not None and before.is_known and _same_view(_view_of(before), view):
            return
        self.send(self.topics.customer_views, after.customer_id.encode(), encode_view(view))

    def update_customers(
        self, table: MutableMapping[bytes, bytes], messages: Iterable[Message]
    ) -> None:
        """Take a batch of ticket views: per customer one state write, then repeats and due
        FCR verdicts are reported."""
        views: dict[bytes, list[TicketView]] = {}
        partitions: dict[bytes, int] = {}
        for message in messages:
            if message.value is None:
                continue
            if message.key is None:
                # After the views sent before it: heard once the batch's views are in.
                self.view_clocks.hear(message.partition, decode_watermark(message.value))
                continue
            views.setdefault(message.key, []).append(decode_view(message.value))
            partitions[message.key] = message.partition
        for key, batch in views.items():
            stored = table.get(key)
            before = decode_customer(stored) if stored is not None else None
            state = before
            for view in batch:
                state = update(state, key.decode(), view)
            assert state is not None
            again = before is not None and before.writer != self.run  # see update_tickets
            self._judge_customer(table, partitions[key], key, before, state, again=again)

    def share_clock(self, owned: Collection[int], partitions: int) -> None:
        """On the event-time clock, tell every partition of the views topic this ticket
        step's clock, for the ticket partitions it ``owned`` (of ``partitions``), when it
        moved or ``shared_clock`` was reset."""
        if not self.clock.event_time or not owned or not self.clock.watermark:
            return
        shared = (self.clock(), tuple(sorted(owned)))
        if shared == self.shared_clock:
            return
        self.shared_clock = shared
        watermark = encode_watermark(Watermark(*shared, of=partitions))
        for partition in range(partitions):
            self.send(self.topics.customer_views, None, watermark, partition)

    def customer_clock(self, partition: int) -> float | None:
        """``now`` for the customers of views partition ``partition``; None: not known yet."""
        return self.view_clocks.now(partition) if self.clock.event_time else self.clock()

    def close_windows(self, table: MutableMapping[bytes, bytes]) -> int:
        """Report the FCR verdicts whose window closed with no event arriving; how many."""
        due = self.fcr_due.due(self.customer_clock, SWEEP_LIMIT)
        for partition, key in due:
            stored = table.get(key)
            if stored is not None:
                state = decode_customer(stored)
                again = _unconfirmed(state, self.run)
                self._judge_customer(table, partition, key, state, state, again=again, swept=True)
        return len(due)

    def _judge_customer(
        self,
        table: MutableMapping[bytes, bytes],
        partition: int,
        key: bytes,
        stored: CustomerState | None,
        state: CustomerState,
        *,
        again: bool = False,
        swept: bool = False,
    ) -> None:
        """Report new repeats and due verdicts; write the state if anything changed
        (``again``: publish all its repeat flags and verdicts, see ``_republish``)."""
        rule = self.rules.repeat
        assert rule is not None
        judged, changes = observe(state, rule)
        for change in changes:
            self._report_repeat(judged, change)
        clock = self.customer_clock(partition)
        now = datetime.fromtimestamp(clock, UTC) if clock is not None else None
        if now is not None:
            judged, verdicts = close_windows(judged, rule, now)
            for ticket_id, fcr in verdicts.items():
                self._report_verdict(judged, ticket_id, fcr, rule)
        retention = self.rules.retention
        written = self._written(judged.written_at if judged == stored else self.clock.wall())
        if retention is not None and now is not None:
            judged = prune(judged, now, retention, written)
            if not judged.tickets:
                table.pop(key, None)
                self.fcr_due.set(partition, key, None)
                self.metrics.forgotten.labels("customers").inc()
                return
        if judged != stored or again:
            judged = self._stamped(judged, swept=swept)
            table[key] = encode_customer(judged)
        upcoming = [next_verdict_at(judged, rule)]
        if retention is not None:
            upcoming.append(customer_expires_at(judged, retention, written))
        soonest = min((moment for moment in upcoming if moment is not None), default=None)
        self.fcr_due.set(partition, key, soonest.timestamp() if soonest else None)
        if again:
            self._republish(judged)

    def _republish(self, state: CustomerState) -> None:
        """Publish the customer's repeat flags and verdicts again, with the same ids: the
        run that wrote the state may have died before they were all out."""
        rule = self.rules.repeat
        assert rule is not None
        for ticket_id, (repeat_of, windows) in state.flagged.items():
            ticket, previous = state.tickets[ticket_id], state.tickets[repeat_of]
            gap = ticket.opened_at - previous.opened_at
            repeat = Repeat(ticket_id, repeat_of, gap, ticket.channel, previous.channel)
            self._report_repeat(state, RepeatChange(repeat, windows, ()), count=False)
        for ticket_id, fcr in state.decided.items():
            self._report_verdict(state, ticket_id, fcr, rule, count=False)

    def _report_repeat(
        self, state: CustomerState, change: RepeatChange, count: bool = True
    ) -> None:
        repeat = change.repeat
        ticket = state.tickets[repeat.ticket_id]
        message = RepeatContactMessage(
            event_id=f"{repeat.ticket_id}/repeat/{repeat.repeat_of}/{','.join(change.windows)}",
            ticket_id=repeat.ticket_id,
            customer_id=state.customer_id,
            channel=repeat.channel,
            opened_at=ticket.opened_at,
            repeat_of=repeat.repeat_of,
            gap_seconds=repeat.gap.total_seconds(),
            previous_channel=repeat.previous_channel,
            windows=change.windows,
            new_windows=change.new_windows,
        )
        self.send(self.topics.repeat_contacts, state.customer_id.encode(), _json(message))
        mark = RepeatFound(
            ticket_id=repeat.ticket_id,
            customer_id=state.customer_id,
            occurred_at=ticket.opened_at,
            repeat_of=repeat.repeat_of,
            gap_seconds=message.gap_seconds,
            previous_channel=repeat.previous_channel,
            windows=change.windows,
        )
        self.send(self.topics.routed, repeat.ticket_id.encode(), encode_event(mark))
        if count:
            self.metrics.record_repeat(change)

    def _report_verdict(
        self, state: CustomerState, ticket_id: str, fcr: bool, rule: RepeatRule, count: bool = True
    ) -> None:
        ticket = state.tickets[ticket_id]
        assert ticket.resolved_at is not None
        message = FcrVerdictMessage(
            event_id=f"{ticket_id}/fcr",
            ticket_id=ticket_id,
            customer_id=state.customer_id,
            channel=ticket.channel,
            fcr=fcr,
            resolved_at=ticket.resolved_at,
            window_closed_at=ticket.resolved_at + rule.fcr_window,
            reopens=ticket.reopens,
        )
        self.send(self.topics.repeat_contacts, state.customer_id.encode(), _json(message))
        mark = FcrDecided(
            ticket_id=ticket_id,
            customer_id=state.customer_id,
            occurred_at=message.window_closed_at,
            fcr=fcr,
        )
        self.send(self.topics.routed, ticket_id.encode(), encode_event(mark))
        if count:
            self.metrics.record_fcr(ticket.channel, fcr)


def _unconfirmed(state: TicketState | CustomerState, run: str) -> bool:
    """Whether another run's sweep wrote the state: its outputs may have died in that run's
    producer, and no input offset brings their cause back (the sweep had none)."""
    return state.swept and state.writer != run


def _view_of(ticket: TicketMetrics) -> TicketView:
    assert ticket.opened_at is not None
    return TicketView(
        ticket_id=ticket.ticket_id,
        version=ticket.events,
        opened_at=ticket.opened_at,
        channel=ticket.channel or "unknown",
        resolved_at=ticket.resolved_at if not ticket.is_open else None,
        reopens=ticket.reopens,
        reason=ticket.reason,
    )


def _same_view(a: TicketView, b: TicketView) -> bool:
    """Equal in everything but the version (the number of events behind the view)."""
    return replace(a, version=b.version) == b


def _sla_message(ticket: TicketMetrics, event: SlaEvent) -> bytes:
    message = SlaEventMessage(
        event_id=f"{ticket.ticket_id}/{event.event_id}",
        ticket_id=ticket.ticket_id,
        customer_id=ticket.customer_id,
        channel=ticket.channel,
        priority=ticket.priority,
        queue=ticket.queue,
        kind=event.kind,
        target=event.target,
        cycle=event.cycle,
        at=event.at,
        deadline=event.deadline,
        level=event.level,
        policy=event.policy,
        policy_version=event.policy_version,
        target_seconds=event.target_seconds,
        business_elapsed_seconds=event.business_elapsed_seconds,
        calendar_elapsed_seconds=event.calendar_elapsed_seconds,
    )
    return _json(message)


def _json(message: Any) -> bytes:
    return message.__pydantic_serializer__.to_json(message)  # type: ignore[no-any-return]
