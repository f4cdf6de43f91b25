"""Table state survives encoding: tickets with SLA ids and marks, customers with views."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import orjson
import pytest

from processor.codec import decode_customer, decode_state, encode_customer, encode_state
from processor.core import fold_all
from processor.core.customer import CustomerState, TicketView
from processor.core.ticket import RepeatMark
from tests.builders import event


def test_a_ticket_state_with_sla_ids_and_marks_round_trips() -> None:
    state = fold_all(
        None, [event("email.received", minute=0, thread_id="t", message_id="m", ticket_id="T")]
    ).state
    state = replace(
        state,
        sla_sent=frozenset({"first_response/0/applied/p@v1"}),
        repeat=RepeatMark("S", 120.0, "phone", ("24h", "7d")),
        fcr=False,
        writer="run-1",
        swept=True,
    )
    assert decode_state(encode_state(state)) == state


def test_a_customer_state_round_trips() -> None:
    opened = datetime(2026, 3, 2, 9, tzinfo=UTC)
    view = TicketView("T", 3, opened, "email", resolved_at=opened, reopens=1, reason="refund")
    state = CustomerState(
        "c1", {"T": view}, {"T": ("S", ("7d",))}, {"S": True}, writer="run-1", swept=True
    )
    assert decode_customer(encode_customer(state)) == state


def test_a_state_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version 1"):
        decode_state(orjson.dumps({"v": 1, "ticket": "T"}))
