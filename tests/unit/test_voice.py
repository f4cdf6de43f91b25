"""Voice of the customer (CSAT, NPS, CES) and contact reasons, from events to metrics."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from processor.config import SurveySettings
from processor.core.voice import NpsGroup, VoiceRule, nps_group
from processor.events import SourceKind
from tests.unit.test_pipeline import NOW, REPEATS, Harness, body, solved, ticket

NOW_PLUS_HOUR = NOW + 3600


@pytest.mark.parametrize(
    ("score", "scale", "positive"),
    [(4, 5, True), (5, 5, True), (3, 5, False), (8, 10, True), (7, 10, False), (2, 2, True)],
)
def test_csat_is_positive_from_the_same_share_of_any_scale(
    score: int, scale: int, positive: bool
) -> None:
    assert VoiceRule().csat_positive(score, scale) is positive


def test_the_csat_threshold_is_configurable() -> None:
    rule = SurveySettings(csat_scale=5, csat_positive_from=5).rule()
    assert not rule.csat_positive(4, 5)
    assert rule.csat_positive(5, 5)
    with pytest.raises(ValidationError, match="CSAT scale"):
        SurveySettings(csat_scale=5, csat_positive_from=6)


def test_nps_groups_promoters_passives_and_detractors() -> None:
    groups = [nps_group(score) for score in range(11)]
    assert groups == [NpsGroup.DETRACTOR] * 7 + [NpsGroup.PASSIVE] * 2 + [NpsGroup.PROMOTER] * 2


def test_ces_scores_are_moved_linearly_onto_the_configured_scale() -> None:
    rule = VoiceRule(ces_scale=7)
    assert [rule.ces(score, 5) for score in (1, 3, 5)] == [1.0, 4.0, 7.0]
    assert rule.ces(6, 7) == 6.0


def survey(kind: str, second: int, score: int, **fields: Any) -> dict[str, Any]:
    answer = body(f"survey.{kind}_answered", second, survey_id=f"s-{kind}-{second}", score=score)
    return {**answer, **fields}


def one_touch_email(h: Harness, tid: str = "T1") -> None:
    h.feed(
        SourceKind.EMAILS,
        body("email.received", 0, ticket_id=tid, thread_id=tid, message_id=f"{tid}-in"),
        body("email.sent", 30, ticket_id=tid, thread_id=tid, message_id=f"{tid}-out"),
    )


def test_answers_count_per_channel_touches_and_contact_and_a_redelivery_counts_once() -> None:
    h = Harness()
    one_touch_email(h)
    csat = survey("csat", 100, 4, ticket_id="T1")
    h.feed(SourceKind.SURVEYS, csat, csat, survey("nps", 101, 9, ticket_id="T1"))
    h.feed(SourceKind.SURVEYS, survey("nps", 102, 3, ticket_id="T1"))
    h.feed(SourceKind.SURVEYS, survey("ces", 103, 3, ticket_id="T1", scale=5))
    rated = {"channel": "email", "touches": "one", "contact": "first"}
    assert h.value("ccpulse_csat_answers_total", **rated, answer="positive") == 1
    assert h.value("ccpulse_csat_answers_total", **rated, answer="not_positive") == 0
    assert h.value("ccpulse_nps_answers_total", **rated, group="promoter") == 1
    assert h.value("ccpulse_nps_answers_total", **rated, group="detractor") == 1
    assert h.value("ccpulse_ces_score_sum", **rated) == 4.0
    assert h.value("ccpulse_ces_score_count", **rated) == 1
    assert h.value("ccpulse_events_duplicate_total", source="surveys") == 1


def test_an_answer_about_an_unknown_ticket_still_counts() -> None:
    h = Harness()
    h.feed(SourceKind.SURVEYS, survey("csat", 5, 2, channel="chat"), survey("nps", 6, 10))
    assert (
        h.value(
            "ccpulse_csat_answers_total",
            channel="chat",
            touches="unknown",
            contact="unknown",
            answer="not_positive",
        )
        == 1
    )
    unknown = {"channel": "unknown", "touches": "unknown", "contact": "unknown"}
    assert h.value("ccpulse_nps_answers_total", **unknown, group="promoter") == 1


def test_answers_about_a_repeat_contact_with_several_touches_are_told_apart() -> None:
    h = Harness(rules=REPEATS, now=NOW_PLUS_HOUR)
    h.feed(SourceKind.TICKETS, ticket(0, "c1", "A"), solved(60, "c1", "A"))
    h.feed(SourceKind.TICKETS, ticket(600, "c1", "B", channel="chat"))
    for second in (610, 620):
        h.feed(
            SourceKind.TICKETS,
            {
                **body("ticket.commented", second, ticket_id="B", author="agent", public=True),
                "customer_id": "c1",
            },
        )
    h.feed(SourceKind.SURVEYS, {**survey("csat", 700, 5, ticket_id="B"), "customer_id": "c1"})
    rated = {"channel": "chat", "touches": "multi", "contact": "repeat", "answer": "positive"}
    assert h.value("ccpulse_csat_answers_total", **rated) == 1


def reasons_of(h: Harness, name: str) -> dict[tuple[str, str, str], float]:
    found = {}
    for family in h.registry.collect():
        for sample in family.samples:
            if sample.name == name and sample.value:
                labels = sample.labels
                found[(labels["reason"], labels["channel"], labels["contact"])] = sample.value
    return found


def test_a_ticket_counts_once_under_its_current_reason_channel_and_contact() -> None:
    h = Harness(rules=REPEATS, now=NOW_PLUS_HOUR, reasons=("billing", "refund"))
    h.feed(SourceKind.TICKETS, ticket(0, "c1", "A"))
    h.feed(SourceKind.TICKETS, {**ticket(600, "c1", "B", channel="chat"), "reason": "billing"})
    reason_set = body("ticket.reason_set", 700, ticket_id="B", reason="lost_parcel")
    h.feed(SourceKind.TICKETS, {**reason_set, "customer_id": "c1"})
    counted = reasons_of(h, "ccpulse_contact_reasons_total")
    moved = reasons_of(h, "ccpulse_contact_reasons_moved_away_total")
    net = {place: counted[place] - moved.get(place, 0) for place in counted}
    assert {place: n for place, n in net.items() if n} == {("other", "chat", "repeat"): 1}
    assert counted[("billing", "chat", "first")] == 1  # until the repeat flag arrived


def test_a_ticket_without_a_reason_is_counted_under_no_reason() -> None:
    h = Harness(reasons=("billing",))
    one_touch_email(h)
    assert reasons_of(h, "ccpulse_contact_reasons_total") == {}
