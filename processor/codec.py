"""Bytes in and out: source messages, routed events, table state, snapshots, dead letters.

Every (de)serialization ccpulse does lives here, so formats change in one place. Table
state carries a version number; a state written by a newer, unknown version is refused
loudly rather than misread.

Decoding a source message never raises: it returns the event or a ``Rejection`` whose
``reason`` is a bounded label and whose ``detail`` tells a human what was wrong. The
decoder also rejects an event whose ``occurred_at`` no source could have meant: later than
a small clock skew ahead of now, or older than a configured age. It does not judge the
message key: source topics are keyed however their producers like, and every event is
routed by the ticket its body names.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
from pydantic import Field, TypeAdapter, ValidationError

from processor.core import Fact, FactKind, TicketMetrics, TicketState
from processor.core.customer import CustomerState, TicketView
from processor.core.ticket import RepeatMark
from processor.events import SOURCE_MODELS, SourceEvent, SourceKind, event_models
from processor.events.internal import InternalEvent
from processor.view_clocks import Watermark

STATE_VERSION = 2


class RejectReason(StrEnum):
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_TYPE = "unknown_type"
    NAIVE_TIMESTAMP = "naive_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    ANCIENT_TIMESTAMP = "ancient_timestamp"
    INVALID_EVENT = "invalid_event"


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: RejectReason
    detail: str


DAY_S = 86_400.0
FUTURE_SKEW_LIMIT_S = 7 * DAY_S
EVENT_AGE_LIMIT_DAYS = 36_500.0
"""The widest bounds a decoder accepts: wider ones would let timestamps near the ends of
the calendar through, where date arithmetic overflows."""
_SHOWN_TYPE_CHARS = 80  # a ``type`` is echoed in the detail; a huge one is cut


class SourceDecoder:
    """Turns a source topic's message bytes into a validated event (adapters built once).

    ``occurred_at`` must lie between ``now() - max_age_days`` and ``now() +
    max_future_skew_s``. The future bound is a clock skew: a source cannot report what has
    not happened yet, so it holds for live traffic and for replayed history alike. The
    past bound is an age relative to ``now`` rather than a fixed date, so that it keeps
    catching what broken producers write (the Unix epoch, a device clock reset to its
    factory date, seconds read as milliseconds) without being moved every year, while the
    default of ten years leaves any realistic history replayable; an older archive is
    replayed with a larger age. Both bounds are capped (``FUTURE_SKEW_LIMIT_S``,
    ``EVENT_AGE_LIMIT_DAYS``) so that every accepted timestamp stays far from the ends of the
    calendar, where the metrics' date arithmetic would overflow. ``now`` (Unix seconds) is
    injected so that tests can fix it.
    """

    def __init__(
        self,
        max_bytes: int,
        *,
        now: Callable[[], float] = time.time,
        max_future_skew_s: float = 300.0,
        max_age_days: float = 3650.0,
    ) -> None:
        if not 0 <= max_future_skew_s <= FUTURE_SKEW_LIMIT_S:
            raise ValueError(
                f"max_future_skew_s {max_future_skew_s} is not in 0..{FUTURE_SKEW_LIMIT_S:g}"
            )
        if not 0 < max_age_days <= EVENT_AGE_LIMIT_DAYS:
            raise ValueError(f"max_age_days {max_age_days} is not in (0, {EVENT_AGE_LIMIT_DAYS:g}]")
        self.max_bytes = max_bytes
        self.now = now
        self.max_future_skew_s = max_future_skew_s
        self.max_age_days = max_age_days
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
        # Any JSON value may stand in ``type``; an array or object is not hashable.
        if not isinstance(event_type, str) or event_type not in self._types[kind]:
            known = ", ".join(sorted(self._types[kind]))
            shown = repr(event_type)[:_SHOWN_TYPE_CHARS]
            return Rejection(
                RejectReason.UNKNOWN_TYPE,
                f"type {shown} is not an event of {kind.value} (expected one of {known})",
            )
        try:
            event = self._adapters[kind].validate_python(body)
        except ValidationError as error:
            return _rejection(error)
        out_of_time = self._out_of_time(event)
        return event if out_of_time is None else out_of_time

    def _out_of_time(self, event: Any) -> Rejection | None:
        occurred = event.occurred_at.timestamp()
        now = self.now()
        latest = now + self.max_future_skew_s
        if occurred > latest:
            return Rejection(
                RejectReason.FUTURE_TIMESTAMP,
                f"occurred_at: {event.occurred_at.isoformat()} is {occurred - now:.0f} s after "
                f"now ({_utc(now)}), more than the {self.max_future_skew_s:g} s allowed "
                "(CCPULSE_MAX_FUTURE_SKEW_S)",
            )
        oldest = now - self.max_age_days * DAY_S
        if occurred < oldest:
            return Rejection(
                RejectReason.ANCIENT_TIMESTAMP,
                f"occurred_at: {event.occurred_at.isoformat()} is before {_utc(oldest)}, "
                f"{self.max_age_days:g} days before now (CCPULSE_MAX_EVENT_AGE_DAYS)",
            )
        return None


def _utc(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
            "written_at": state.written_at,
            "swept": state.swept,
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
        written_at=body.get("written_at", 0.0),
        swept=body.get("swept", False),
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


def encode_watermark(watermark: Watermark) -> bytes:
    """The ticket step's clock, for a partition of the views topic (sent without a key)."""
    return orjson.dumps(
        {"now": watermark.now, "partitions": watermark.partitions, "of": watermark.of}
    )


def decode_watermark(raw: bytes) -> Watermark:
    body = orjson.loads(raw)
    return Watermark(body["now"], tuple(body["partitions"]), body["of"])


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
            "written_at": state.written_at,
            "swept": state.swept,
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
        written_at=body.get("written_at", 0.0),
        swept=body.get("swept", False),
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
