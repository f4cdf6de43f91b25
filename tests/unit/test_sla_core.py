"""SLA timers in the pure core: targets, warning ladders, pauses, business hours, cycles,
and the same audit trail whatever order the events arrive in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.core import fold_all
from processor.core.calendar import BusinessCalendar
from processor.core.sla import Policy, PolicyBook, Rule, SlaKind, Target, due, next_due, running
from processor.core.ticket import clock_of
from processor.core.ticket_sla import check
from processor.events import SourceEvent
from tests.builders import T0, TicketRef, event

TID: TicketRef = {"ticket_id": "S"}
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = BusinessCalendar(
    timezone="Europe/Berlin", weekly={day: ((time(9), time(17)),) for day in range(1, 6)}
)


def policy(**targets: float) -> Policy:
    return Policy("p", "v1", {Target(name): s for name, s in targets.items()}, (0.5, 0.75))


def trail(
    events: Sequence[SourceEvent], pol: Policy, now: datetime
) -> list[tuple[str, str, int, datetime]]:
    clock = clock_of(fold_all(None, events).state)
    return [(e.kind.value, e.target.value, e.cycle, e.at) for e in due(clock, pol, now)]


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def test_a_response_in_time_is_met_without_warnings() -> None:
    events = [
        event("email.received", minute=0, thread_id="t", message_id="m1", **TID),
        event("email.sent", minute=4, thread_id="t", message_id="m2", **TID),
    ]
    assert trail(events, policy(first_response=600), at(60)) == [
        ("applied", "first_response", 0, at(0)),
        ("met", "first_response", 0, at(4)),
    ]


def test_the_warning_ladder_then_the_breach_fire_as_their_moments_pass() -> None:
    events = [event("email.received", minute=0, thread_id="t", message_id="m1", **TID)]
    ladder = Policy("p", "v1", {Target.FIRST_RESPONSE: 600}, (0.5, 0.9), warn_before_s=(120,))
    assert [k for k, *_ in trail(events, ladder, at(7))] == ["applied", "warning"]
    assert [k for k, *_ in trail(events, ladder, at(8.5))] == ["applied", "warning", "warning"]
    assert trail(events, ladder, at(10))[-1] == ("breached", "first_response", 0, at(10))
    levels = [e.level for e in due(clock_of(fold_all(None, events).state), ladder, at(10))]
    assert levels == [None, 0.5, 0.8, 0.9, None]


@pytest.mark.parametrize(("answered_minute", "verdict"), [(10, "met"), (15, "breached")])
def test_an_answer_right_at_the_deadline_is_met_and_one_after_it_is_not(
    answered_minute: int, verdict: str
) -> None:
    events = [
        event("email.received", minute=0, thread_id="t", message_id="m1", **TID),
        event("email.sent", minute=answered_minute, thread_id="t", message_id="m2", **TID),
    ]
    kinds = [k for k, *_ in trail(events, policy(first_response=600), at(60))]
    assert kinds == ["applied", "warning", "warning", verdict]


def test_waiting_on_the_customer_pauses_the_timer_and_is_audited() -> None:
    events = [
        event("email.received", minute=0, thread_id="t", message_id="m1", **TID),
        event("ticket.status_changed", minute=2, status="pending", **TID),
        event("ticket.status_changed", minute=62, status="open", **TID),
    ]
    found = trail(events, policy(first_response=600), at(200))
    assert ("paused", "first_response", 0, at(2)) in found
    assert ("resumed", "first_response", 0, at(62)) in found
    assert ("breached", "first_response", 0, at(70)) in found


def test_a_resolution_stops_a_response_timer_without_a_verdict() -> None:
    events = [
        event("email.received", minute=0, thread_id="t", message_id="m1", **TID),
        event("ticket.status_changed", minute=3, status="solved", **TID),
    ]
    assert [k for k, *_ in trail(events, policy(first_response=600), at(60))] == ["applied"]


def test_each_customer_message_after_an_answer_starts_a_next_response_cycle() -> None:
    events = [
        event("chat.started", minute=0, session_id="c", **TID),
        event("chat.message", minute=1, session_id="c", author="agent", **TID),
        event("chat.message", minute=2, session_id="c", author="customer", **TID),
        event("chat.message", minute=3, session_id="c", author="customer", **TID),
        event("chat.message", minute=4, session_id="c", author="agent", **TID),
        event("chat.message", minute=10, session_id="c", author="customer", **TID),
    ]
    found = trail(events, policy(next_response=300), at(30))
    assert ("met", "next_response", 1, at(4)) in found
    assert ("applied", "next_response", 2, at(10)) in found
    assert ("breached", "next_response", 2, at(15)) in found


def test_a_reopen_resumes_the_resolution_timer_without_the_time_spent_solved() -> None:
    events = [
        event("ticket.created", minute=0, channel="email", **TID),
        event("ticket.status_changed", minute=10, status="solved", **TID),
        event("ticket.status_changed", minute=100, status="open", **TID),
    ]
    assert ("met", "resolution", 0, at(10)) in trail(events[:2], policy(resolution=1800), at(50))
    found = trail(events, policy(resolution=1800), at(300))
    assert ("breached", "resolution", 0, at(120)) in found


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def office_ticket(opened: datetime, *statuses: tuple[datetime, str]) -> list[SourceEvent]:
    base = [
        event("ticket.created", minute=(opened - T0).total_seconds() / 60, channel="email", **TID)
    ]
    return base + [
        event("ticket.status_changed", minute=(when - T0).total_seconds() / 60, status=s, **TID)
        for when, s in statuses
    ]


def test_a_pause_spanning_a_weekend_in_business_hours() -> None:
    # Friday 15:00; waits on the customer Friday 16:00 to Monday 10:00; 8 business hours.
    events = office_ticket(
        local(2026, 11, 20, 15),
        (local(2026, 11, 20, 16), "pending"),
        (local(2026, 11, 23, 10), "open"),
    )
    office = Policy("office", "v1", {Target.RESOLUTION: 8 * 3600}, (0.5,), calendar=OFFICE)
    audit = due(clock_of(fold_all(None, events).state), office, local(2026, 12, 1))
    # Half-way through Monday's opening: 1 h on Friday and 3 h on Monday have elapsed.
    warning = next(e for e in audit if e.kind is SlaKind.WARNING)
    assert warning.at == local(2026, 11, 23, 13)
    assert warning.business_elapsed_seconds == 4 * 3600
    breach = next(e for e in audit if e.kind is SlaKind.BREACHED)
    assert breach.at == local(2026, 11, 23, 17)
    assert breach.business_elapsed_seconds == 8 * 3600
    assert (
        breach.calendar_elapsed_seconds
        == (local(2026, 11, 23, 17) - local(2026, 11, 20, 15)).total_seconds()
    )


def test_business_hours_across_a_clock_change_and_a_holiday() -> None:
    # Friday 23 Oct 2026 16:00 CEST; clocks go back on Sunday; Monday 26 Oct is a holiday.
    events = office_ticket(local(2026, 10, 23, 16))
    calendar = BusinessCalendar(OFFICE.timezone, OFFICE.weekly, frozenset({date(2026, 10, 26)}))
    two_hours = Policy("o", "v1", {Target.RESOLUTION: 7200}, (), calendar=calendar)
    clock = clock_of(fold_all(None, events).state)
    assert next_due(clock, two_hours, local(2026, 10, 23, 16, 30)) == local(2026, 10, 27, 10)
    assert local(2026, 10, 27, 10) == datetime(2026, 10, 27, 9, tzinfo=UTC)


def test_running_timers_tell_when_they_warn_and_breach() -> None:
    events = [event("email.received", minute=0, thread_id="t", message_id="m1", **TID)]
    (timer,) = running(clock_of(fold_all(None, events).state), policy(first_response=600))
    assert (timer.warns_at, timer.breaches_at) == (at(5), at(10))


def test_the_first_matching_rule_picks_the_policy() -> None:
    urgent, chat = policy(first_response=60), policy(first_response=120)
    book = PolicyBook((Rule(urgent, priority="urgent"), Rule(chat, channel="chat")))
    assert book.policy_for("chat", "urgent", None) is urgent
    assert book.policy_for("chat", "normal", "vip") is chat
    assert book.policy_for("email", "normal", None) is None


def test_check_reports_each_audit_event_once() -> None:
    events = [event("email.received", minute=0, thread_id="t", message_id="m1", **TID)]
    transition = fold_all(None, events)
    book = PolicyBook((Rule(policy(first_response=600)),))
    first = check(transition.state, transition.after, book, at(6))
    again = check(first.state, transition.after, book, at(6))
    later = check(again.state, transition.after, book, at(11))
    assert [e.kind for e in first.events] == [SlaKind.APPLIED, SlaKind.WARNING]
    assert again.events == ()
    assert [e.kind for e in later.events] == [SlaKind.WARNING, SlaKind.BREACHED]
    assert first.next_due == at(7.5)


# -- order-insensitivity ---------------------------------------------------------------

SCENARIO = [
    event("ticket.created", minute=0, channel="email", priority="high", **TID),
    event("email.received", minute=1, thread_id="x", message_id="m0", **TID),
    event("email.sent", minute=2, thread_id="x", message_id="m1", automated=True, **TID),
    event("email.sent", minute=12, thread_id="x", message_id="m2", agent_id="a", **TID),
    event("ticket.status_changed", minute=13, status="pending", **TID),
    event("email.received", minute=25, thread_id="x", message_id="m3", **TID),
    event("ticket.status_changed", minute=26, status="open", **TID),
    event("call.queued", minute=40, call_id="c1", **TID),
    event("call.answered", minute=47, call_id="c1", agent_id="a", **TID),
    event("ticket.status_changed", minute=50, status="solved", **TID),
    event("ticket.status_changed", minute=70, status="open", **TID),
    event("chat.started", minute=71, session_id="s", **TID),
    event("ticket.status_changed", minute=200, status="solved", **TID),
]
FULL = Policy(
    "full",
    "v1",
    {Target.FIRST_RESPONSE: 600, Target.NEXT_RESPONSE: 900, Target.RESOLUTION: 5400},
    (0.5, 0.75),
    calendar=OFFICE,
)
BOOK = PolicyBook((Rule(FULL),))


@settings(max_examples=200, deadline=None)
@given(
    st.permutations(SCENARIO),
    st.lists(st.sampled_from(SCENARIO), max_size=6),
    st.lists(st.integers(0, 400), min_size=1, max_size=5),
)
def test_same_events_in_any_order_and_checks_at_any_moments_give_the_same_trail(
    order: list[SourceEvent], redelivered: list[SourceEvent], check_minutes: list[int]
) -> None:
    end = at(400)
    expected = {e.event_id for e in due(clock_of(fold_all(None, SCENARIO).state), FULL, end)}
    state, emitted = None, []
    arrivals = [*order, *redelivered]
    cut = len(arrivals) // 2
    for batch, minute in (
        (arrivals[:cut], min(check_minutes)),
        (arrivals[cut:], max(check_minutes)),
    ):
        if not batch:
            continue
        transition = fold_all(state, batch)
        result = check(transition.state, transition.after, BOOK, at(minute))
        emitted += [e.event_id for e in result.events]
        state = result.state
    assert state is not None
    final = check(state, fold_all(state, SCENARIO[:1]).after, BOOK, end)
    emitted += [e.event_id for e in final.events]
    assert len(emitted) == len(set(emitted))
    assert expected <= set(emitted)


def test_an_abandoned_call_has_no_resolution_verdict() -> None:
    events = [
        event("call.queued", minute=0, call_id="c9"),
        event("call.abandoned", minute=1, call_id="c9"),
    ]
    found = trail(events, policy(first_response=600, resolution=3600), at(120))
    assert [k for k, *_ in found] == ["applied", "applied"]
