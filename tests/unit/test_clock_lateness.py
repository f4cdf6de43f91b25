"""The event-time clock runs the configured lateness behind the newest event time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from processor.config import Settings, SlaSettings
from processor.events import SourceKind
from processor.policies import parse_policies
from processor.shell.pipeline import Clock, Rules
from processor.shell.worker import clock_of
from tests.unit.test_pipeline import NOW, Harness, body

POLICY = """
version: "late-1"
policies:
  - name: chat
    match: {channel: chat}
    targets: {first_response: 60s}
    warnings: {at: [90%]}
"""


def test_the_event_time_clock_is_the_newest_event_time_less_the_lateness() -> None:
    clock = Clock(event_time=True, wall=lambda: 0.0, lateness_s=300)
    clock.observe(datetime.fromtimestamp(NOW + 1000, UTC))
    clock.observe(datetime.fromtimestamp(NOW + 10, UTC))  # late: the clock does not go back
    assert clock() == NOW + 700
    assert clock.now() == datetime.fromtimestamp(NOW + 700, UTC)


def test_the_wall_clock_ignores_the_lateness() -> None:
    clock = Clock(event_time=False, wall=lambda: NOW, lateness_s=300)
    clock.observe(datetime.fromtimestamp(NOW + 1000, UTC))
    assert clock() == NOW


def sla_kinds_of_s1(lateness_s: float) -> list[str]:
    """A chat answered at 50 s (target 60 s) whose answer arrives after an event at 100 s;
    the clock then moves on to 200 s."""
    h = Harness(rules=Rules(policies=parse_policies(POLICY)))
    h.pipeline.clock = h.clock = Clock(event_time=True, wall=lambda: 0.0, lateness_s=lateness_s)
    h.feed(SourceKind.CHATS, body("chat.started", 0, session_id="s1"))
    h.feed(SourceKind.CHATS, body("chat.started", 100, session_id="s2", customer_id="c2"))
    h.tick(0.0)
    h.feed(SourceKind.CHATS, body("chat.message", 50, session_id="s1", author="agent"))
    h.feed(SourceKind.CHATS, body("chat.started", 200, session_id="s3", customer_id="c3"))
    h.tick(0.0)
    return [event["kind"] for event in h.on("cc.sla-events") if event["ticket_id"] == "s1"]


def test_an_answer_up_to_the_lateness_late_still_meets_the_target() -> None:
    assert sla_kinds_of_s1(lateness_s=60) == ["applied", "met"]


def test_without_lateness_the_same_late_answer_comes_after_the_breach() -> None:
    assert sla_kinds_of_s1(lateness_s=0) == ["applied", "warning", "breached", "met"]


def test_the_lateness_is_read_from_the_environment_and_given_to_the_worker_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CCPULSE_SLA__CLOCK", "event_time")
    monkeypatch.setenv("CCPULSE_SLA__LATENESS_S", "90")
    settings = Settings()
    assert settings.sla.lateness_s == 90
    clock = clock_of(settings)
    clock.observe(datetime.fromtimestamp(NOW, UTC))
    assert clock() == NOW - 90
    assert Settings(sla=SlaSettings()).sla.lateness_s == 0


def test_a_negative_lateness_is_refused() -> None:
    with pytest.raises(ValidationError, match="lateness_s"):
        SlaSettings(lateness_s=-1)
