"""CSAT, NPS, CES and contact reasons from a scripted scenario, on a real worker.

Three tickets of two customers (an email, a phone callback the next day that is a repeat
contact with two touches, a chat whose reason an agent corrects), survey answers about
each, two answers about no known ticket and one redelivered answer: the exact scores and
reason counts are read back from the worker's /metrics.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from processor.config import Settings
from processor.events import SourceKind
from tests.integration.support import WorkerProcess, eventually, last_per_key, produce, read_topic

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ev(kind: str, minutes: float, customer: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    source = {"call": "calls", "email": "emails", "chat": "chats", "ticket": "tickets"}
    body = {
        "type": kind,
        "event_id": f"{kind}-{customer}-{minutes}-{fields.get('ticket_id', '')}",
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "customer_id": customer,
        **fields,
    }
    return source.get(kind.split(".", maxsplit=1)[0], "surveys"), body


DAY = 24 * 60
TICKETS = [
    ev("ticket.created", 0, "cust-a", ticket_id="ZD-1", channel="email", reason="billing"),
    ev("email.received", 0, "cust-a", ticket_id="ZD-1", thread_id="t1", message_id="m1"),
    ev("email.sent", 30, "cust-a", ticket_id="ZD-1", thread_id="t1", message_id="m2"),
    ev("ticket.status_changed", 60, "cust-a", ticket_id="ZD-1", status="solved"),
    ev("ticket.created", DAY, "cust-a", ticket_id="ZD-2", channel="phone", reason="refund"),
    ev("call.queued", DAY, "cust-a", ticket_id="ZD-2", call_id="c1"),
    ev("call.answered", DAY + 1, "cust-a", ticket_id="ZD-2", call_id="c1", agent_id="ag"),
    ev("call.ended", DAY + 5, "cust-a", ticket_id="ZD-2", call_id="c1"),
    ev("call.outbound", DAY + 60, "cust-a", ticket_id="ZD-2", call_id="c2", agent_id="ag"),
    ev("ticket.created", 10, "cust-b", ticket_id="ZD-3", channel="chat", reason="lost_parcel"),
    ev("chat.started", 10, "cust-b", ticket_id="ZD-3", session_id="s3"),
    ev("chat.message", 11, "cust-b", ticket_id="ZD-3", session_id="s3", author="agent"),
    ev("ticket.reason_set", 20, "cust-b", ticket_id="ZD-3", reason="billing"),
]
CSAT, NPS, CES = "survey.csat_answered", "survey.nps_answered", "survey.ces_answered"
SURVEYS = [
    ev(CSAT, 2 * DAY, "cust-a", ticket_id="ZD-1", survey_id="v1", score=5),
    ev(NPS, 2 * DAY, "cust-a", ticket_id="ZD-1", survey_id="v2", score=10),
    ev(CES, 2 * DAY, "cust-a", ticket_id="ZD-1", survey_id="v3", score=2),
    ev(CSAT, 2 * DAY, "cust-a", ticket_id="ZD-2", survey_id="v4", score=2),
    ev(NPS, 2 * DAY, "cust-a", ticket_id="ZD-2", survey_id="v5", score=6),
    ev(CSAT, 2 * DAY, "cust-b", ticket_id="ZD-3", survey_id="v6", score=4),
    ev(NPS, 2 * DAY, "cust-b", ticket_id="ZD-3", survey_id="v7", score=8),
    ev(CES, 2 * DAY, "cust-b", ticket_id="ZD-3", survey_id="v8", score=6),
    ev(CSAT, 2 * DAY, "cust-c", survey_id="v9", score=9, scale=10, channel="sms"),
    ev(NPS, 2 * DAY, "cust-c", survey_id="v10", score=3),
]


def test_exact_csat_nps_ces_and_reason_figures_for_a_scripted_scenario(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"reasons": ("billing", "refund")})
    bootstrap = settings.kafka.bootstrap_servers

    def send(events: list[tuple[str, dict[str, Any]]]) -> None:
        messages = [(settings.topics.source(SourceKind(s)), None, body) for s, body in events]
        produce(bootstrap, messages)

    def repeat_flagged() -> None:
        snapshots = last_per_key(read_topic(bootstrap, settings.topics.ticket_metrics, 4))
        assert set(snapshots) >= {"ZD-1", "ZD-2", "ZD-3"}
        assert snapshots["ZD-2"]["repeat_of"] == "ZD-1"
        assert snapshots["ZD-2"]["touches"] == 2
        assert snapshots["ZD-3"]["reason"] == "billing"

    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        send(TICKETS)
        eventually(repeat_flagged)
        send([*SURVEYS, SURVEYS[0]])  # the first answer delivered twice
        worker.wait_for(
            lambda w: w.total("ccpulse_events_consumed_total") == len(TICKETS) + 11,
            what="every event consumed",
        )
        worker.wait_for(
            lambda w: w.total("ccpulse_events_duplicate_total") == 1, what="the duplicate"
        )
        metrics = worker.scrape()
    finally:
        worker.stop()

    def total(name: str, **match: str) -> float:
        return sum(
            value
            for (sample, labels), value in metrics.items()
            if sample == name and all(dict(labels).get(k) == v for k, v in match.items())
        )

    csat = "ccpulse_csat_answers_total"
    assert total(csat, answer="positive") == 3
    assert total(csat, answer="not_positive") == 1
    assert total(csat, channel="phone", touches="multi", contact="repeat") == 1
    assert total(csat, channel="sms", touches="unknown", contact="unknown") == 1
    nps = "ccpulse_nps_answers_total"
    groups = {group: total(nps, group=group) for group in ("promoter", "passive", "detractor")}
    assert groups == {"promoter": 1, "passive": 1, "detractor": 2}  # NPS = -25
    assert total("ccpulse_ces_score_sum") / total("ccpulse_ces_score_count") == 4.0
    assert total("ccpulse_ces_score_count", channel="email", touches="one", contact="first") == 1

    net = {
        (reason, channel, contact): total(
            "ccpulse_contact_reasons_total", reason=reason, channel=channel, contact=contact
        )
        - total(
            "ccpulse_contact_reasons_moved_away_total",
            reason=reason,
            channel=channel,
            contact=contact,
        )
        for reason in ("billing", "refund", "other")
        for channel in ("email", "phone", "chat")
        for contact in ("first", "repeat")
    }
    assert {place: n for place, n in net.items() if n} == {
        ("billing", "email", "first"): 1,
        ("refund", "phone", "repeat"): 1,
        ("billing", "chat", "first"): 1,
    }
