"""Bad input on every source topic, generated: it is rejected with the right reason, lands
on the dead-letter topic exactly once with its original bytes, and is counted, while the
valid events around it are processed by their bodies whatever their message key.

Each strategy builds one kind of bad input for one topic and knows which reasons it may
produce; the properties check the decoder against that and the pipeline against the
decoder. ``TALLY`` counts the outcome of every input tried; the last test prints it and
fails when some ``RejectReason`` was never produced (a reason that can no longer happen).
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.codec import Rejection, RejectReason, SourceDecoder
from processor.config import RepeatSettings
from processor.contracts import EXAMPLES
from processor.events import SourceKind, event_models, ticket_key
from processor.policies import load_policies
from processor.shell.pipeline import Message, Rules
from tests.unit.test_pipeline import Harness

NOW = datetime(2026, 3, 2, 9, 20, tzinfo=UTC).timestamp()  # just after every example
MAX_BYTES, SKEW_S, AGE_DAYS = 4096, 300.0, 3650.0
DECODER = SourceDecoder(MAX_BYTES, now=lambda: NOW, max_future_skew_s=SKEW_S, max_age_days=AGE_DAYS)
NEWEST, OLDEST = NOW + SKEW_S, NOW - AGE_DAYS * 86_400
POLICY_FILE = Path(__file__).resolve().parents[2] / "deploy" / "sla-policies.yaml"
RULES = Rules(policies=load_policies(POLICY_FILE), repeat=RepeatSettings().rule())
EXAMPLES_BY_KIND = {kind: [EXAMPLES[t] for t in event_models(kind)] for kind in SourceKind}
ALL_TYPES = frozenset(EXAMPLES)

Outcome = RejectReason | None
"""The reason a decoder gave, or None for a valid event."""
ANYTHING: frozenset[Outcome] = frozenset({*RejectReason, None})
TALLY: Counter[str] = Counter()


@dataclass(frozen=True, slots=True)
class Case:
    kind: SourceKind
    raw: bytes | None
    expected: frozenset[Outcome]
    what: str


def as_case(kind: SourceKind, what: str, *expected: Outcome) -> Callable[[bytes | None], Case]:
    return lambda raw: Case(kind, raw, frozenset(expected), what)


def offsets() -> st.SearchStrategy[timezone]:
    minutes = st.integers(-(23 * 60 + 59), 23 * 60 + 59)
    return minutes.map(lambda m: timezone(timedelta(minutes=m)))


def moments(low: float, high: float) -> st.SearchStrategy[datetime]:
    """Aware instants in [low, high] (Unix seconds), written in any UTC offset."""
    instants = st.integers(int(low), int(high)).map(lambda s: datetime.fromtimestamp(s, UTC))
    return st.tuples(instants, offsets()).map(lambda pair: pair[0].astimezone(pair[1]))


def local_times(low: datetime, high: datetime) -> st.SearchStrategy[str]:
    """ISO strings of local times in [low, high] with any offset (naive bounds)."""
    return st.datetimes(low, high, timezones=offsets()).map(datetime.isoformat)


ids = st.text(min_size=1, max_size=30)
json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
containers = st.lists(json_scalars, max_size=3) | st.dictionaries(st.text(max_size=5), json_scalars)


def example(kind: SourceKind) -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(EXAMPLES_BY_KIND[kind])


def with_field(
    kind: SourceKind, field: str, values: st.SearchStrategy[Any]
) -> st.SearchStrategy[bytes]:
    return st.tuples(example(kind), values).map(lambda p: orjson.dumps({**p[0], field: p[1]}))


def valid_events(kind: SourceKind) -> st.SearchStrategy[Case]:
    """A topic's events with fresh ids, any in-bounds time in any offset."""
    changes = st.fixed_dictionaries(
        {"event_id": ids, "customer_id": ids, "occurred_at": moments(OLDEST + 60, NEWEST - 1)}
    )
    bodies = st.tuples(example(kind), changes).map(lambda p: {**p[0], **p[1]})
    return bodies.map(orjson.dumps).map(as_case(kind, "valid", None))


MALFORMED = [b'{"type": ', b"{'type': 'x'}", b'{type: "x"}', b'{"a": NaN}', b"{}}", b"// {}"]


def malformed_json(kind: SourceKind) -> st.SearchStrategy[Case]:
    raw = example(kind).map(orjson.dumps)
    truncated = st.tuples(raw, st.floats(0.01, 0.99)).map(lambda p: p[0][: int(len(p[0]) * p[1])])
    trailing_comma = raw.map(lambda r: r[:-1] + b",}")
    return st.one_of(truncated, trailing_comma, st.sampled_from(MALFORMED)).map(
        as_case(kind, "malformed JSON", RejectReason.INVALID_JSON)
    )


