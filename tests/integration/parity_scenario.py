"""The scripted half minute of a contact center behind ``test_replay_parity``.

Chats, calls, emails, social posts, SMS and a helpdesk ticket on SLA targets of a few
seconds. Every response is at least 1.5 s away from the warning or deadline it decides,
and every later ticket of a customer as far from the FCR window it falls in or out of, so
a live worker's delivery delay cannot tip a verdict. The last deadline or window is at
``LAST_DEADLINE_S``; each ticket's comment says what it is for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from processor.config import RepeatSettings

POLICIES = """
version: "parity-1"
policies:
  - name: chat
    match: {channel: chat}
    targets: {first_response: 6s, resolution: 16s}
    warnings: {at: [50%]}
  - name: email
    match: {channel: email}
    targets: {first_response: 8s, next_response: 8s}
    warnings: {at: [50%]}
  - name: phone
    match: {channel: phone}
    targets: {first_response: 5s}
    warnings: {at: [80%]}
  - name: social
    match: {channel: social}
    targets: {first_response: 7s}
    warnings: {at: [80%]}
"""
REPEAT = RepeatSettings(windows=("8s", "20s"), fcr_window="5s")
LAST_DEADLINE_S = 35.0  # the email at 16 s: its FCR window closes at 35 s

Step = tuple[float, str, dict[str, Any]]
"""(seconds after the start, event type, fields)."""


def chat_ok(t: str) -> list[Step]:  # answered before the warning (3 s), ended before 8 s
    return [
        (0, "chat.started", {}),
        (1.5, "chat.message", {"author": "agent"}),
        (6.5, "chat.ended", {}),
    ]


def chat_warn(t: str) -> list[Step]:  # warned at 3 s, answered at 4.5 s: met
    return [
        (0, "chat.started", {}),
        (4.5, "chat.message", {"author": "agent"}),
        (10, "chat.ended", {}),
    ]


def chat_breach(t: str) -> list[Step]:  # breached at 6 s, answered at 8 s, resolved in time
    return [
        (0, "chat.started", {}),
        (8, "chat.message", {"author": "agent"}),
        (12, "chat.ended", {}),
    ]


def chat_silent(t: str) -> list[Step]:  # never answered: both targets breached, no event
    return [(0, "chat.started", {})]


def sms(t: str) -> list[Step]:  # no policy
    agent = {"author": "agent", "channel": "sms"}
    return [
        (0, "chat.started", {"channel": "sms"}),
        (2, "chat.message", agent),
        (6, "chat.ended", {"channel": "sms"}),
    ]


def email_ok(t: str) -> list[Step]:
    """Met; the customer writes again at 5 s: warned at 9 s, met at 11 s."""

    def mail(n: int) -> dict[str, Any]:
        return {"thread_id": t, "ticket_id": t, "message_id": f"{t}-m{n}"}

    return [
        (0, "email.received", mail(1)),
        (2, "email.sent", {**mail(2), "agent_id": "a1"}),
        (5, "email.received", mail(3)),
        (11, "email.sent", {**mail(4), "agent_id": "a1"}),
        (14, "ticket.status_changed", {"ticket_id": t, "status": "solved"}),
    ]


def email_breach(t: str) -> list[Step]:  # breached at 8 s, answered at 10.5 s
    mail = {"thread_id": t, "ticket_id": t}
    return [
        (0, "email.received", {**mail, "message_id": f"{t}-m1"}),
        (10.5, "email.sent", {**mail, "message_id": f"{t}-m2", "agent_id": "a2"}),
        (13, "ticket.status_changed", {"ticket_id": t, "status": "solved"}),
    ]


def phone_ok(t: str) -> list[Step]:
    return [(0, "call.queued", {}), (2, "call.answered", {"agent_id": "a3"}), (7, "call.ended", {})]


def phone_breach(t: str) -> list[Step]:  # warned at 4 s, breached at 5 s, answered at 7 s
    return [
        (0, "call.queued", {}),
        (7, "call.answered", {"agent_id": "a4"}),
        (10, "call.ended", {}),
    ]


def phone_abandoned(t: str) -> list[Step]:
    return [(0, "call.queued", {}), (2.5, "call.abandoned", {})]


def social(t: str) -> list[Step]:  # met, and left open (no resolution target)
    post = {"conversation_id": t, "network": "x"}
    return [
        (0, "social.received", {**post, "post_id": f"{t}-p1"}),
        (3, "social.replied", {**post, "post_id": f"{t}-p2", "agent_id": "a5"}),
    ]


def web_reopen(t: str) -> list[Step]:  # no policy; solved, reopened, solved: FCR negative
    ticket = {"ticket_id": t}
    return [
        (0, "ticket.created", {**ticket, "channel": "web", "reason": "refund"}),
        (2, "ticket.commented", {**ticket, "author": "agent", "agent_id": "a6"}),
        (4, "ticket.status_changed", {**ticket, "status": "solved"}),
        (6, "ticket.status_changed", {**ticket, "status": "open"}),
        (10, "ticket.status_changed", {**ticket, "status": "solved"}),
    ]


OWN_ID = {
    "call": "call_id",
    "chat": "session_id",
    "email": "thread_id",
    "social": "conversation_id",
}
TICKETS: list[tuple[float, Callable[[str], list[Step]], str]] = [
    (0.0, chat_ok, "c01"),  # FCR window closes at 11.5 s
    (0.5, phone_ok, "c02"),
    (1.0, email_ok, "c03"),
    (1.5, chat_warn, "c04"),
    (2.0, phone_breach, "c05"),
    (2.5, social, "c06"),
    (3.0, chat_breach, "c07"),
    (3.5, sms, "c08"),
    (4.0, email_breach, "c09"),
    (4.5, web_reopen, "c10"),
    (5.0, phone_abandoned, "c11"),
    (5.5, chat_silent, "c12"),
    (6.0, phone_ok, "c01"),  # repeat (8s, 20s); c01's chat (FCR window to 11.5 s) fails
    (7.0, chat_ok, "c02"),  # repeat (8s, 20s); c02's call (window to 12.5 s) fails
    (8.0, email_ok, "c13"),
    (9.0, chat_warn, "c14"),
    (10.0, phone_ok, "c15"),
    (11.0, social, "c04"),  # repeat (20s); c04's chat (window to 16.5 s) fails
    (12.0, phone_ok, "c03"),  # repeat (20s); c03's email (window to 20 s) fails
    (13.0, chat_breach, "c16"),
    (14.0, sms, "c17"),
    (16.0, email_ok, "c18"),
    (17.0, phone_breach, "c08"),  # repeat (20s), after c08's SMS window closed (14.5 s)
    (17.0, chat_ok, "c03"),  # repeat of c03's call (8s, 20s); that call (to 24 s) fails
    (18.0, chat_silent, "c19"),
    (19.0, sms, "c05"),  # repeat (20s), after c05's call window closed (17 s)
    (20.0, phone_ok, "c20"),
]
FCR_NEGATIVE = {"T00", "T01", "T02", "T03", "T09", "T18"}
REPEATS = {
    "T12": ("T00", ["8s", "20s"]),
    "T13": ("T01", ["8s", "20s"]),
    "T17": ("T03", ["20s"]),
    "T18": ("T02", ["20s"]),
    "T22": ("T07", ["20s"]),
    "T23": ("T18", ["8s", "20s"]),
    "T25": ("T04", ["20s"]),
}
SURVEYS: list[Step] = [
    (10.0, "survey.csat_answered", {"ticket_id": "T00", "survey_id": "q1", "score": 5}),
    (9.0, "survey.nps_answered", {"ticket_id": "T01", "survey_id": "q2", "score": 9}),
    (23.0, "survey.ces_answered", {"ticket_id": "T14", "survey_id": "q3", "score": 2}),
]
SURVEYED = {"T00": "c01", "T01": "c02", "T14": "c13"}


def history(start: float) -> list[dict[str, Any]]:
    """Every event of the scenario, in event-time order, ``start`` being its zero."""
    events: list[tuple[float, dict[str, Any]]] = []
    for n, (opened, template, customer) in enumerate(TICKETS):
        ticket = f"T{n:02d}"
        for i, (delay, kind, fields) in enumerate(template(ticket)):
            own = OWN_ID.get(kind.split(".")[0])
            body = {own: ticket} if own and own not in fields else {}
            events.append(
                (
                    opened + delay,
                    _event(
                        f"{ticket}-{i}", kind, start + opened + delay, customer, {**body, **fields}
                    ),
                )
            )
    for i, (moment, kind, fields) in enumerate(SURVEYS):
        customer = SURVEYED[fields["ticket_id"]]
        events.append((moment, _event(f"survey-{i}", kind, start + moment, customer, fields)))
    return [event for _, event in sorted(events, key=lambda pair: pair[0])]


def _event(
    event_id: str, kind: str, at: float, customer: str, fields: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": event_id,
        "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(),
        "customer_id": customer,
        **fields,
    }


def warm_up(start: float) -> dict[str, Any]:
    """An SMS (no policy) whose consumption shows the worker is ready; part of the history."""
    return _event(
        "warm-up", "chat.started", start, "c-warm", {"session_id": "warm", "channel": "sms"}
    )
