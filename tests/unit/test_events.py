"""The event contracts: tolerant where it is safe, strict where a metric would suffer."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from processor.contracts import EXAMPLES
from processor.events import SOURCE_MODELS, SourceKind, source_of, ticket_key


def parse(kind: SourceKind, body: dict[str, Any]) -> Any:
    return TypeAdapter(SOURCE_MODELS[kind]).validate_python(body)


def test_unknown_fields_are_ignored() -> None:
    event = parse(SourceKind.CALLS, {**EXAMPLES["call.queued"], "ivr_path": [1, 2]})
    assert event.call_id == "call-7731"


@pytest.mark.parametrize("stamp", ["2026-03-02T09:14:05", "2026-03-02 09:14:05"])
def test_a_timestamp_without_time_zone_is_rejected(stamp: str) -> None:
    with pytest.raises(ValidationError, match="timezone"):
        parse(SourceKind.CALLS, {**EXAMPLES["call.queued"], "occurred_at": stamp})


def test_an_offset_timestamp_is_kept_as_the_same_instant() -> None:
    event = parse(
        SourceKind.CALLS, {**EXAMPLES["call.queued"], "occurred_at": "2026-03-02T10:14:05+01:00"}
    )
    assert event.occurred_at.timestamp() == 1772442845.0


def test_empty_ids_are_rejected() -> None:
    with pytest.raises(ValidationError):
        parse(SourceKind.CALLS, {**EXAMPLES["call.queued"], "event_id": ""})


@pytest.mark.parametrize(
    ("event_type", "score", "valid"),
    [
        ("survey.csat_answered", 5, True),
        ("survey.csat_answered", 6, False),
        ("survey.ces_answered", 7, True),
        ("survey.ces_answered", 8, False),
        ("survey.nps_answered", 0, True),
        ("survey.nps_answered", 10, True),
        ("survey.nps_answered", 11, False),
        ("survey.nps_answered", -1, False),
    ],
)
def test_scores_must_lie_on_their_scale(event_type: str, score: int, valid: bool) -> None:
    body = {**EXAMPLES[event_type], "score": score}
    if valid:
        assert parse(SourceKind.SURVEYS, body).score == score
    else:
        with pytest.raises(ValidationError):
            parse(SourceKind.SURVEYS, body)


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("call.queued", "call-7731"),
        ("chat.started", "chs-2208"),
        ("social.received", "conv-5521"),
        ("email.received", "ZD-120934"),
        ("survey.nps_answered", "srv-2"),
    ],
)
def test_an_event_names_its_ticket_or_falls_back_to_the_sources_own_id(
    event_type: str, expected: str
) -> None:
    event = parse(source_of(event_type), EXAMPLES[event_type])
    assert ticket_key(event) == expected


def test_an_email_without_ticket_is_keyed_by_its_thread() -> None:
    body = {k: v for k, v in EXAMPLES["email.received"].items() if k != "ticket_id"}
    assert ticket_key(parse(SourceKind.EMAILS, body)) == "thr-311"


def test_sms_travels_on_the_chat_topic_and_other_channels_do_not() -> None:
    sms = parse(SourceKind.CHATS, {**EXAMPLES["chat.started"], "channel": "sms"})
    assert sms.channel == "sms"
    with pytest.raises(ValidationError):
        parse(SourceKind.CHATS, {**EXAMPLES["chat.started"], "channel": "phone"})
