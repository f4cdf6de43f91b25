"""The input of a replay: a JSON Lines file of source events, one message per line.

Each line is a source message exactly as it was on its source topic; which topic is told
by the event's ``type`` (``call.queued``: calls), as ``processor.events.source_of`` says.
A line whose source cannot be told (empty, not JSON, not an object, no or an unknown
type) comes back with a ``Rejection`` carrying the codec's reason, to be dead-lettered
and counted like bad live input.

It deliberately does not validate the event itself: the worker's decoder does that, so a
replay rejects exactly what a live worker would, with the same reasons.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import orjson

from processor.codec import Rejection, RejectReason
from processor.events import SourceKind, event_models, source_of

_CHUNK = 1 << 20
_PREFIXES = ", ".join(
    sorted({f"{name.split('.')[0]}.*" for kind in SourceKind for name in event_models(kind)})
)


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    """1-based, as editors show it; dead letters name it as their offset."""
    raw: bytes
    """The line without its line break."""
    source: SourceKind | Rejection


def source_of_line(raw: bytes) -> SourceKind | Rejection:
    """The source topic a line's event belongs to, or why that cannot be told."""
    if not raw.strip():
        return Rejection(RejectReason.EMPTY, "empty line")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return Rejection(RejectReason.INVALID_JSON, f"not JSON: {error}")
    if not isinstance(body, dict):
        return Rejection(RejectReason.NOT_AN_OBJECT, f"a JSON {type(body).__name__}")
    event_type = body.get("type")
    if not isinstance(event_type, str):
        return Rejection(RejectReason.UNKNOWN_TYPE, 'no event type: a line needs a "type"')
    try:
        return source_of(event_type)
    except KeyError:
        return Rejection(
            RejectReason.UNKNOWN_TYPE,
            f"type {event_type!r} names no source (expected one of {_PREFIXES})",
        )


def read_lines(path: Path) -> Iterator[Line]:
    with path.open("rb") as file:
        for number, line in enumerate(file, start=1):
            raw = line.rstrip(b"\r\n")
            yield Line(number, raw, source_of_line(raw))


def count_lines(path: Path) -> int:
    """Lines in the file (a last line without a line break counts), cheaply: no parsing."""
    lines, last = 0, b"\n"
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def batches(lines: Iterable[Line], size: int) -> Iterator[list[Line]]:
    iterator = iter(lines)
    while batch := list(islice(iterator, size)):
        yield batch
