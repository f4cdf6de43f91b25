"""Repeat contacts and FCR verdicts from a customer's tickets, in any arrival order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypedDict, Unpack

from hypothesis import given, settings
from hypothesis import strategies as st

from processor.core.customer import (
    CustomerState,
    RepeatRule,
    TicketView,
    close_windows,
    fcr_verdict,
    next_verdict_at,
    observe,
    repeat_of,
    repeats,
    update,
    verdicts_due,
)

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
WEEK = timedelta(days=7)


class ViewFields(TypedDict, total=False):
    """The optional fields of a ``TicketView``."""

    resolved_at: datetime | None
    reopens: int
    reason: str | None


def view(
    ticket: str, day: float, channel: str = "email", **fields: Unpack[ViewFields]
) -> TicketView:
    return TicketView(ticket, 1, T0 + timedelta(days=day), channel, **fields)


def customer(*views: TicketView) -> CustomerState:
    state = None
    for ticket in views:
        state = update(state, "c1", ticket)
    assert state is not None
    return state


def test_a_phone_call_two_days_after_an_email_repeats_it() -> None:
    state = customer(view("E", 0, "email"), view("P", 2, "phone"))
    repeat = repeat_of(state, "P", WEEK)
    assert repeat is not None
    assert (repeat.repeat_of, repeat.gap, repeat.previous_channel) == ("E", timedelta(2), "email")
    assert repeat_of(state, "E", WEEK) is None


def test_a_contact_after_the_window_is_not_a_repeat_and_windows_differ() -> None:
    state = customer(view("A", 0), view("B", 2))
    assert repeat_of(state, "B", timedelta(days=1)) is None
    assert repeat_of(state, "B", timedelta(days=3)) is not None


def test_the_latest_earlier_ticket_is_the_one_repeated() -> None:
    state = customer(view("A", 0), view("B", 1), view("C", 3))
    assert {t: r.repeat_of for t, r in repeats(state, WEEK).items()} == {"B": "A", "C": "B"}


def test_fcr_is_pending_until_the_window_after_resolution_closes() -> None:
    resolved = T0 + timedelta(days=1)
    state = customer(view("A", 0, resolved_at=resolved))
    assert fcr_verdict(state, "A", WEEK, resolved + WEEK - timedelta(seconds=1)) is None
    assert fcr_verdict(state, "A", WEEK, resolved + WEEK) is True


def test_a_repeat_or_a_reopen_makes_the_verdict_negative() -> None:
    resolved = T0 + timedelta(days=1)
    later = resolved + WEEK
    came_back = customer(view("A", 0, resolved_at=resolved), view("B", 5))
    reopened = customer(view("A", 0, resolved_at=resolved, reopens=1))
    assert fcr_verdict(came_back, "A", WEEK, later) is False
    assert fcr_verdict(reopened, "A", WEEK, later) is False
    assert fcr_verdict(customer(view("A", 0)), "A", WEEK, later) is None


def test_verdicts_already_decided_are_not_given_again() -> None:
    resolved = T0 + timedelta(days=1)
    state = customer(view("A", 0, resolved_at=resolved), view("B", 0.5, resolved_at=resolved))
    now = resolved + WEEK
    assert verdicts_due(state, WEEK, now) == {"A": False, "B": True}
    assert verdicts_due(state, WEEK, now, decided={"A"}) == {"B": True}


def test_an_older_view_never_overwrites_a_newer_one() -> None:
    newer = TicketView("A", 5, T0, "email", resolved_at=T0 + timedelta(hours=1))
    older = TicketView("A", 3, T0, "email")
    assert update(update(None, "c1", newer), "c1", older).tickets["A"] == newer


VIEWS = [
    TicketView("A", 1, T0, "email"),
    TicketView("A", 4, T0, "email", resolved_at=T0 + timedelta(hours=5)),
    TicketView("B", 2, T0 + timedelta(days=2), "phone"),
    TicketView("C", 1, T0 + timedelta(days=20), "chat"),
    TicketView("C", 3, T0 + timedelta(days=20), "chat", resolved_at=T0 + timedelta(days=21)),
    TicketView("D", 1, T0 + timedelta(days=23), "social"),
]


@settings(max_examples=200, deadline=None)
@given(st.permutations(VIEWS), st.lists(st.sampled_from(VIEWS), max_size=5))
def test_any_order_and_redelivery_give_the_same_repeats_and_verdicts(
    order: list[TicketView], again: list[TicketView]
) -> None:
    expected, shuffled = customer(*VIEWS), customer(*order, *again)
    assert shuffled == expected
    now = T0 + timedelta(days=60)
    assert repeats(shuffled, WEEK) == repeats(expected, WEEK)
    assert verdicts_due(shuffled, WEEK, now) == {"A": False, "C": False}


RULE = RepeatRule((("1d", timedelta(days=1)), ("7d", WEEK)), WEEK)


def test_observe_reports_each_window_once_and_updates_a_changed_repeat_of() -> None:
    state, changes = observe(customer(view("A", 0), view("C", 2, "phone")), RULE)
    assert [
        (c.repeat.ticket_id, c.repeat.repeat_of, c.windows, c.new_windows) for c in changes
    ] == [("C", "A", ("7d",), ("7d",))]
    assert observe(state, RULE)[1] == []
    late = update(state, "c1", view("B", 1.5, "chat"))  # a late, earlier ticket
    _, changes = observe(late, RULE)
    moved = {c.repeat.ticket_id: (c.repeat.repeat_of, c.windows, c.new_windows) for c in changes}
    assert moved == {"B": ("A", ("7d",), ("7d",)), "C": ("B", ("7d", "1d"), ("1d",))}


def test_with_same_reason_only_a_ticket_for_the_same_reason_is_a_repeat() -> None:
    same = RepeatRule(RULE.windows, WEEK, same_reason=True)
    state = customer(view("A", 0, reason="refund"), view("B", 1, reason="login"))
    assert observe(state, same)[1] == []
    state = update(state, "c1", view("C", 2, reason="refund"))
    (change,) = observe(state, same)[1]
    assert (change.repeat.ticket_id, change.repeat.repeat_of) == ("C", "A")


def test_close_windows_decides_each_verdict_once_and_tells_the_next_closing() -> None:
    state = customer(view("A", 0, resolved_at=T0 + timedelta(hours=1)))
    assert next_verdict_at(state, RULE) == T0 + timedelta(hours=1) + WEEK
    state, verdicts = close_windows(state, RULE, T0 + timedelta(days=8))
    assert verdicts == {"A": True}
    assert close_windows(state, RULE, T0 + timedelta(days=9))[1] == {}
    assert next_verdict_at(state, RULE) is None