def non_objects(kind: SourceKind) -> st.SearchStrategy[Case]:
    values = json_values.filter(lambda value: not isinstance(value, dict))
    return values.map(orjson.dumps).map(
        as_case(kind, "JSON not an object", RejectReason.NOT_AN_OBJECT)
    )


def missing_fields(kind: SourceKind) -> st.SearchStrategy[Case]:
    def dropped(body: dict[str, Any]) -> st.SearchStrategy[bytes]:
        model = event_models(kind)[str(body["type"])]
        required = sorted(
            n for n, f in model.model_fields.items() if f.is_required() and n != "type"
        )
        gone = st.sets(st.sampled_from(required), min_size=1)
        return gone.map(
            lambda names: orjson.dumps({k: v for k, v in body.items() if k not in names})
        )

    return (
        example(kind)
        .flatmap(dropped)
        .map(as_case(kind, "missing field", RejectReason.INVALID_EVENT))
    )


def wrong_types(kind: SourceKind) -> st.SearchStrategy[Case]:
    def changed(body: dict[str, Any]) -> st.SearchStrategy[bytes]:
        fields = sorted(set(body) - {"type"})

        def wrong(field: str) -> st.SearchStrategy[bytes]:
            # A str field takes no number or bool; occurred_at would read a number as a time.
            is_text = isinstance(body[field], str) and field != "occurred_at"
            values = containers | (
                st.integers(-(2**63), 2**63 - 1) | st.booleans() if is_text else st.nothing()
            )
            return values.map(lambda value: orjson.dumps({**body, field: value}))

        return st.sampled_from(fields).flatmap(wrong)

    return (
        example(kind)
        .flatmap(changed)
        .map(as_case(kind, "wrong field type", RejectReason.INVALID_EVENT))
    )


def unknown_types(kind: SourceKind) -> st.SearchStrategy[Case]:
    others = [t for other in SourceKind if other != kind for t in event_models(other)]
    odd = st.text(max_size=30).filter(lambda t: t not in ALL_TYPES) | json_values.filter(
        lambda v: not isinstance(v, str)
    )
    bodies = st.tuples(example(kind), st.sampled_from(others) | odd).map(
        lambda p: {**p[0], "type": p[1]}
    )
    untyped = example(kind).map(lambda body: {k: v for k, v in body.items() if k != "type"})
    another_topics = st.sampled_from([EXAMPLES[t] for t in others])
    return (
        st.one_of(bodies, untyped, another_topics)
        .map(orjson.dumps)
        .map(as_case(kind, "unknown type", RejectReason.UNKNOWN_TYPE))
    )


def oversized(kind: SourceKind) -> st.SearchStrategy[Case]:
    def padded(body: dict[str, Any], over: int, filler: bytes) -> bytes:
        base = orjson.dumps({**body, "pad": ""})
        return base[:-2] + filler * (MAX_BYTES + over - len(base)) + b'"}'

    sizes = st.integers(1, 256)
    bodies = st.builds(padded, example(kind), sizes, st.sampled_from([b"x", b"\xff", b" "]))
    return bodies.map(as_case(kind, "oversized", RejectReason.TOO_LARGE))


NON_ISO = [
    "",
    "yesterday",
    "02/03/2026 09:14:05",
    "Mon, 02 Mar 2026 09:14:05 GMT",
    "2026-02-30T09:00:00Z",
    "2026-03-02T25:00:00Z",
    "20260302T091405Z",
    "2026-W10-1T09:14:05Z",
]


def odd_timestamps(kind: SourceKind) -> st.SearchStrategy[Case]:
    naive = st.datetimes().map(datetime.isoformat) | st.dates().map(str)
    beyond = datetime.fromtimestamp(NEWEST, UTC).replace(tzinfo=None) + timedelta(days=1)
    before = datetime.fromtimestamp(OLDEST, UTC).replace(tzinfo=None) - timedelta(days=1)
    far_future = local_times(beyond, datetime.max) | moments(NEWEST + 1, NEWEST + 86_400).map(str)
    ancient = local_times(datetime.min + timedelta(days=1), before) | moments(
        OLDEST - 86_400, OLDEST - 1
    ).map(str)
    non_iso = st.sampled_from(NON_ISO) | st.text(st.characters(categories=["L", "Zs"]), max_size=20)
    stamps = [
        (naive, RejectReason.NAIVE_TIMESTAMP, "naive timestamp"),
        (
            far_future | st.sampled_from(["9999-12-31T23:59:59-05:00", "9999-01-01T00:00:00Z"]),
            RejectReason.FUTURE_TIMESTAMP,
            "future timestamp",
        ),
        (
            ancient | st.sampled_from(["1970-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00", 0]),
            RejectReason.ANCIENT_TIMESTAMP,
            "ancient timestamp",
        ),
        (non_iso, RejectReason.INVALID_EVENT, "non-ISO timestamp"),
    ]
    return st.one_of(
        [
            with_field(kind, "occurred_at", values).map(as_case(kind, what, reason))
            for values, reason, what in stamps
        ]
    )


