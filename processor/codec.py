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
from enum import StrEnum
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from processor.core import Fact, FactKind, TicketMetrics, TicketState
from processor.events import SOURCE_MODELS, SourceEvent, SourceKind, event_models

STATE_VERSION = 1


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


_ANY_EVENT: TypeAdapter[Any] = TypeAdapter(SourceEvent)


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
    return orjson.dumps(
        {"v": STATE_VERSION, "ticket": state.ticket_id, "customer": state.customer, "facts": facts}
    )


def decode_state(raw: bytes) -> TicketState:
    body = orjson.loads(raw)
    if body.get("v") != STATE_VERSION:
        raise ValueError(f"ticket state version {body.get('v')!r} is not {STATE_VERSION}")
    at, event_id, customer_id = body["customer"]
    return TicketState(
        ticket_id=body["ticket"],
        customer=(at, event_id, customer_id),
        facts={
            event_id: tuple(
                Fact(FactKind(kind), at, value, touch) for kind, at, value, touch in facts
            )
            for event_id, facts in body["facts"].items()
        },
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
