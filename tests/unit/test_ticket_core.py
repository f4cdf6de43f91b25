"""The ticket core: FRT, touches, resolution and reopen semantics, and order-insensitivity."""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from processor.core import (
    DuplicateIgnored,
    Effect,
    FirstResponded,
    FirstResponseCorrected,
    Reopened,
    Resolved,
    TicketMetrics,
    TicketOpened,
    derive,
    fold_all,
)
from processor.events import SourceEvent
from tests.builders import TicketRef, event


def metrics_of(*events: SourceEvent) -> TicketMetrics:
    return fold_all(None, events).after


def effects_of(*events: SourceEvent) -> list[Effect]:
    return list(fold_all(None, events).effects)


def test_email_first_response_runs_from_first_inbound_to_first_human_reply() -> None:
    metrics = metrics_of(
        event("email.received", minute=0, thread_id="t1", message_id="m1"),
        event("email.received", minute=5, thread_id="t1", message_id="m2"),
        event("email.sent", minute=42, thread_id="t1", message_id="m3", agent_id="a1"),
    )
    assert metrics.ticket_id == "t1"
    assert metrics.channel == "email"
    assert metrics.first_response_seconds == 42 * 60


def test_a_bot_reply_is_not_a_first_response() -> None:
    metrics = metrics_of(
        event("chat.started", minute=0, session_id="s1"),
        event("chat.message", minute=0.1, session_id="s1", author="bot"),
        event("chat.message", minute=2, session_id="s1", author="agent"),
    )
    assert metrics.first_response_seconds == 120
    assert metrics.touches == 1


def test_an_automated_email_and_an_internal_note_are_neither_response_nor_touch() -> None:
    metrics = metrics_of(
        event("ticket.created", minute=0, ticket_id="T", channel="email"),
        event("email.sent", minute=1, ticket_id="T", thread_id="x", message_id="m", automated=True),
        event("ticket.commented", minute=2, ticket_id="T", author="agent", public=False),
    )
    assert metrics.first_response_seconds is None
    assert metrics.touches == 0
    assert metrics.awaiting_first_response


def test_phone_frt_is_speed_of_answer_and_an_abandoned_call_has_none() -> None:
    answered = metrics_of(
        event("call.queued", second=0, call_id="c1"),
        event("call.answered", second=37, call_id="c1", agent_id="a"),
        event("call.ended", second=400, call_id="c1"),
    )
    abandoned = metrics_of(
        event("call.queued", second=0, call_id="c2"),
        event("call.abandoned", second=50, call_id="c2"),
    )
    assert answered.first_response_seconds == 37
    assert answered.resolution_seconds == 400
    assert answered.one_touch is True
    assert abandoned.first_response_seconds is None
    assert not abandoned.is_open
    assert abandoned.resolutions == 0


def test_a_chat_session_is_one_touch_however_many_agent_messages() -> None:
    metrics = metrics_of(
        event("chat.started", minute=0, session_id="s1", ticket_id="T"),
        *[
            event("chat.message", minute=i, session_id="s1", ticket_id="T", author="agent")
            for i in range(1, 6)
        ],
        event("ticket.status_changed", minute=9, ticket_id="T", status="solved"),
    )
    assert metrics.touches == 1
    assert metrics.one_touch is True


def test_an_agent_reply_before_the_created_event_gives_frt_once_the_ticket_arrives() -> None:
    reply = event("email.sent", minute=30, ticket_id="T", thread_id="x", message_id="m")
    created = event("ticket.created", minute=0, ticket_id="T", channel="email")
    first = fold_all(None, [reply])
    assert first.after.first_response_seconds is None
    assert not first.after.is_known
    second = fold_all(first.state, [created])
    assert second.after.first_response_seconds == 1800
    kinds = [type(effect) for effect in second.effects]
    assert kinds == [TicketOpened, FirstResponded]


def test_frt_is_recorded_once_and_only_an_earlier_late_event_corrects_it() -> None:
    created = event("ticket.created", minute=10, ticket_id="T", channel="email")
    reply = event("email.sent", minute=20, ticket_id="T", thread_id="x", message_id="m")
    later_reply = event("email.sent", minute=25, ticket_id="T", thread_id="x", message_id="n")
    earlier_contact = event(
        "email.received", minute=4, ticket_id="T", thread_id="x", message_id="o"
    )
    step = fold_all(None, [created, reply, later_reply])
    assert step.after.first_response_seconds == 600
    assert next(e for e in step.effects if isinstance(e, FirstResponded)).seconds == 600
    corrected = fold_all(step.state, [earlier_contact])
    assert corrected.after.first_response_seconds == 960
    assert [type(e) for e in corrected.effects] == [FirstResponseCorrected]


def test_touches_count_across_channels_until_resolution_and_a_reopen_continues() -> None:
    tid: TicketRef = {"ticket_id": "T"}
    events = [
        event("ticket.created", minute=0, channel="email", **tid),
        event("email.sent", minute=10, thread_id="x", message_id="m1", **tid),
        event("call.outbound", minute=20, call_id="c9", agent_id="a", **tid),
        event("ticket.status_changed", minute=30, status="solved", **tid),
        event("email.sent", minute=31, thread_id="x", message_id="m2", **tid),
    ]
    resolved = metrics_of(*events)
    assert resolved.touches == 2
    assert resolved.resolution_seconds == 1800
    assert resolved.one_touch is False
    reopened = metrics_of(
        *events,
        event("ticket.status_changed", minute=40, status="open", **tid),
        event("ticket.status_changed", minute=50, status="solved", **tid),
    )
    assert reopened.touches == 3
    assert reopened.reopens == 1
    assert reopened.resolutions == 2
    assert reopened.resolution_seconds == 3000


