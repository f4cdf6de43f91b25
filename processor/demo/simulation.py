"""The synthetic contact center behind ``ccpulse demo`` and ``ccpulse traffic``.

``ContactCenter`` is seeded, and free of Kafka and of the clock (time is
passed in). New contacts arrive in waves around a base rate, on phone (35 %), email
(25 %), chat (20 %), social (10 %) and SMS (10 %). Agents answer with channel-typical
delays and now and then very slowly; bots and auto-acknowledgements reply first; tickets
take several rounds, wait on the customer, get internal notes, are solved, sometimes
reopened; customers come back, often on another channel; some rate the service. It
emits the events every source system would write, as the pydantic models of
``processor.events``, plus a trickle of malformed messages as raw bytes. A few helpdesk
webhooks lag, so an agent's reply reaches Kafka before the ticket it answers.

Delays up to twenty seconds are realistic; beyond that they are divided by
``time_scale``, so an email answered "after an hour and a half" shows up within a minute
or two of demo time while a phone queue still waits seconds. The simulation deliberately
does not model agent capacity (queues never saturate) nor business hours.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import orjson
from pydantic import TypeAdapter

from processor.config import DEFAULT_REASONS
from processor.events import Channel, Priority, SourceEvent, SourceKind, source_of, ticket_key

T = TypeVar("T")

CHANNEL_MIX = (
    (Channel.PHONE, 0.35),
    (Channel.EMAIL, 0.25),
    (Channel.CHAT, 0.20),
    (Channel.SOCIAL, 0.10),
    (Channel.SMS, 0.10),
)
PRIORITY_MIX = (
    (Priority.LOW, 0.2),
    (Priority.NORMAL, 0.55),
    (Priority.HIGH, 0.2),
    (Priority.URGENT, 0.05),
)
REASONS = (*DEFAULT_REASONS, "data_request")
"""The reasons metrics name by default, and one they report as ``other``."""
QUEUES = ("general", "billing", "tech", "vip")
NETWORKS = ("x", "facebook", "instagram")
WAVE_PERIOD_S = 180.0
WAVE_AMPLITUDE = 0.6
REAL_DELAY_LIMIT_S = 20.0
REPEAT_HORIZON_S = 3 * 86_400.0
REPEAT_SHARE = 0.12
# Median first-response delays in realistic seconds, before ``time_scale``.
FIRST_RESPONSE_S = {
    Channel.PHONE: 25.0,
    Channel.CHAT: 30.0,
    Channel.SMS: 600.0,
    Channel.SOCIAL: 1800.0,
    Channel.EMAIL: 5400.0,
}
TICKET_SHARE = {Channel.PHONE: 0.3, Channel.CHAT: 0.4, Channel.SMS: 0.4}
ABANDON_SHARE = 0.08
LATE_TICKET_SHARE = 0.05
REOPEN_SHARE = 0.08
SURVEY_SHARE = 0.3
# Answers lean positive, as they do: CSAT 1-5, NPS 0-10, CES 1-7.
SCORES = {
    "csat": tuple(zip(range(1, 6), (1, 1, 2, 4, 6), strict=True)),
    "nps": tuple(zip(range(11), (1, 1, 1, 1, 1, 2, 2, 4, 5, 6, 6), strict=True)),
    "ces": tuple(zip(range(1, 8), (3, 4, 4, 3, 2, 1, 1), strict=True)),
}

_EVENTS: TypeAdapter[Any] = TypeAdapter(SourceEvent)


@dataclass(frozen=True, slots=True)
class Emission:
    """One message for a source topic, due at ``due``: an event, or malformed bytes."""

    due: datetime
    kind: SourceKind
    key: bytes
    payload: SourceEvent | bytes

    @property
    def value(self) -> bytes:
        """The message value exactly as a source system would write it."""
        if isinstance(self.payload, bytes):
            return self.payload
        return self.payload.model_dump_json(exclude_none=True).encode()


@dataclass(frozen=True, slots=True)
class _Contact:
    """Who writes, on which ticket (``None`` for a bare call or chat), and who answers."""

    customer: str
    ticket: str | None
    channel: Channel
    agent: str


class ContactCenter:
    """A seeded contact center; ``advance`` returns what its systems emit up to a moment.

    The same seed and start give the same emissions, however ``advance`` is chunked.
    """

    def __init__(
        self,
        *,
        seed: int,
        start: datetime,
        rate: float,
        time_scale: float = 120.0,
        malformed_fraction: float = 0.005,
        agents: int = 40,
    ) -> None:
        if rate <= 0 or time_scale <= 0:
            raise ValueError("rate and time_scale must be positive")
        self.rng = random.Random(seed)
        # Faults draw from their own generator, so the valid traffic does not depend on
        # the malformed fraction; ids also depend on the start, so a generator restarted
        # against the same cluster repeats no event id (the worker would drop it as a
        # duplicate) and no ticket id.
        self._faults = random.Random(f"faults:{seed}")
        self._ids = random.Random(f"ids:{seed}@{start.isoformat()}")
        self._run = f"{self._ids.getrandbits(24):06x}"
        self._serial = itertools.count(1)
        self.start = start
        self.rate = rate
        self.time_scale = time_scale
        self.malformed_fraction = malformed_fraction
        self._agents = tuple(f"agent-{n:03d}" for n in range(1, agents + 1))
        self._next_arrival = start
        self._pending: list[tuple[datetime, int, Emission]] = []
        self._sequence = itertools.count()
        self._recent: deque[tuple[datetime, str]] = deque(maxlen=20_000)

    def advance(self, until: datetime) -> list[Emission]:
        """Every emission due at or before ``until`` and not returned before, in due order."""
        while self._next_arrival <= until:
            self._contact(self._next_arrival)
            self._next_arrival += timedelta(seconds=self._gap(self._next_arrival))
        due: list[Emission] = []
        while self._pending and self._pending[0][0] <= until:
            due.append(heapq.heappop(self._pending)[2])
        return due

    # -- time ---------------------------------------------------------------------------

    def _gap(self, moment: datetime) -> float:
        elapsed = (moment - self.start).total_seconds()
        wave = 1.0 + WAVE_AMPLITUDE * math.sin(2 * math.pi * elapsed / WAVE_PERIOD_S)
        return self.rng.expovariate(self.rate * wave)

    def _later(self, moment: datetime, realistic_s: float) -> datetime:
        excess = max(0.0, realistic_s - REAL_DELAY_LIMIT_S)
        return moment + timedelta(
            seconds=min(realistic_s, REAL_DELAY_LIMIT_S) + excess / self.time_scale
        )

    def _lognormal(self, median_s: float, spread: float = 0.6) -> float:
        value = self.rng.lognormvariate(math.log(median_s), spread)
        # Now and then an answer takes several times longer: a ticket fell through the cracks.
        return value * self.rng.uniform(3, 6) if self.rng.random() < 0.08 else value

    # -- building blocks ----------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{self._run}-{next(self._serial):07d}"

    def _pick(self, mix: Sequence[tuple[T, float]]) -> T:
        return self.rng.choices([value for value, _ in mix], [weight for _, weight in mix])[0]

    def _customer(self, at: datetime, channel: Channel) -> str:
        """Mostly a new customer; now and then one who contacted us in the last days."""
        horizon = at - (self._later(at, REPEAT_HORIZON_S) - at)
        while self._recent and self._recent[0][0] < horizon:
            self._recent.popleft()
        if self._recent and self.rng.random() < REPEAT_SHARE:
            customer = self._recent[self.rng.randrange(len(self._recent))][1]
        else:
            customer = self._id("cust")
        self._recent.append((at, customer))
        return customer

    def _emit(
        self,
        at: datetime,
        event_type: str,
        contact: _Contact,
        *,
        due: datetime | None = None,
        **fields: Any,
    ) -> None:
        event = _EVENTS.validate_python(
            {
                "type": event_type,
                "event_id": str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
                "occurred_at": at,
                "customer_id": contact.customer,
                "ticket_id": contact.ticket,
                **fields,
            }
        )
        kind, key = source_of(event_type), ticket_key(event).encode()
        self._push(Emission(due or at, kind, key, event))
        if self._faults.random() < self.malformed_fraction:
            self._push(Emission(due or at, kind, key, self._damaged(event)))

    def _push(self, emission: Emission) -> None:
        heapq.heappush(self._pending, (emission.due, next(self._sequence), emission))

    def _damaged(self, event: Any) -> bytes:
        """A broken copy of ``event``, as buggy producers write them."""
        body = orjson.loads(event.model_dump_json(exclude_none=True))
        body["event_id"] = str(uuid.UUID(int=self._faults.getrandbits(128), version=4))
        match self._faults.randrange(5):
            case 0:  # a truncated write
                return orjson.dumps(body)[: self._faults.randrange(1, 30)]
            case 1:
                del body["customer_id"]
            case 2:
                body["customer_id"] = {"id": body["customer_id"]}
            case 3:  # a producer already on a newer contract
                body["type"] = event.type.split(".")[0] + ".archived"
            case _:
                body["occurred_at"] = event.occurred_at.replace(tzinfo=None).isoformat()
        return orjson.dumps(body)

    def _open_ticket(
        self, at: datetime, customer: str, channel: Channel, *, due: datetime | None = None
    ) -> _Contact:
        contact = _Contact(customer, self._id("ZD"), channel, self.rng.choice(self._agents))
        self._emit(
            at,
            "ticket.created",
            contact,
            due=due,
            channel=channel.value,
            priority=self._pick(PRIORITY_MIX).value,
            queue=self.rng.choice(QUEUES),
            reason=self.rng.choice(REASONS),
        )
        self._emit(
            self._later(at, self.rng.uniform(2, 15)),
            "ticket.assigned",
            contact,
            agent_id=contact.agent,
        )
        if self.rng.random() < 0.1:  # the agent corrects the reason the customer picked
            self._emit(
                self._later(at, 60), "ticket.reason_set", contact, reason=self.rng.choice(REASONS)
            )
        return contact

    def _contact_for(self, at: datetime, customer: str, channel: Channel) -> _Contact:
        """A ticket for some contacts; the rest stay bare (their own id is the ticket)."""
        if self.rng.random() < TICKET_SHARE.get(channel, 1.0):
            return self._open_ticket(at, customer, channel)
        return _Contact(customer, None, channel, self.rng.choice(self._agents))

    def _status(self, at: datetime, contact: _Contact, status: str) -> None:
        self._emit(at, "ticket.status_changed", contact, status=status)

    # -- endings ------------------------------------------------------------------------

    def _wrap_up(self, ended: datetime, contact: _Contact) -> None:
        """A ticket is solved after the agent's wrap-up; a bare contact ended on its own."""
        if contact.ticket is not None:
            self._close(self._later(ended, self.rng.uniform(30, 300)), contact)
        elif self.rng.random() < SURVEY_SHARE:
            self._survey(self._later(ended, 60), contact)

    def _close(self, at: datetime, contact: _Contact) -> None:
        if self.rng.random() < 0.15:
            self._emit(
                at,
                "ticket.commented",
                contact,
                author="agent",
                public=False,
                agent_id=contact.agent,
            )
            at = self._later(at, 30)
        self._status(at, contact, "solved")
        if self.rng.random() < REOPEN_SHARE:
            at = self._reopen(at, contact)
        if self.rng.random() < SURVEY_SHARE:
            self._survey(self._later(at, self.rng.uniform(300, 3600)), contact)

    def _reopen(self, solved: datetime, contact: _Contact) -> datetime:
        """The customer answers the solved ticket: it reopens, gets an answer, is solved again."""
        back = self._later(solved, self.rng.uniform(600, 7200))
        self._emit(back, "ticket.commented", contact, author="customer")
        self._status(back, contact, "open")
        answer = self._later(back, self._lognormal(1800))
        self._emit(answer, "ticket.commented", contact, author="agent", agent_id=contact.agent)
        again = self._later(answer, self.rng.uniform(60, 1800))
        self._status(again, contact, "solved")
        return again

    def _survey(self, at: datetime, contact: _Contact) -> None:
        kind = self.rng.choice(tuple(SCORES))
        score = self._pick(SCORES[kind])
        survey: dict[str, Any] = {"survey_id": self._id("srv"), "score": score}
        self._emit(at, f"survey.{kind}_answered", contact, channel=contact.channel.value, **survey)

    def _follow_ups(
        self,
        replied: datetime,
        contact: _Contact,
        ask: Callable[[datetime], None],
        answer: Callable[[datetime], None],
    ) -> datetime:
        """Multi-touch: the answer asks for details, the ticket waits on the customer."""
        last = replied
        for _ in range(self.rng.choices((0, 1, 2, 3), (0.55, 0.28, 0.12, 0.05))[0]):
            self._status(self._later(last, 1), contact, "pending")
            asked = self._later(last, self._lognormal(3600))
            ask(asked)
            self._status(asked, contact, "open")
            last = self._later(asked, self._lognormal(FIRST_RESPONSE_S[contact.channel]))
            answer(last)
        return last

    # -- channels -----------------------------------------------------------------------

    def _contact(self, at: datetime) -> None:
        channel = self._pick(CHANNEL_MIX)
        customer = self._customer(at, channel)
        match channel:
            case Channel.PHONE:
                self._call(at, customer)
            case Channel.EMAIL | Channel.SOCIAL:
                self._written(at, customer, channel)
            case _:
                self._chat(at, customer, channel)

    def _call(self, at: datetime, customer: str) -> None:
        contact = self._contact_for(at, customer, Channel.PHONE)
        call_id = self._id("call")
        self._emit(at, "call.queued", contact, call_id=call_id, queue=self.rng.choice(QUEUES))
        wait = self._lognormal(FIRST_RESPONSE_S[Channel.PHONE], spread=0.8)
        if self.rng.random() < ABANDON_SHARE:
            self._emit(self._later(at, min(wait, 90)), "call.abandoned", contact, call_id=call_id)
            if contact.ticket is not None:  # the ticket remembers to call back
                self._phone_call(self._later(at, self._lognormal(1800)), contact, outbound=True)
            return
        self._phone_call(self._later(at, wait), contact, call_id=call_id)

    def _phone_call(
        self, at: datetime, contact: _Contact, *, call_id: str = "", outbound: bool = False
    ) -> None:
        call_id = call_id or self._id("call")
        event_type = "call.outbound" if outbound else "call.answered"
        self._emit(at, event_type, contact, call_id=call_id, agent_id=contact.agent)
        if self.rng.random() < 0.1:
            self._emit(
                self._later(at, self.rng.uniform(20, 120)),
                "call.transferred",
                contact,
                call_id=call_id,
                to_queue=self.rng.choice(QUEUES),
            )
        ended = self._later(at, self._lognormal(240))
        self._emit(ended, "call.ended", contact, call_id=call_id)
        self._wrap_up(ended, contact)

    def _written(self, at: datetime, customer: str, channel: Channel) -> None:
        """Email and social: always a ticket, since neither source ever ends a conversation."""
        replied = self._later(at, self._lognormal(FIRST_RESPONSE_S[channel]))
        # Now and then the helpdesk's webhook lags: the agent's reply reaches Kafka first.
        late = self._later(replied, 5) if self.rng.random() < LATE_TICKET_SHARE else None
        contact = self._open_ticket(at, customer, channel, due=late)
        send = self._mailer(contact) if channel is Channel.EMAIL else self._poster(contact)
        send(at, False, {})
        if self.rng.random() < 0.5:
            send(self._later(at, 2), True, {"automated": True})
        send(replied, True, {"agent_id": contact.agent})
        last = self._follow_ups(
            replied,
            contact,
            lambda moment: send(moment, False, {}),
            lambda moment: send(moment, True, {"agent_id": contact.agent}),
        )
        self._close(self._later(last, self.rng.uniform(120, 3600)), contact)

    def _mailer(self, contact: _Contact) -> Callable[[datetime, bool, dict[str, Any]], None]:
        thread = self._id("thr")

        def mail(at: datetime, outbound: bool, extra: dict[str, Any]) -> None:
            event_type = "email.sent" if outbound else "email.received"
            self._emit(
                at, event_type, contact, thread_id=thread, message_id=self._id("msg"), **extra
            )

        return mail

    def _poster(self, contact: _Contact) -> Callable[[datetime, bool, dict[str, Any]], None]:
        conversation, network = self._id("conv"), self.rng.choice(NETWORKS)

        def post(at: datetime, outbound: bool, extra: dict[str, Any]) -> None:
            if not outbound:
                extra = {"kind": self.rng.choice(("post", "mention", "direct_message"))}
            event_type = "social.replied" if outbound else "social.received"
            self._emit(
                at,
                event_type,
                contact,
                conversation_id=conversation,
                network=network,
                post_id=self._id("post"),
                **extra,
            )

        return post

    def _chat(self, at: datetime, customer: str, channel: Channel) -> None:
        contact = self._contact_for(at, customer, channel)
        session = self._id(channel.value)

        def say(moment: datetime, event_type: str, **extra: Any) -> None:
            self._emit(
                moment, event_type, contact, session_id=session, channel=channel.value, **extra
            )

        say(at, "chat.started")
        if self.rng.random() < 0.6:  # the bot greets and asks for the order number
            say(self._later(at, 1), "chat.message", author="bot")
        moment = self._later(at, self._lognormal(FIRST_RESPONSE_S[channel], spread=0.7))
        for _ in range(self.rng.randint(1, 5)):
            say(moment, "chat.message", author="agent")
            if self.rng.random() < 0.1:  # a whisper to a colleague: not an answer
                say(moment, "chat.message", author="agent", internal=True)
            moment = self._later(moment, self.rng.uniform(10, 90))
            say(moment, "chat.message", author="customer")
            moment = self._later(moment, self.rng.uniform(10, 60))
        say(moment, "chat.ended")
        self._wrap_up(moment, contact)
