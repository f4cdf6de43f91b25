"""The event contracts: tolerant where it is safe, strict where a metric would suffer."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

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
