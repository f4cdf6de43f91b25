"""Bytes in and out: source messages, routed events, table state, snapshots, dead letters.

Every (de)serialization ccpulse does lives here, so formats change in one place. Table
state carries a version number; a state written by a newer, unknown version is refused
loudly rather than misread.

Decoding a source message never raises: it returns the event or a ``Rejection`` whose
``reason`` is a bounded label and whose ``detail`` tells a human what was wrong.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
from pydantic import Field, TypeAdapter, ValidationError

from processor.core import Fact, FactKind, TicketMetrics, TicketState
from processor.core.customer import CustomerState, TicketView
from processor.core.ticket import RepeatMark
from processor.events import SOURCE_MODELS, SourceEvent, SourceKind, event_models
from processor.events.internal import InternalEvent

STATE_VERSION = 2


class RejectReason(StrEnum):
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_TYPE = "unknown_type"
    NAIVE_TIMESTAMP = "naive_timestamp"
    INVALID_EVENT = "invalid_event"


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: RejectReason
    detail: str


class SourceDecoder:
    """Turns a source topic's message bytes into a validated event (adapters built once)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._adapters = {kind: TypeAdapter(model) for kind, model in SOURCE_MODELS.items()}
        self._types = {kind: frozenset(event_models(kind)) for kind in SourceKind}

    def decode(self, kind: SourceKind, raw: bytes | None) -> Any:  # noqa: PLR0911 - a return per reason
        """The event, or a ``Rejection`` saying why not."""
        if not raw:
            return Rejection(RejectReason.EMPTY, "empty message")
        if len(raw) > self.max_bytes:
            return Rejection(
                RejectReason.TOO_LARGE, f"{len(raw)} bytes exceeds the {self.max_bytes} limit"
            )
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            return Rejection(RejectReason.INVALID_JSON, f"not JSON: {error}")
        if not isinstance(body, dict):
            return Rejection(RejectReason.NOT_AN_OBJECT, f"a JSON {type(body).__name__}")
        event_type = body.get("type")
        if event_type not in self._types[kind]:
            known = ", ".join(sorted(self._types[kind]))
            return Rejection(
                RejectReason.UNKNOWN_TYPE,
                f"type {event_type!r} is not an event of {kind.value} (expected one of {known})",
            )
        try:
            return self._adapters[kind].validate_python(body)
        except ValidationError as error:
            return _rejection(error)


def _rejection(error: ValidationError) -> Rejection:
    problems = error.errors(include_url=False, include_input=False)
    detail = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'][1:]) or 'event'}: {problem['msg']}"
        for problem in problems
    )
    if any(problem["type"] == "timezone_aware" for problem in problems):
        return Rejection(RejectReason.NAIVE_TIMESTAMP, detail)
    return Rejection(RejectReason.INVALID_EVENT, detail)


RoutedEvent = Annotated[SourceEvent | InternalEvent, Field(discriminator="type")]
"""What the routing topic carries: source events and the customer agent's marks."""
_ANY_EVENT: TypeAdapter[Any] = TypeAdapter(RoutedEvent)


def encode_event(event: Any) -> bytes:
    """A validated event, re-encoded canonically for the internal routing topic."""
    return event.__pydantic_serializer__.to_json(event)  # type: ignore[no-any-return]


def decode_event(raw: bytes) -> Any:
    return _ANY_EVENT.validate_json(raw)


def encode_state(state: TicketState) -> bytes:
    facts = {
        event_id: [[fact.kind.value, fact.at, fact.value, fact.touch] for fact in facts]
        for event_id, facts in state.facts.items()
    }
    repeat = state.repeat
    return orjson.dumps(
        {
            "v": STATE_VERSION,
            "ticket": state.ticket_id,
            "customer": state.customer,
            "facts": facts,
            "sla_sent": sorted(state.sla_sent),
            "writer": state.writer,
            "repeat": (
                [repeat.repeat_of, repeat.gap_seconds, repeat.previous_channel, repeat.windows]
                if repeat
                else None
            ),
            "fcr": state.fcr,
        }
    )


def decode_state(raw: bytes) -> TicketState:
    body = _versioned(raw, "ticket")
    at, event_id, customer_id = body["customer"]
    repeat = body["repeat"]
    return TicketState(
        ticket_id=body["ticket"],
        customer=(at, event_id, customer_id),
        facts={
            event_id: tuple(
                Fact(FactKind(kind), at, value, touch) for kind, at, value, touch in facts
            )
            for event_id, facts in body["facts"].items()
        },
        sla_sent=frozenset(body["sla_sent"]),
        writer=body["writer"],
        repeat=RepeatMark(repeat[0], repeat[1], repeat[2], tuple(repeat[3])) if repeat else None,
        fcr=body["fcr"],
    )


def _versioned(raw: bytes, kind: str) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(raw)
    if body.get("v") != STATE_VERSION:
        raise ValueError(f"{kind} state version {body.get('v')!r} is not {STATE_VERSION}")
    return body


def encode_view(view: TicketView) -> bytes:
    """A ticket's view for its customer's state (internal topic and customer table)."""
    return orjson.dumps(_view_fields(view), option=orjson.OPT_UTC_Z)


def decode_view(raw: bytes) -> TicketView:
    return _view(orjson.loads(raw))


def _view_fields(view: TicketView) -> list[Any]:
    return [
        view.ticket_id,
        view.version,
        view.opened_at.isoformat(),
        view.channel,
        view.resolved_at.isoformat() if view.resolved_at else None,
        view.reopens,
        view.reason,
    ]


def _view(fields: list[Any]) -> TicketView:
    ticket_id, version, opened_at, channel, resolved_at, reopens, reason = fields
    return TicketView(
        ticket_id=ticket_id,
        version=version,
        opened_at=datetime.fromisoformat(opened_at),
        channel=channel,
        resolved_at=datetime.fromisoformat(resolved_at) if resolved_at else None,
        reopens=reopens,
        reason=reason,
    )


def encode_customer(state: CustomerState) -> bytes:
    return orjson.dumps(
        {
            "v": STATE_VERSION,
            "customer": state.customer_id,
            "tickets": [_view_fields(view) for view in state.tickets.values()],
            "flagged": {ticket: [of, list(ws)] for ticket, (of, ws) in state.flagged.items()},
            "decided": state.decided,
            "writer": state.writer,
        }
    )


def decode_customer(raw: bytes) -> CustomerState:
    body = _versioned(raw, "customer")
    views = (_view(fields) for fields in body["tickets"])
    return CustomerState(
        customer_id=body["customer"],
        tickets={view.ticket_id: view for view in views},
        flagged={ticket: (of, tuple(windows)) for ticket, (of, windows) in body["flagged"].items()},
        decided=body["decided"],
        writer=body["writer"],
    )


def encode_snapshot(metrics: TicketMetrics) -> bytes:
    return orjson.dumps(metrics, option=orjson.OPT_UTC_Z)


def encode_dead_letter(
    rejection: Rejection, *, topic: str, partition: int, offset: int, key: bytes | None, raw: bytes
) -> bytes:
    """A dead letter: why, where from, and the original bytes (base64, and as text if UTF-8)."""
    try:
        text: str | None = raw.decode("utf-8")[:2000]
    except UnicodeDecodeError:
        text = None
    return orjson.dumps(
        {
            "reason": rejection.reason.value,
            "detail": rejection.detail,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "key": base64.b64encode(key).decode() if key is not None else None,
            "original": base64.b64encode(raw).decode(),
            "original_text": text,
        }
    )
