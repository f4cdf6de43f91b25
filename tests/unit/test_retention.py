"""When closed tickets and old customer history may be forgotten."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter

from processor.core import TicketMetrics, derive, fold_all
from processor.core.customer import CustomerState, TicketView
from processor.core.retention import customer_expires_at, prune, ticket_expires_at
from processor.events import SourceEvent, SourceKind
from processor.shell.pipeline import Rules
from tests.unit.test_pipeline import NOW, REPEATS, Harness, body, solved, ticket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


EVENTS: TypeAdapter[SourceEvent] = TypeAdapter(SourceEvent)


def ticket_of(*events: dict[str, object]) -> TicketMetrics:
    return derive(fold_all(None, [EVENTS.validate_python(e) for e in events]).state)


def test_an_open_ticket_is_never_forgotten_and_a_closed_one_after_its_last_event() -> None:
    opened = body("email.received", 0, ticket_id="T", thread_id="t", message_id="m1")
    solved = body("ticket.status_changed", 120, ticket_id="T", status="solved")
    answer = body("survey.csat_answered", 300, ticket_id="T", survey_id="s", score=5)
    assert ticket_expires_at(ticket_of(opened), 30 * DAY) is None
    closed = ticket_of(opened, solved, answer)
    # The survey answer, although it changes no metric, is the last the ticket heard.
    assert ticket_expires_at(closed, 30 * DAY) == T0 + timedelta(seconds=300) + 30 * DAY


def test_an_answer_about_an_unknown_ticket_is_kept_as_long_as_a_closed_ticket() -> None:
    answer = body("survey.nps_answered", 60, survey_id="s", score=9)
    assert ticket_expires_at(ticket_of(answer), DAY) == T0 + timedelta(seconds=60) + DAY


def view(ticket: str, opened_day: int, resolved_day: int | None = None) -> TicketView:
    resolved = T0 + resolved_day * DAY if resolved_day is not None else None
    return TicketView(ticket, 1, T0 + opened_day * DAY, "email", resolved_at=resolved)


def test_a_customers_old_views_go_once_expired_and_decided() -> None:
    state = CustomerState(
        "c1",
        {
            "old": view("old", 0, resolved_day=1),
            "undecided": view("undecided", 0, resolved_day=2),
            "open": view("open", 0),
            "recent": view("recent", 20),
        },
        flagged={"recent": ("old", ("30d",)), "old": ("x", ("30d",))},
        decided={"old": True},
    )
    pruned = prune(state, T0 + 40 * DAY, retention=30 * DAY)
    assert set(pruned.tickets) == {"undecided", "recent"}
    assert pruned.flagged == {"recent": ("old", ("30d",))}
    assert pruned.decided == {}
    assert prune(state, T0 + 29 * DAY, retention=30 * DAY) is state


def test_a_customer_is_next_looked_at_when_its_earliest_view_expires() -> None:
    state = CustomerState(
        "c1",
        {"a": view("a", 3, resolved_day=5), "b": view("b", 4), "c": view("c", 0, resolved_day=1)},
        decided={"a": True},
    )
    # "c" waits for its verdict, which the FCR window decides before the retention ends.
    assert customer_expires_at(state, 10 * DAY) == T0 + 14 * DAY
    assert customer_expires_at(replace(state, tickets={}), 10 * DAY) is None


# -- through the pipeline ------------------------------------------------------------------


def retained(days: float) -> Rules:
    return Rules(repeat=REPEATS.repeat, retention=timedelta(days=days))


def test_the_sweep_deletes_closed_tickets_past_the_retention_and_keeps_open_ones() -> None:
    h = Harness(rules=retained(2), now=NOW)
    h.feed(SourceKind.TICKETS, ticket(0, "c1", "A"), solved(60, "c1", "A"), ticket(90, "c2", "B"))
    verdict = NOW + 3600 + 60  # A's FCR verdict is written into its state then
    h.tick(verdict)
    h.tick(verdict + 2 * 86400 - 1)
    assert set(h.table) == {b"A", b"B"}
    h.tick(verdict + 2 * 86400)
    assert set(h.table) == {b"B"}
    assert h.value("ccpulse_state_forgotten_total", table="tickets") == 1


def test_on_the_wall_clock_old_events_arriving_now_are_kept_the_retention_from_now() -> None:
    h = Harness(rules=retained(2), now=NOW + 100 * 86400)
    h.feed(SourceKind.TICKETS, ticket(0, "c1", "A"), solved(60, "c1", "A"))
    h.tick(h.now + 1)
    assert b"A" in h.table
    assert b"c1" in h.customers
    redelivered = ticket(0, "c1", "A")
    h.feed(SourceKind.TICKETS, redelivered)
    assert h.value("ccpulse_tickets_created_total", channel="email", priority="normal") == 1
    h.tick(h.now + 2 * 86400 + 1)
    assert b"A" not in h.table


def test_a_ticket_heard_of_again_is_kept_until_the_retention_after_that() -> None:
    h = Harness(rules=Rules(retention=timedelta(days=2)), now=NOW)
    h.feed(SourceKind.TICKETS, ticket(0, "c1", "A"), solved(60, "c1", "A"))
    answer = body("survey.csat_answered", 3000, ticket_id="A", survey_id="s1", score=5)
    h.feed(SourceKind.SURVEYS, {**answer, "customer_id": "c1"})
    h.tick(NOW + 2 * 86400 + 60)
    assert b"A" in h.table
    h.tick(NOW + 2 * 86400 + 3000)
    assert b"A" not in h.table


def test_a_customer_whose_history_expired_is_forgotten_once_its_verdicts_are_out() -> None:
    h = Harness(rules=retained(2), now=NOW)
    h.feed(SourceKind.TICKETS, ticket(0, "c1", "A"), solved(60, "c1", "A"))
    verdict = NOW + 3600 + 60  # the 1 h FCR window closes: a positive verdict, written then
    h.tick(verdict)
    assert [m["fcr"] for m in h.on("cc.repeat-contacts") if m["type"] == "fcr_verdict"] == [True]
    h.tick(verdict + 2 * 86400 - 1)
    assert b"c1" in h.customers
    h.tick(verdict + 2 * 86400)
    assert b"c1" not in h.customers
    assert h.value("ccpulse_state_forgotten_total", table="customers") == 1
    assert len(h.pipeline.fcr_due) == 0


def test_the_retention_must_outlast_the_repeat_and_fcr_windows() -> None:
    from pydantic import ValidationError

    from processor.config import RepeatSettings, Settings

    with pytest.raises(ValidationError, match="state_retention 7d must be longer"):
        Settings(state_retention="7d")
    with pytest.raises(ValidationError, match="longer than the widest"):
        Settings(state_retention="8d", repeat=RepeatSettings(windows=("1d",), fcr_window="10d"))
    assert Settings(state_retention="8d").retention() == timedelta(days=8)