INVALID_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\xf8\x88\x80\x80\x80"]


def non_utf8(kind: SourceKind) -> st.SearchStrategy[Case]:
    def spoiled(body: dict[str, Any], bad: bytes) -> bytes:
        raw = orjson.dumps(body)
        at = raw.index(b'"event_id":"') + len(b'"event_id":"')
        return raw[:at] + bad + raw[at:]

    latin1 = example(kind).map(
        lambda body: orjson.dumps({**body, "customer_id": "Zoë"}).decode().encode("latin-1")
    )
    bodies = st.builds(spoiled, example(kind), st.sampled_from(INVALID_UTF8)) | latin1
    return bodies.map(as_case(kind, "non-UTF-8", RejectReason.INVALID_JSON))


def empties(kind: SourceKind) -> st.SearchStrategy[Case]:
    return st.sampled_from([b"", None]).map(as_case(kind, "empty", RejectReason.EMPTY))


def arbitrary_bytes(kind: SourceKind) -> st.SearchStrategy[Case]:
    return st.binary(max_size=600).map(as_case(kind, "arbitrary bytes", *ANYTHING))


def mutations(kind: SourceKind) -> st.SearchStrategy[Case]:
    """A valid example, damaged: a field dropped or changed, the bytes cut or one flipped."""

    def damaged(body: dict[str, Any], data: st.DataObject) -> Case:
        raw = orjson.dumps(body)
        match data.draw(st.sampled_from(["drop", "change", "truncate", "flip"])):
            case "drop":
                field = data.draw(st.sampled_from(sorted(body)))
                gone = {k: v for k, v in body.items() if k != field}
                dropped = (None, RejectReason.INVALID_EVENT, RejectReason.UNKNOWN_TYPE)
                return as_case(kind, "field dropped", *dropped)(orjson.dumps(gone))
            case "change":
                field = data.draw(st.sampled_from(sorted(body)))
                changed = orjson.dumps({**body, field: data.draw(json_values)})
                return as_case(kind, "field changed", *ANYTHING)(changed)
            case "truncate":
                cut = raw[: data.draw(st.integers(0, len(raw) - 1))]
                return as_case(kind, "truncated", RejectReason.EMPTY, RejectReason.INVALID_JSON)(
                    cut
                )
            case _:
                at, bit = data.draw(st.integers(0, len(raw) - 1)), data.draw(st.integers(1, 255))
                flipped = raw[:at] + bytes([raw[at] ^ bit]) + raw[at + 1 :]
                return as_case(kind, "byte flipped", *ANYTHING)(flipped)

    return st.builds(damaged, example(kind), st.data())


BAD_INPUT = [
    malformed_json,
    non_objects,
    missing_fields,
    wrong_types,
    unknown_types,
    oversized,
    odd_timestamps,
    non_utf8,
    empties,
    arbitrary_bytes,
    mutations,
]


def inputs(kind: SourceKind) -> st.SearchStrategy[Case]:
    return st.one_of(valid_events(kind), *(strategy(kind) for strategy in BAD_INPUT))


any_input = st.sampled_from(list(SourceKind)).flatmap(inputs)
FUZZ = settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))


def outcome_of(result: Any) -> Outcome:
    return result.reason if isinstance(result, Rejection) else None


@FUZZ
@given(any_input)
def test_the_decoder_never_raises_and_names_the_reason_of_every_bad_input(case: Case) -> None:
    result = DECODER.decode(case.kind, case.raw)
    outcome = outcome_of(result)
    TALLY[outcome or "valid"] += 1
    assert outcome in case.expected, (case.what, result)
    if isinstance(result, Rejection):
        assert result.reason in RejectReason
        assert result.detail.strip()
    else:
        assert result.type in event_models(case.kind)
        assert OLDEST <= result.occurred_at.timestamp() <= NEWEST


keys = st.none() | st.binary(max_size=12) | ids.map(str.encode)


