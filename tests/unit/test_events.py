"""The event contracts and the decoder: tolerant where it is safe, strict where a metric would
suffer (time zones, scores, ids, and event times no source could have meant)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import TypeAdapter, ValidationError

from processor.codec import Rejection, RejectReason, SourceDecoder
from processor.config import Settings
from processor.contracts import EXAMPLES
from processor.events import SOURCE_MODELS, SourceKind, event_models, source_of, ticket_key

ALL_TYPES = sorted(EXAMPLES)


def parse(kind: SourceKind, body: dict[str, object]) -> Any:
    return TypeAdapter(SOURCE_MODELS[kind]).validate_python(body)


def parse_example(event_type: str, **changes: object) -> Any:
    return parse(source_of(event_type), {**EXAMPLES[event_type], **changes})


def error_types(error: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {detail["type"] for detail in error.value.errors()}


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_unknown_fields_are_ignored(event_type: str) -> None:
    event = parse_example(event_type, ivr_path=[1, 2], x_vendor={"flag": True})
    assert event == parse_example(event_type)
    assert "ivr_path" not in event.model_dump()


@pytest.mark.parametrize("event_type", ALL_TYPES)
@pytest.mark.parametrize("stamp", ["2026-03-02T09:14:05", "2026-03-02 09:14:05"])
def test_a_timestamp_without_time_zone_is_rejected(event_type: str, stamp: object) -> None:
    with pytest.raises(ValidationError) as error:
        parse_example(event_type, occurred_at=stamp)
    assert error_types(error) == {"timezone_aware"}


def test_an_offset_timestamp_is_kept_as_the_same_instant() -> None:
    event = parse_example("call.queued", occurred_at="2026-03-02T10:14:05+01:00")
    assert event.occurred_at.timestamp() == 1772442845.0


@pytest.mark.parametrize("kind", list(SourceKind))
def test_an_unknown_event_type_is_rejected_for_its_topic(kind: SourceKind) -> None:
    prefix = next(iter(event_models(kind))).split(".")[0]
    body = {**EXAMPLES[next(iter(event_models(kind)))], "type": f"{prefix}.parked"}
    with pytest.raises(ValidationError) as error:
        parse(kind, body)
    assert error_types(error) == {"union_tag_invalid"}


@pytest.mark.parametrize("kind", list(SourceKind))
def test_an_event_without_type_is_rejected(kind: SourceKind) -> None:
    body = {k: v for k, v in EXAMPLES[next(iter(event_models(kind)))].items() if k != "type"}
    with pytest.raises(ValidationError) as error:
        parse(kind, body)
    assert error_types(error) == {"union_tag_not_found"}


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_an_event_of_one_topic_is_rejected_on_every_other_topic(event_type: str) -> None:
    for kind in set(SourceKind) - {source_of(event_type)}:
        with pytest.raises(ValidationError) as error:
            parse(kind, EXAMPLES[event_type])
        assert error_types(error) == {"union_tag_invalid"}, kind


ID_FIELDS = [
    (event_type, field)
    for event_type in ALL_TYPES
    for field in EXAMPLES[event_type]
    if field.endswith("_id")
]


@pytest.mark.parametrize(("event_type", "field"), ID_FIELDS)
def test_empty_ids_are_rejected(event_type: str, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        parse_example(event_type, **{field: ""})
    assert error_types(error) == {"string_too_short"}


@pytest.mark.parametrize(
    ("event_type", "score", "scale", "valid"),
    [
        ("survey.csat_answered", 5, None, True),
        ("survey.csat_answered", 6, None, False),
        ("survey.csat_answered", 10, 10, True),
        ("survey.csat_answered", 4, 3, False),
        ("survey.csat_answered", 0, None, False),
        ("survey.ces_answered", 7, None, True),
        ("survey.ces_answered", 8, None, False),
        ("survey.ces_answered", 5, 5, True),
        ("survey.ces_answered", 6, 5, False),
    ],
)
def test_csat_and_ces_scores_must_lie_on_their_scale(
    event_type: str, score: int, scale: int | None, valid: bool
) -> None:
    body = {k: v for k, v in EXAMPLES[event_type].items() if k != "scale"}
    body |= {"score": score} if scale is None else {"score": score, "scale": scale}
    if valid:
        assert parse(SourceKind.SURVEYS, body).score == score
    else:
        with pytest.raises(ValidationError):
            parse(SourceKind.SURVEYS, body)


@pytest.mark.parametrize(("score", "valid"), [(-1, False), (0, True), (10, True), (11, False)])
def test_nps_scores_run_from_0_to_10(score: int, valid: bool) -> None:
    if valid:
        assert parse_example("survey.nps_answered", score=score).score == score
    else:
        with pytest.raises(ValidationError):
            parse_example("survey.nps_answered", score=score)


@pytest.mark.parametrize(
    ("event_type", "own_id"),
    [
        ("call.outbound", "call-7802"),
        ("email.received", "thr-311"),
        ("chat.started", "chs-2208"),
        ("social.received", "conv-5521"),
        ("survey.csat_answered", "srv-1"),
    ],
)
def test_without_ticket_id_the_sources_own_id_is_the_ticket(event_type: str, own_id: str) -> None:
    body = {k: v for k, v in EXAMPLES[event_type].items() if k != "ticket_id"}
    assert ticket_key(parse(source_of(event_type), body)) == own_id
    assert ticket_key(parse_example(event_type, ticket_id="ZD-5")) == "ZD-5"


def test_sms_travels_on_the_chat_topic_and_other_channels_do_not() -> None:
    assert parse_example("chat.started", channel="sms").channel == "sms"
    with pytest.raises(ValidationError):
        parse_example("chat.started", channel="phone")


CLOCK = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def decode_at(
    occurred_at: object, event_type: str = "call.queued", now: datetime = CLOCK, **bounds: float
) -> Any:
    """The example of ``event_type`` at ``occurred_at``, decoded with the clock at ``now``."""
    decoder = SourceDecoder(65536, now=now.timestamp, **bounds)
    raw = orjson.dumps({**EXAMPLES[event_type], "occurred_at": occurred_at})
    return decoder.decode(source_of(event_type), raw)


def reason_of(result: Any) -> RejectReason | None:
    return result.reason if isinstance(result, Rejection) else None


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_an_event_up_to_the_skew_ahead_of_the_clock_is_kept_and_a_second_more_is_not(
    event_type: str,
) -> None:
    assert reason_of(decode_at("2026-03-02T10:05:00Z", event_type)) is None
    rejected = decode_at("2026-03-02T10:05:01Z", event_type)
    assert rejected.reason is RejectReason.FUTURE_TIMESTAMP
    assert rejected.detail.startswith("occurred_at: 2026-03-02T10:05:01+00:00 is 301 s after")
    assert "more than the 300 s allowed (CCPULSE_MAX_FUTURE_SKEW_S)" in rejected.detail


def test_the_future_skew_is_configurable() -> None:
    assert reason_of(decode_at("2026-03-02T10:59:59Z", max_future_skew_s=3600)) is None
    late = decode_at("2026-03-02T10:00:01Z", max_future_skew_s=0)
    assert late.reason is RejectReason.FUTURE_TIMESTAMP


def test_an_offset_timestamp_is_bounded_as_the_instant_it_names() -> None:
    assert reason_of(decode_at("2026-03-02T11:05:00+01:00")) is None
    assert reason_of(decode_at("2026-03-02T05:05:01-05:00")) is RejectReason.FUTURE_TIMESTAMP


def test_an_event_as_old_as_the_age_limit_is_kept_and_a_second_older_is_not() -> None:
    assert reason_of(decode_at("2016-03-04T10:00:00Z", max_age_days=3650)) is None
    rejected = decode_at("2016-03-04T09:59:59Z", max_age_days=3650)
    assert rejected.reason is RejectReason.ANCIENT_TIMESTAMP
    assert rejected.detail == (
        "occurred_at: 2016-03-04T09:59:59+00:00 is before 2016-03-04T10:00:00Z, "
        "3650 days before now (CCPULSE_MAX_EVENT_AGE_DAYS)"
    )


@pytest.mark.parametrize(
    ("occurred_at", "reason"),
    [
        ("2017-06-01T00:00:00Z", None),
        ("2026-03-02T09:59:00+09:00", None),
        ("1970-01-01T00:00:00Z", RejectReason.ANCIENT_TIMESTAMP),
        (0, RejectReason.ANCIENT_TIMESTAMP),
        ("0001-01-01T00:00:00+05:00", RejectReason.ANCIENT_TIMESTAMP),
        ("9999-12-31T23:59:59-05:00", RejectReason.FUTURE_TIMESTAMP),
    ],
)
def test_by_default_years_of_history_are_kept_and_absurd_times_are_not(
    occurred_at: object, reason: RejectReason | None
) -> None:
    assert reason_of(decode_at(occurred_at)) is reason


def test_history_never_meets_the_future_bound_and_an_older_archive_needs_a_larger_age() -> None:
    assert reason_of(decode_at("2025-01-01T00:00:00Z", max_future_skew_s=0)) is None
    assert reason_of(decode_at("1990-05-01T00:00:00Z")) is RejectReason.ANCIENT_TIMESTAMP
    assert reason_of(decode_at("1990-05-01T00:00:00Z", max_age_days=36500)) is None


def test_the_bounds_follow_the_injected_clock() -> None:
    stamp = "2026-03-02T10:00:00Z"
    assert reason_of(decode_at(stamp, now=CLOCK)) is None
    earlier, much_later = CLOCK - timedelta(hours=1), CLOCK + timedelta(days=3651)
    assert reason_of(decode_at(stamp, now=earlier)) is RejectReason.FUTURE_TIMESTAMP
    assert reason_of(decode_at(stamp, now=much_later)) is RejectReason.ANCIENT_TIMESTAMP


def test_bounds_wide_enough_to_reach_the_ends_of_the_calendar_are_refused() -> None:
    with pytest.raises(ValueError, match="max_age_days"):
        SourceDecoder(65536, max_age_days=1_000_000)
    with pytest.raises(ValueError, match="max_future_skew_s"):
        SourceDecoder(65536, max_future_skew_s=-1)
    with pytest.raises(ValidationError):
        Settings(max_event_age_days=1_000_000)
    with pytest.raises(ValidationError):
        Settings(max_future_skew_s=30 * 86_400)


@pytest.mark.parametrize("kind", list(SourceKind))
@pytest.mark.parametrize("odd_type", [[], ["call.queued"], {}, {"a": 1}, None, 3, True])
def test_a_type_that_is_not_a_string_is_an_unknown_type(kind: SourceKind, odd_type: object) -> None:
    example = EXAMPLES[next(iter(event_models(kind)))]
    raw = orjson.dumps({**example, "type": odd_type})
    rejected = SourceDecoder(65536, now=CLOCK.timestamp).decode(kind, raw)
    assert rejected.reason is RejectReason.UNKNOWN_TYPE
    assert rejected.detail.startswith(f"type {odd_type!r} is not an event of {kind.value}")


def test_a_message_of_exactly_the_size_limit_is_kept_and_one_byte_more_is_not() -> None:
    base = orjson.dumps({**EXAMPLES["call.queued"], "pad": ""})
    decoder = SourceDecoder(512, now=CLOCK.timestamp)

    def padded(size: int) -> bytes:
        return base[:-2] + b"x" * (size - len(base)) + b'"}'

    assert reason_of(decoder.decode(SourceKind.CALLS, padded(512))) is None
    assert reason_of(decoder.decode(SourceKind.CALLS, padded(513))) is RejectReason.TOO_LARGE