def test_reopen_and_second_resolution_are_each_reported_once() -> None:
    tid: TicketRef = {"ticket_id": "T"}
    effects = effects_of(
        event("ticket.created", minute=0, channel="chat", **tid),
        event("ticket.status_changed", minute=5, status="solved", **tid),
        event("ticket.status_changed", minute=6, status="closed", **tid),
        event("ticket.status_changed", minute=7, status="open", **tid),
        event("ticket.status_changed", minute=9, status="solved", **tid),
    )
    resolved = [e.seconds for e in effects if isinstance(e, Resolved)]
    assert resolved == [300, 540]
    assert sum(isinstance(e, Reopened) for e in effects) == 1


def test_a_redelivered_event_changes_nothing_and_is_reported_as_a_duplicate() -> None:
    received = event("email.received", minute=0, thread_id="t", message_id="m")
    reply = event("email.sent", minute=3, thread_id="t", message_id="n", agent_id="a")
    once = fold_all(None, [received, reply])
    again = fold_all(once.state, [reply, received])
    assert again.after == once.after
    assert not again.changed
    assert [type(e) for e in again.effects] == [DuplicateIgnored, DuplicateIgnored]


def test_priority_queue_and_reason_take_the_latest_value_in_event_time() -> None:
    tid: TicketRef = {"ticket_id": "T"}
    metrics = metrics_of(
        event("ticket.priority_changed", minute=9, priority="urgent", **tid),
        event("ticket.created", minute=0, channel="web", priority="low", queue="q1", **tid),
        event("ticket.reason_set", minute=3, reason="billing", **tid),
        event("ticket.assigned", minute=2, agent_id="a", queue="q2", **tid),
    )
    assert (metrics.priority, metrics.queue, metrics.reason) == ("urgent", "q2", "billing")
    assert metrics.channel == "web"


def test_a_ticket_opened_by_an_agent_is_in_the_backlog_without_awaiting_a_response() -> None:
    metrics = metrics_of(
        event("ticket.created", minute=0, ticket_id="T", channel="phone", opened_by="agent")
    )
    assert metrics.is_open
    assert not metrics.awaiting_first_response
    assert metrics.first_response_seconds is None


# -- order-insensitivity ---------------------------------------------------------------

TID: TicketRef = {"ticket_id": "P"}
SCENARIO = [
    event("ticket.created", minute=0, channel="email", priority="high", **TID),
    event("email.received", minute=1, thread_id="x", message_id="m0", **TID),
    event("email.sent", minute=2, thread_id="x", message_id="m1", automated=True, **TID),
    event("email.sent", minute=12, thread_id="x", message_id="m2", agent_id="a", **TID),
    event("ticket.commented", minute=13, author="agent", public=False, **TID),
    event("call.queued", minute=20, call_id="c1", **TID),
    event("call.answered", minute=21, call_id="c1", agent_id="a", **TID),
    event("ticket.status_changed", minute=30, status="pending", **TID),
    event("ticket.status_changed", minute=40, status="solved", **TID),
    event("ticket.status_changed", minute=50, status="open", **TID),
    event("chat.started", minute=51, session_id="s", **TID),
    event("chat.message", minute=52, session_id="s", author="agent", **TID),
    event("chat.message", minute=53, session_id="s", author="agent", **TID),
    event("ticket.priority_changed", minute=54, priority="urgent", **TID),
    event("ticket.status_changed", minute=60, status="solved", **TID),
    event("ticket.status_changed", minute=61, status="closed", **TID),
]


def _counts(effects: Iterable[Effect]) -> dict[str, int]:
    names = [type(e).__name__ for e in effects if not isinstance(e, FirstResponseCorrected)]
    return {name: names.count(name) for name in set(names)}


@settings(max_examples=300, deadline=None)
@given(st.permutations(SCENARIO), st.lists(st.sampled_from(SCENARIO), max_size=8))
def test_same_events_in_any_order_with_redeliveries_give_the_same_metrics(
    order: list[SourceEvent], redelivered: list[SourceEvent]
) -> None:
    in_order = fold_all(None, SCENARIO)
    shuffled = fold_all(None, [*order, *redelivered])
    assert shuffled.after == in_order.after
    assert derive(shuffled.state) == in_order.after
    counts = _counts(shuffled.effects)
    counts.pop("DuplicateIgnored", None)
    assert counts == _counts(in_order.effects)


def test_the_scenario_metrics_are_what_the_semantics_say() -> None:
    metrics = fold_all(None, SCENARIO).after
    assert metrics.first_response_seconds == 12 * 60
    assert metrics.touches == 3
    assert (metrics.resolutions, metrics.reopens) == (2, 1)
    assert metrics.resolution_seconds == 60 * 60
    assert metrics.priority == "urgent"
    assert metrics.status == "closed"
    assert not metrics.is_open