@settings(FUZZ, max_examples=400)
@given(
    st.sampled_from(list(SourceKind)).flatmap(
        lambda kind: st.lists(st.tuples(inputs(kind), keys), min_size=1, max_size=6)
    )
)
def test_every_rejected_input_is_one_dead_letter_and_one_count_and_valid_ones_are_processed(
    batch: list[tuple[Case, bytes | None]],
) -> None:
    kind = batch[0][0].kind
    h = Harness(rules=RULES, now=NOW)
    h.pipeline.decoder = DECODER
    topic = f"cc.{kind.value}"
    messages = [
        Message(topic, 3, offset, key, case.raw) for offset, (case, key) in enumerate(batch)
    ]
    results = [DECODER.decode(kind, message.value) for message in messages]
    h.pipeline.ingest(kind, messages)
    h.drain()
    h.tick(NOW + 3 * 86_400)  # the sweeps, past every deadline the valid events started

    rejected = [(m, r) for m, r in zip(messages, results, strict=True) if isinstance(r, Rejection)]
    letters = h.on("cc.deadletter")
    assert [(letter["offset"], letter["reason"]) for letter in letters] == [
        (m.offset, r.reason.value) for m, r in rejected
    ]
    for letter, (message, _) in zip(letters, rejected, strict=True):
        assert base64.b64decode(letter["original"]) == (message.value or b"")
        assert letter["key"] == (
            None if message.key is None else base64.b64encode(message.key).decode()
        )
        assert (letter["topic"], letter["partition"]) == (topic, 3)
    counts = Counter(r.reason for _, r in rejected)
    for reason in RejectReason:
        assert (
            h.value("ccpulse_events_rejected_total", source=kind.value, reason=reason.value)
            == counts[reason]
        )
    events = [r for r in results if not isinstance(r, Rejection)]
    for event_type, count in Counter(e.type for e in events).items():
        assert h.value("ccpulse_events_consumed_total", source=kind.value, type=event_type) == count
    assert {ticket_key(e).encode() for e in events} <= set(h.table)
    TALLY.update(outcome_of(r) or "valid" for r in results)


def test_a_message_keyed_unlike_its_body_is_processed_by_the_ticket_its_body_names() -> None:
    h = Harness(now=NOW)
    h.pipeline.decoder = DECODER
    received, sent = EXAMPLES["email.received"], EXAMPLES["email.sent"]
    answer = {**sent, "occurred_at": "2026-03-02T09:15:05Z"}
    h.pipeline.ingest(
        SourceKind.EMAILS,
        [
            Message("cc.emails", 0, 0, b"ZD-999", orjson.dumps(received)),
            Message("cc.emails", 0, 1, b"thr-311", orjson.dumps(answer)),
        ],
    )
    h.drain()
    assert h.on("cc.deadletter") == []
    assert set(h.table) == {b"ZD-120934"}
    labels = {"channel": "email", "priority": "normal"}
    assert h.value("ccpulse_first_response_seconds_sum", **labels) == 60
    assert {key for topic, key, _ in h.sent if topic == "cc.ticket-metrics"} == {b"ZD-120934"}


@pytest.mark.parametrize(
    ("stamp", "reason"),
    [
        ("9999-12-31T23:59:59-05:00", "future_timestamp"),
        ("0001-01-01T00:00:00+05:00", "ancient_timestamp"),
    ],
)
def test_a_time_at_the_end_of_the_calendar_is_dead_lettered_before_it_breaks_the_ticket_step(
    stamp: str, reason: str
) -> None:
    h = Harness(rules=RULES, now=NOW)
    h.pipeline.decoder = DECODER
    queued, answered = EXAMPLES["call.queued"], EXAMPLES["call.answered"]
    h.feed(SourceKind.CALLS, {**queued, "occurred_at": stamp}, queued, answered)
    h.tick(NOW + 86_400)
    assert [letter["reason"] for letter in h.on("cc.deadletter")] == [reason]
    assert h.value("ccpulse_first_response_seconds_count", channel="phone", priority="normal") == 1


PROPERTIES = [
    test_the_decoder_never_raises_and_names_the_reason_of_every_bad_input,
    test_every_rejected_input_is_one_dead_letter_and_one_count_and_valid_ones_are_processed,
]


def test_every_reject_reason_was_produced_by_some_generated_input() -> None:
    if not TALLY:  # run on its own: the properties have not run in this session yet
        for prop in PROPERTIES:
            prop()
    reasons = ", ".join(f"{name} {count}" for name, count in sorted(TALLY.items()))
    print(f"\nbad input: {sum(TALLY.values())} inputs tried on all six topics; {reasons}")
    assert {reason.value for reason in RejectReason} <= set(TALLY)
