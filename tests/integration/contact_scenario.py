"""A seeded contact-center stream, planned first so that its truth is known.

``generate`` plans every contact: a bare phone call, a chat or SMS session, a helpdesk
(email) ticket or a social conversation, each with when the customer first wrote, when
(if ever) a human first answered, how it ended, its touches and its survey answer. It then
writes the source events a contact center sends for that plan, with the noise that must
not count (bot greetings, automated acknowledgements, internal notes and whispers,
transfers), and sends some events a second time (same ``event_id`` and key) further down
the stream. Some customers come back within the repeat windows. ``contact_truth`` reads
what ccpulse must report off the plans.

Every event that opens a ticket, or on which a counted value depends (answers, endings,
status changes), is on the same source topic and key as the ticket's first event, so one
partition keeps their order. Only replies to helpdesk tickets that stay open, automated
acknowledgements and survey answers come from other topics: nothing counted depends on
the order in which those arrive. It deliberately does not model pauses, calendars,
cross-channel tickets, contact reasons or bad input (other tests cover those).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from processor.config import RepeatSettings, Settings, SlaSettings
from processor.events import SourceKind

POLICY_VERSION = "reliability-1"
TARGETS_S = {"phone": 60.0, "chat": 120.0, "sms": 600.0, "email": 3600.0, "social": 7200.0}
WARN_SHARE = 0.5
WINDOWS = (("1h", timedelta(hours=1)), ("4h", timedelta(hours=4)))
"""Repeat windows, shortest first; the FCR window is the widest."""
FCR_WINDOW = WINDOWS[-1][1]
POLICIES = f'version: "{POLICY_VERSION}"\npolicies:\n' + "".join(
    f"  - name: {channel}\n    match: {{channel: {channel}}}\n"
    f"    targets: {{first_response: {target:g}s}}\n    warnings: {{at: [{WARN_SHARE:.0%}]}}\n"
    for channel, target in TARGETS_S.items()
)
CHANNEL_MIX = (("phone", 0.3), ("chat", 0.2), ("sms", 0.1), ("email", 0.25), ("social", 0.15))
PRIORITIES = ("low", "normal", "high", "urgent")
SERVICE_LEVEL_S = 20.0
SHORT_ABANDON_S = 5.0
"""The default call service-level threshold and short-abandon time."""
COMEBACK_SHARE = 0.3
COMEBACK_HORIZON = timedelta(hours=5)


def worker_settings(settings: Settings, policy_file: Path, lateness: timedelta) -> Settings:
    """``settings`` with the scenario's SLA policies and repeat windows on the event-time
    clock (``lateness`` behind the newest event), and a 3 s session timeout: a killed
    member holds the group until its session times out."""
    policy_file.write_text(POLICIES)
    sla = SlaSettings(
        policy_file=str(policy_file),
        clock="event_time",
        check_interval_s=0.25,
        lateness_s=lateness.total_seconds(),
    )
    repeat = RepeatSettings(windows=tuple(label for label, _ in WINDOWS))
    kafka = settings.kafka.model_copy(update={"session_timeout_s": 3.0})
    return settings.model_copy(update={"sla": sla, "repeat": repeat, "kafka": kafka})


@dataclass(frozen=True, slots=True)
class Message:
    source: SourceKind
    key: bytes
    body: dict[str, Any]

    @property
    def at(self) -> datetime:
        return datetime.fromisoformat(self.body["occurred_at"])


@dataclass(slots=True)
class Plan:
    """What happens to one ticket; the events are written from it, the truth read off it."""

    ticket: str
    customer: str
    channel: str
    opened: datetime
    priority: str = "normal"
    response: datetime | None = None
    closed: datetime | None = None
    abandoned: bool = False
    resolved: datetime | None = None
    """The latest resolution (a reopened ticket is resolved twice)."""
    resolutions: int = 0
    reopens: int = 0
    touches: int = 0
    one_touch_resolutions: int = 0
    """Resolutions after exactly one touch and no reopen (a reopened ticket may have one)."""
    call_wait_s: float | None = None
    surveys: list[tuple[str, int]] = field(default_factory=list)
    events: int = 0

    @property
    def is_open(self) -> bool:
        return self.closed is None

    @property
    def order(self) -> tuple[datetime, str]:
        return self.opened, self.ticket


@dataclass(frozen=True, slots=True)
class Scenario:
    plans: dict[str, Plan]
    messages: list[Message]
    """Every message in the order to produce it, copies included."""
    copies: int

    def for_topics(self, topic_of: Any) -> list[tuple[str, bytes, dict[str, Any]]]:
        """(topic, key, value) for ``produce``; ``topic_of`` maps a SourceKind to a name."""
        return [(topic_of(m.source), m.key, m.body) for m in self.messages]


def _ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _delta(seconds: float) -> timedelta:
    """Whole milliseconds, so that every moment and difference is exact in the reference."""
    return timedelta(milliseconds=round(seconds * 1000))


class _Writer:
    """Renders plans into messages; ids are unique per scenario."""

    def __init__(self, rng: random.Random, prefix: str = "") -> None:
        self.rng = rng
        self.prefix = prefix
        self.messages: list[Message] = []
        self._serial = 0

    def emit(
        self, plan: Plan, source: SourceKind, event_type: str, at: datetime, **fields: Any
    ) -> None:
        self._serial += 1
        body = {
            "type": event_type,
            "event_id": f"{self.prefix}ev-{self._serial:07d}",
            "occurred_at": at.isoformat(),
            "customer_id": plan.customer,
            **fields,
        }
        self.messages.append(Message(source, plan.ticket.encode(), body))
        plan.events += 1

    def lognormal(self, median_s: float, spread: float = 0.6) -> timedelta:
        return _delta(self.rng.lognormvariate(math.log(median_s), spread))

    def survey(self, plan: Plan, at: datetime, share: float) -> None:
        if plan.resolved is None or self.rng.random() >= share:
            return
        kind = self.rng.choice(("csat", "nps", "ces"))
        low, high, scale = {"csat": (1, 5, 5), "nps": (0, 10, 10), "ces": (1, 7, 7)}[kind]
        score = self.rng.randint(low, high)
        extra = {"scale": scale} if kind != "nps" else {}
        survey_id = f"srv-{plan.ticket}"
        when = at + _delta(self.rng.uniform(60, 1800))
        self.emit(
            plan,
            SourceKind.SURVEYS,
            f"survey.{kind}_answered",
            when,
            survey_id=survey_id,
            ticket_id=plan.ticket,
            channel=plan.channel,
            score=score,
            **extra,
        )
        plan.surveys.append((kind, score))

    def close(self, plan: Plan) -> None:
        """End a contact that would stay open: the caller hangs up, the chat ends, the
        helpdesk solves the ticket (or the conversation), hours after it opened."""
        at = plan.opened + _delta(self.rng.uniform(3, 6) * 3600)
        if plan.channel == "phone" and plan.response is None:
            self.emit(plan, SourceKind.CALLS, "call.abandoned", at, call_id=plan.ticket)
            plan.closed, plan.abandoned = at, True
            plan.call_wait_s = (at - plan.opened).total_seconds()
            return
        if plan.channel in ("chat", "sms"):
            fields = {"session_id": plan.ticket, "channel": plan.channel}
            self.emit(plan, SourceKind.CHATS, "chat.ended", at, **fields)
        else:
            ids = {"ticket_id": plan.ticket, "status": "solved"}
            self.emit(plan, SourceKind.TICKETS, "ticket.status_changed", at, **ids)
        plan.closed = plan.resolved = at
        plan.resolutions, plan.one_touch_resolutions = 1, int(plan.touches == 1)

    # -- channels ----------------------------------------------------------------------

    def phone(self, plan: Plan) -> None:
        o, rng, calls = plan.opened, self.rng, SourceKind.CALLS
        ids = {"call_id": plan.ticket}
        self.emit(plan, calls, "call.queued", o, queue=rng.choice(("general", "vip")), **ids)
        fate = rng.random()
        if fate < 0.04:  # still ringing when the stream ends
            return
        if fate < 0.12:
            wait = _delta(rng.uniform(1, 90))
            plan.closed, plan.abandoned = o + wait, True
            plan.call_wait_s = wait.total_seconds()
            self.emit(plan, calls, "call.abandoned", plan.closed, **ids)
            return
        answered = o + self.lognormal(40)
        plan.response, plan.touches = answered, 1
        plan.call_wait_s = (answered - o).total_seconds()
        self.emit(plan, calls, "call.answered", answered, agent_id="agent-1", **ids)
        if rng.random() < 0.1:
            moved = answered + _delta(rng.uniform(20, 120))
            self.emit(plan, calls, "call.transferred", moved, to_queue="billing", **ids)
        ended = answered + _delta(rng.uniform(60, 900))
        plan.closed = plan.resolved = ended
        plan.resolutions = plan.one_touch_resolutions = 1
        self.emit(plan, calls, "call.ended", ended, **ids)
        self.survey(plan, ended, 0.25)

    def chat(self, plan: Plan) -> None:
        o, rng, target = plan.opened, self.rng, TARGETS_S[plan.channel]
        session = {"session_id": plan.ticket, "channel": plan.channel}

        def say(kind: str, at: datetime, **fields: Any) -> None:
            self.emit(plan, SourceKind.CHATS, kind, at, **session, **fields)

        say("chat.started", o)
        if rng.random() < 0.6:
            say("chat.message", o + timedelta(seconds=2), author="bot")
        fate = rng.random()
        if fate < 0.04:  # nobody answered, nobody ended it
            return
        if fate < 0.1:  # the customer gave up: resolved without an answer
            end = o + _delta(target * rng.uniform(0.2, 3.0))
        else:
            plan.response = moment = o + self.lognormal(target * 0.7)
            plan.touches = 1
            for _ in range(rng.randint(1, 3)):
                say("chat.message", moment, author="agent")
                if rng.random() < 0.1:
                    say("chat.message", moment, author="agent", internal=True)
                moment += _delta(rng.uniform(10, 60))
                say("chat.message", moment, author="customer")
                moment += _delta(rng.uniform(10, 60))
            if rng.random() < 0.04:  # the conversation is still going
                return
            end = moment + _delta(rng.uniform(30, 600))
        plan.closed = plan.resolved = end
        plan.resolutions, plan.one_touch_resolutions = 1, plan.touches
        say("chat.ended", end)
        self.survey(plan, end, 0.2)

    def helpdesk(self, plan: Plan) -> None:
        o, rng, tickets = plan.opened, self.rng, SourceKind.TICKETS
        ids = {"ticket_id": plan.ticket}
        plan.priority = rng.choice(PRIORITIES)
        self.emit(
            plan, tickets, "ticket.created", o, channel="email", priority=plan.priority, **ids
        )
        thread = {"thread_id": f"thr-{plan.ticket}", **ids}
        ack = o + _delta(rng.uniform(5, 60))
        self.emit(
            plan, SourceKind.EMAILS, "email.sent", ack, message_id="ack", automated=True, **thread
        )
        if rng.random() < 0.45:
            self._helpdesk_open(plan, thread)
        else:
            self._helpdesk_resolved(plan, ids)

    def _helpdesk_open(self, plan: Plan, thread: dict[str, str]) -> None:
        """Answered by email (another topic), never resolved: nothing counted depends on
        whether the reply or the ticket arrives first."""
        if self.rng.random() < 0.2:
            return
        reply = plan.opened + self.lognormal(TARGETS_S["email"] * 0.7)
        plan.response = reply
        for number in range(1 if self.rng.random() < 0.75 else 2):
            plan.touches += 1
            self.emit(
                plan,
                SourceKind.EMAILS,
                "email.sent",
                reply,
                message_id=f"m{number}",
                agent_id="agent-2",
                **thread,
            )
            reply += _delta(3600 * self.rng.uniform(1, 5))

    def _helpdesk_resolved(self, plan: Plan, ids: dict[str, str]) -> None:
        rng, tickets, target = self.rng, SourceKind.TICKETS, TARGETS_S["email"]

        def comment(at: datetime, author: str, public: bool = True) -> None:
            self.emit(plan, tickets, "ticket.commented", at, author=author, public=public, **ids)

        def status(at: datetime, value: str) -> None:
            self.emit(plan, tickets, "ticket.status_changed", at, status=value, **ids)

        if rng.random() < 0.1:  # the customer found the answer alone
            last = plan.opened + _delta(target * rng.uniform(0.2, 3.0))
        else:
            plan.response = last = plan.opened + self.lognormal(target * 0.7)
            comment(last, "agent")
            plan.touches = 1
            if rng.random() < 0.15:
                comment(last + timedelta(minutes=1), "agent", public=False)
            if rng.random() < 0.4:
                last += _delta(60 * rng.uniform(10, 120))
                comment(last, "customer")
                last += self.lognormal(1800)
                comment(last, "agent")
                plan.touches += 1
        solved = last + _delta(60 * rng.uniform(10, 120))
        status(solved, "solved")
        plan.resolutions, plan.one_touch_resolutions = 1, int(plan.touches == 1)
        if plan.response is not None and rng.random() < 0.1:
            reopened = solved + _delta(60 * rng.uniform(10, 60))
            status(reopened, "open")
            answer = reopened + _delta(60 * rng.uniform(5, 30))
            comment(answer, "agent")
            solved = answer + _delta(60 * rng.uniform(10, 60))
            status(solved, "solved")
            plan.touches += 1
            plan.reopens, plan.resolutions = 1, 2
        plan.closed = plan.resolved = solved
        self.survey(plan, solved, 0.3)

    def social(self, plan: Plan) -> None:
        o, rng, social = plan.opened, self.rng, SourceKind.SOCIAL
        ids = {"conversation_id": plan.ticket, "network": "x"}
        self.emit(plan, social, "social.received", o, post_id="p0", kind="mention", **ids)
        if rng.random() < 0.3:
            bot = o + _delta(rng.uniform(30, 300))
            self.emit(plan, social, "social.replied", bot, post_id="p1", automated=True, **ids)
        if rng.random() < 0.15:
            return
        reply = o + self.lognormal(TARGETS_S["social"] * 0.7)
        plan.response = reply
        for number in range(1 if rng.random() < 0.8 else 2):
            plan.touches += 1
            self.emit(
                plan, social, "social.replied", reply, post_id=f"r{number}", agent_id="a3", **ids
            )
            reply += _delta(3600 * rng.uniform(0.5, 3))


def generate(
    seed: int,
    tickets: int,
    start: datetime,
    span: timedelta,
    copy_share: float = 0.03,
    *,
    prefix: str = "",
    close_all: bool = False,
) -> Scenario:
    """``tickets`` contacts opened over ``span`` from ``start``; ``copy_share`` of the
    messages are sent a second time (same id and key) up to 2,000 messages later.
    ``prefix`` starts every id (streams generated piece by piece); ``close_all`` ends
    every contact that would stay open (a long run whose state must not grow)."""
    rng = random.Random(seed)
    writer = _Writer(rng, prefix)
    plans: dict[str, Plan] = {}
    recent: list[tuple[datetime, str]] = []
    channels = [channel for channel, _ in CHANNEL_MIX]
    weights = [weight for _, weight in CHANNEL_MIX]
    opened_at = sorted(
        _ms(start + _delta(rng.uniform(0, span.total_seconds()))) for _ in range(tickets)
    )
    for number, opened in enumerate(opened_at):
        recent = [(at, c) for at, c in recent if opened - at <= COMEBACK_HORIZON]
        if recent and rng.random() < COMEBACK_SHARE:
            customer = rng.choice(recent)[1]
        else:
            customer = f"{prefix}cust-{number:06d}"
        recent.append((opened, customer))
        channel = rng.choices(channels, weights)[0]
        kind = {"phone": "call", "email": "ZD", "social": "conv"}.get(channel, channel)
        plan = Plan(f"{prefix}{kind}-{number:06d}", customer, channel, opened)
        plans[plan.ticket] = plan
        match channel:
            case "phone":
                writer.phone(plan)
            case "chat" | "sms":
                writer.chat(plan)
            case "email":
                writer.helpdesk(plan)
            case _:
                writer.social(plan)
        if close_all and plan.closed is None:
            writer.close(plan)
    ordered = sorted(writer.messages, key=lambda m: m.at)
    copies = [(i, m) for i, m in enumerate(ordered) if rng.random() < copy_share]
    slots: dict[int, list[Message]] = defaultdict(list)
    for index, message in copies:
        slots[min(len(ordered) - 1, index + rng.randint(1, 2000))].append(message)
    stream = [m for i, original in enumerate(ordered) for m in (original, *slots.get(i, ()))]
    return Scenario(plans, stream, len(copies))
