"""A synthetic contact center for the demo and for load.

``ContactCenter`` (seeded, and free of Kafka and clocks: time is passed in) simulates
customers contacting the center on every channel (phone 35 %, email 25 %, chat 20 %,
social 10 %, SMS 10 %) in waves, agents who answer with channel-typical delays (sometimes
slowly), bot and automated replies, internal notes, multi-touch tickets, reopens,
customers who come back on another channel, surveys, a few events delivered out of
order, and a trickle of malformed messages. ``run_traffic`` sends what the simulation
emits to Kafka at the wall-clock time it is due.

Delays are realistic up to twenty seconds; beyond that they are divided by ``time_scale``,
so an email answered "after an hour" shows up within a minute of demo time while a phone
queue still waits seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from processor.config import Settings
from processor.events import SourceKind
from processor.kafka import client_options

CHANNEL_MIX = (("phone", 0.35), ("email", 0.25), ("chat", 0.20), ("social", 0.10), ("sms", 0.10))
PRIORITY_MIX = (("low", 0.2), ("normal", 0.55), ("high", 0.2), ("urgent", 0.05))
REASONS = (
    "billing",
    "refund",
    "delivery_status",
    "damaged_item",
    "password_reset",
    "login_issue",
    "cancel_order",
    "change_address",
    "invoice_copy",
    "product_question",
    "warranty",
    "return_label",
    "subscription_change",
    "payment_failed",
    "promo_code",
    "account_closure",
    "technical_fault",
    "installation_help",
    "complaint",
    "feedback",
)
QUEUES = ("general", "billing", "tech", "vip")
WAVE_PERIOD_S = 180.0
REAL_DELAY_LIMIT_S = 20.0


@dataclass(frozen=True, slots=True, order=True)
class Emission:
    """One message for a source topic, due at ``due`` (wall-clock/event time)."""

    due: datetime
    sequence: int
    kind: SourceKind = field(compare=False)
    key: bytes = field(compare=False)
    value: bytes = field(compare=False)


class ContactCenter:
    def __init__(
        self,
        *,
        seed: int,
        start: datetime,
        rate: float,
        time_scale: float = 120.0,
        malformed_fraction: float = 0.005,
    ) -> None:
        self.rng = random.Random(seed)
        self.rate = rate
        self.time_scale = time_scale
        self.malformed_fraction = malformed_fraction
        self.start = start
        self._next_arrival = start
        self._pending: list[Emission] = []
        self._sequence = itertools.count()
        self._ids = itertools.count(1)
        self._recent_customers: list[tuple[str, str]] = []

    # -- time ---------------------------------------------------------------------------

    def advance(self, until: datetime) -> list[Emission]:
        """Every emission due at or before ``until``, in due order."""
        while self._next_arrival <= until:
            self._contact(self._next_arrival)
            self._next_arrival += timedelta(seconds=self._gap(self._next_arrival))
        due: list[Emission] = []
        while self._pending and self._pending[0].due <= until:
            due.append(heapq.heappop(self._pending))
        return due

    def _gap(self, moment: datetime) -> float:
        elapsed = (moment - self.start).total_seconds()
        wave = 1.0 + 0.6 * math.sin(2 * math.pi * elapsed / WAVE_PERIOD_S)
        return self.rng.expovariate(self.rate * wave)

    def _delay(self, realistic_s: float) -> timedelta:
        if realistic_s <= REAL_DELAY_LIMIT_S:
            return timedelta(seconds=realistic_s)
        compressed = REAL_DELAY_LIMIT_S + (realistic_s - REAL_DELAY_LIMIT_S) / self.time_scale
        return timedelta(seconds=compressed)

    def _lognormal(self, median_s: float, spread: float = 0.6, slow_chance: float = 0.08) -> float:
        value = self.rng.lognormvariate(math.log(median_s), spread)
        return value * self.rng.uniform(3, 6) if self.rng.random() < slow_chance else value

    # -- building blocks ----------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):07d}-{self.rng.getrandbits(24):06x}"

    def _pick(self, mix: tuple[tuple[str, float], ...]) -> str:
        names, weights = zip(*mix, strict=True)
        return str(self.rng.choices(names, weights)[0])

    def _customer(self, channel: str) -> str:
        """A new customer, or now and then one who came recently on another channel."""
        others = [c for c, ch in self._recent_customers[-300:] if ch != channel]
        if others and self.rng.random() < 0.12:
            return self.rng.choice(others)
        customer = self._id("cust")
        self._recent_customers.append((customer, channel))
        del self._recent_customers[:-1000]
        return customer

    def _emit(
        self,
        kind: SourceKind,
        key: str,
        at: datetime,
        body: dict[str, Any],
        *,
        due: datetime | None = None,
    ) -> None:
        event = {
            "type": body.pop("type"),
            "event_id": self._id("ev"),
            "occurred_at": at.isoformat(),
            **body,
        }
        value = orjson.dumps(event)
        if self.rng.random() < self.malformed_fraction:
            value = self._malformed(event)
        emission = Emission(due or at, next(self._sequence), kind, key.encode(), value)
        heapq.heappush(self._pending, emission)

    def _malformed(self, event: dict[str, Any]) -> bytes:
        damage: list[Callable[[], bytes]] = [
            lambda: orjson.dumps(event)[: self.rng.randrange(1, 20)],
            lambda: orjson.dumps({k: v for k, v in event.items() if k != "customer_id"}),
            lambda: orjson.dumps({**event, "type": event["type"] + "_v2"}),
            lambda: orjson.dumps({**event, "occurred_at": event["occurred_at"][:19]}),
        ]
        return self.rng.choice(damage)()

    # -- contacts -----------------------------------------------------------------------

    def _contact(self, at: datetime) -> None:
        channel = self._pick(CHANNEL_MIX)
        customer = self._customer(channel)
        match channel:
            case "phone":
                self._call(at, customer)
            case "email":
                self._email(at, customer)
            case "social":
                self._social(at, customer)
            case _:
                self._chat(at, customer, channel)

    def _ticket(
        self, at: datetime, customer: str, channel: str, *, due: datetime | None = None
    ) -> dict[str, Any]:
        ticket_id = self._id("ZD")
        base = {"customer_id": customer, "ticket_id": ticket_id}
        self._emit(
            SourceKind.TICKETS,
            ticket_id,
            at,
            {
                "type": "ticket.created",
                **base,
                "channel": channel,
                "priority": self._pick(PRIORITY_MIX),
                "queue": self.rng.choice(QUEUES),
            },
            due=due,
        )
        reason_at = at + self._delay(self.rng.uniform(30, 600))
        self._emit(
            SourceKind.TICKETS,
            ticket_id,
            reason_at,
            {"type": "ticket.reason_set", **base, "reason": self.rng.choice(REASONS)},
        )
        return base

    def _resolve(
        self, at: datetime, base: dict[str, Any], reply: Callable[[datetime], None]
    ) -> None:
        ticket_id = base["ticket_id"]
        self._emit(
            SourceKind.TICKETS,
            ticket_id,
            at,
            {"type": "ticket.status_changed", **base, "status": "solved"},
        )
        if self.rng.random() < 0.08:
            reopened = at + self._delay(self.rng.uniform(600, 7200))
            self._emit(
                SourceKind.TICKETS,
                ticket_id,
                reopened,
                {"type": "ticket.status_changed", **base, "status": "open"},
            )
            again = reopened + self._delay(self._lognormal(1800))
            reply(again)
            solved = again + self._delay(self.rng.uniform(60, 1800))
            self._emit(
                SourceKind.TICKETS,
                ticket_id,
                solved,
                {"type": "ticket.status_changed", **base, "status": "solved"},
            )
            at = solved
        self._survey(at + self._delay(self.rng.uniform(300, 3600)), base)

    def _survey(self, at: datetime, base: dict[str, Any]) -> None:
        if self.rng.random() > 0.3:
            return
        survey = {"customer_id": base["customer_id"], "survey_id": self._id("srv")}
        if "ticket_id" in base:
            survey["ticket_id"] = base["ticket_id"]
        kind = self.rng.choice(["csat", "nps", "ces"])
        score = {
            "csat": lambda: self.rng.choice([1, 2, 3, 4, 4, 5, 5, 5]),
            "nps": lambda: self.rng.choice([0, 3, 6, 7, 8, 9, 9, 10, 10]),
            "ces": lambda: self.rng.randint(1, 7),
        }[kind]()
        self._emit(
            SourceKind.SURVEYS,
            survey["survey_id"],
            at,
            {"type": f"survey.{kind}_answered", **survey, "score": score},
        )

    def _call(self, at: datetime, customer: str) -> None:
        ticketed = self.rng.random() < 0.3
        base: dict[str, Any] = (
            self._ticket(at, customer, "phone") if ticketed else {"customer_id": customer}
        )
        call = {**base, "call_id": self._id("call")}
        key = base.get("ticket_id", call["call_id"])
        self._emit(
            SourceKind.CALLS,
            key,
            at,
            {"type": "call.queued", **call, "queue": self.rng.choice(QUEUES)},
        )
        wait = self._delay(self._lognormal(25, spread=0.8))
        if self.rng.random() < 0.08:
            self._emit(
                SourceKind.CALLS,
                key,
                at + min(wait, timedelta(seconds=90)),
                {"type": "call.abandoned", **call},
            )
            return
        agent = self._id("agent")
        answered = at + wait
        self._emit(
            SourceKind.CALLS, key, answered, {"type": "call.answered", **call, "agent_id": agent}
        )
        ended = answered + self._delay(self._lognormal(240))
        self._emit(SourceKind.CALLS, key, ended, {"type": "call.ended", **call})
        if ticketed:

            def callback(moment: datetime) -> None:
                self._emit(
                    SourceKind.CALLS,
                    key,
                    moment,
                    {
                        "type": "call.outbound",
                        **base,
                        "call_id": self._id("call"),
                        "agent_id": agent,
                    },
                )

            self._resolve(ended + self._delay(self.rng.uniform(30, 300)), base, callback)
        else:
            self._survey(ended + self._delay(60), base)

    def _email(self, at: datetime, customer: str) -> None:
        replied = at + self._delay(self._lognormal(3600))
        # Now and then the helpdesk's webhook lags: the agent's reply reaches Kafka first.
        late = replied + self._delay(5) if self.rng.random() < 0.05 else None
        base = self._ticket(at, customer, "email", due=late)
        thread = {**base, "thread_id": self._id("thr")}
        key = base["ticket_id"]

        def mail(moment: datetime, kind: str, **extra: Any) -> None:
            self._emit(
                SourceKind.EMAILS,
                key,
                moment,
                {"type": kind, **thread, "message_id": self._id("msg"), **extra},
            )

        mail(at, "email.received")
        mail(at + self._delay(2), "email.sent", automated=True)
        agent = self._id("agent")
        self._emit(
            SourceKind.TICKETS,
            key,
            at + self._delay(self.rng.uniform(20, 900)),
            {"type": "ticket.assigned", **base, "agent_id": agent},
        )
        mail(replied, "email.sent", agent_id=agent)
        if self.rng.random() < 0.2:
            self._emit(
                SourceKind.TICKETS,
                key,
                replied + self._delay(60),
                {
                    "type": "ticket.commented",
                    **base,
                    "author": "agent",
                    "public": False,
                    "agent_id": agent,
                },
            )
        last = replied
        for _ in range(self._extra_rounds()):
            follow_up = last + self._delay(self._lognormal(3600))
            mail(follow_up, "email.received")
            last = follow_up + self._delay(self._lognormal(5400))
            mail(last, "email.sent", agent_id=agent)
        self._resolve(
            last + self._delay(self.rng.uniform(120, 3600)),
            base,
            lambda moment: mail(moment, "email.sent", agent_id=agent),
        )

    def _extra_rounds(self) -> int:
        return self.rng.choices([0, 1, 2, 3], [0.55, 0.28, 0.12, 0.05])[0]

    def _chat(self, at: datetime, customer: str, channel: str) -> None:
        ticketed = self.rng.random() < 0.4
        base: dict[str, Any] = (
            self._ticket(at, customer, channel) if ticketed else {"customer_id": customer}
        )
        session = {**base, "session_id": self._id("chs"), "channel": channel}
        key = base.get("ticket_id", session["session_id"])

        def say(moment: datetime, kind: str, **extra: Any) -> None:
            self._emit(SourceKind.CHATS, key, moment, {"type": kind, **session, **extra})

        say(at, "chat.started")
        if self.rng.random() < 0.6:
            say(at + self._delay(1), "chat.message", author="bot")
        median = 30.0 if channel == "chat" else 600.0
        moment = at + self._delay(self._lognormal(median, spread=0.7))
        for _ in range(self.rng.randint(1, 5)):
            say(moment, "chat.message", author="agent")
            moment += self._delay(self.rng.uniform(10, 90))
            say(moment, "chat.message", author="customer")
            moment += self._delay(self.rng.uniform(10, 60))
        say(moment, "chat.ended")
        if ticketed:
            self._resolve(
                moment + self._delay(30), base, lambda m: say(m, "chat.message", author="agent")
            )
        else:
            self._survey(moment + self._delay(30), base)

    def _social(self, at: datetime, customer: str) -> None:
        ticketed = self.rng.random() < 0.5
        base: dict[str, Any] = (
            self._ticket(at, customer, "social") if ticketed else {"customer_id": customer}
        )
        thread = {
            **base,
            "conversation_id": self._id("conv"),
            "network": self.rng.choice(["x", "facebook", "instagram"]),
        }
        key = base.get("ticket_id", thread["conversation_id"])

        def post(moment: datetime, event_type: str, **extra: Any) -> None:
            self._emit(
                SourceKind.SOCIAL,
                key,
                moment,
                {"type": event_type, **thread, "post_id": self._id("post"), **extra},
            )

        post(at, "social.received", kind=self.rng.choice(["post", "mention", "direct_message"]))
        if self.rng.random() < 0.2:
            post(at + self._delay(5), "social.replied", automated=True)
        agent = self._id("agent")
        replied = at + self._delay(self._lognormal(1800))
        post(replied, "social.replied", agent_id=agent)
        if ticketed:
            self._resolve(
                replied + self._delay(self.rng.uniform(300, 7200)),
                base,
                lambda m: post(m, "social.replied", agent_id=agent),
            )


async def run_traffic(
    settings: Settings,
    *,
    rate: float,
    time_scale: float,
    seed: int,
    stop: asyncio.Event,
    malformed_fraction: float = 0.005,
    tick_s: float = 0.1,
) -> None:
    """Produce the simulation to the source topics in real time until ``stop`` is set."""
    center = ContactCenter(
        seed=seed,
        start=datetime.now(UTC),
        rate=rate,
        time_scale=time_scale,
        malformed_fraction=malformed_fraction,
    )
    producer = AIOKafkaProducer(**client_options(settings.kafka), linger_ms=20)
    await producer.start()
    try:
        while not stop.is_set():
            for emission in center.advance(datetime.now(UTC)):
                topic = settings.topics.source(emission.kind)
                await producer.send(topic, value=emission.value, key=emission.key)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick_s)
        await producer.flush()
    finally:
        await producer.stop()
