"""The replay engine on scripted histories: the worker's pipeline in event time, in-process."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.config import RepeatSettings, Settings, SlaSettings
from processor.replay.engine import Replay
from processor.replay.source import batches, count_lines, read_lines
from processor.shell.worker import rules_of

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICIES = """
version: "replay-test"
policies:
  - name: chat
    match: {channel: chat}
    targets: {first_response: 60s}
    warnings: {at: [50%]}
  - name: phone
    match: {channel: phone}
    targets: {first_response: 30s}
"""


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def event(kind: str, second: float, customer: str, **fields: Any) -> dict[str, Any]:
    own = fields.get("session_id") or fields.get("call_id") or fields.get("ticket_id")
    return {
        "type": kind,
        "event_id": f"{kind}/{own}/{second}",
        "occurred_at": at(second),
        "customer_id": customer,
        **fields,
    }


HISTORY = [
    # c1 chats, is answered in 20 s, and calls back half an hour later: a repeat contact.
    event("chat.started", 0, "c1", session_id="s1"),
    event("chat.message", 20, "c1", session_id="s1", author="agent"),
    # c2's chat is never answered and nothing more arrives for it: breached at 09:02.
    event("chat.started", 60, "c2", session_id="s2"),
    event("chat.ended", 300, "c1", session_id="s1"),
    event("call.queued", 1800, "c1", call_id="call-1"),
    event("call.answered", 1810, "c1", call_id="call-1", agent_id="a7"),
    event("call.ended", 1980, "c1", call_id="call-1"),
]


def settings_for(tmp_path: Path, lateness_s: float = 0.0) -> Settings:
    policy_file = tmp_path / "sla.yaml"
    policy_file.write_text(POLICIES)
    return Settings(
        sla=SlaSettings(policy_file=str(policy_file), lateness_s=lateness_s),
        repeat=RepeatSettings(windows=("1h",), fcr_window="2h"),
    )


class Run:
    """A replay of ``lines`` with what it published, by topic."""

    def __init__(
        self,
        settings: Settings,
        path: Path,
        *,
        batch_size: int = 500,
        until: datetime | None = None,
    ) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.engine = Replay(
            settings,
            rules_of(settings),
            lambda topic, key, value: self.sent.append((topic, key, value)),
            source_name=path.name,
        )
        for batch in batches(read_lines(path), batch_size):
            self.engine.feed(batch)
        self.ended_at = self.engine.finish(until)

    def on(self, topic: str) -> list[tuple[str | None, dict[str, Any]]]:
        return [
            (key.decode() if key is not None else None, orjson.loads(value))
            for name, key, value in self.sent
            if name == topic
        ]

    def snapshots(self) -> dict[str, dict[str, Any]]:
        return {str(key): value for key, value in self.on("cc.ticket-metrics")}

    def sla(self) -> dict[str, dict[str, Any]]:
        return {value["event_id"]: value for _, value in self.on("cc.sla-events")}

    def repeat_flags(self) -> dict[str, tuple[str, list[str]]]:
        return {
            v["ticket_id"]: (v["repeat_of"], v["windows"])
            for _, v in self.on("cc.repeat-contacts")
            if v["type"] == "repeat_contact"
        }

    def verdicts(self) -> dict[str, bool]:
        return {
            v["ticket_id"]: v["fcr"]
            for _, v in self.on("cc.repeat-contacts")
            if v["type"] == "fcr_verdict"
        }

    def value(self, name: str, **labels: str) -> float:
        return self.engine.registry.get_sample_value(name, labels) or 0.0


def write(path: Path, lines: Sequence[dict[str, Any] | bytes]) -> Path:
    path.write_bytes(
        b"".join(
            (line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines
        )
    )
    return path


def test_a_history_gives_the_snapshots_a_worker_would_publish(tmp_path: Path) -> None:
    run = Run(settings_for(tmp_path), write(tmp_path / "h.jsonl", HISTORY))
    snapshots = run.snapshots()
    assert set(snapshots) == {"s1", "s2", "call-1"}
    assert snapshots["s2"] == {
        "ticket_id": "s2",
        "customer_id": "c2",
        "channel": "chat",
        "priority": "normal",
        "queue": None,
        "reason": None,
        "status": None,
        "opened_at": "2026-03-02T09:01:00Z",
        "first_inbound_at": "2026-03-02T09:01:00Z",
        "first_response_at": None,
        "first_response_seconds": None,
        "touches": 0,
        "resolved_at": None,
        "resolution_seconds": None,
        "resolutions": 0,
        "reopens": 0,
        "one_touch": None,
        "is_open": True,
        "awaiting_first_response": True,
        "events": 1,
        "last_event_at": "2026-03-02T09:01:00Z",
        "repeat_of": None,
        "repeat_gap_seconds": None,
        "repeat_previous_channel": None,
        "repeat_windows": [],
        "fcr": None,
    }
    s1 = snapshots["s1"]
    assert (s1["first_response_seconds"], s1["resolution_seconds"], s1["touches"]) == (20, 300, 1)
    call = snapshots["call-1"]
    assert (call["channel"], call["first_response_seconds"], call["resolution_seconds"]) == (
        "phone",
        10,
        180,
    )
    assert run.value("ccpulse_tickets_created_total", channel="chat", priority="normal") == 2
    assert run.value("ccpulse_tickets_resolved_total", channel="phone", priority="normal") == 1


def test_a_deadline_with_no_later_event_for_its_ticket_is_breached_in_event_time(
    tmp_path: Path,
) -> None:
    # One line per batch: s2 is folded when the clock is at 09:01, and only the sweeps
    # look at it again.
    run = Run(settings_for(tmp_path), write(tmp_path / "h.jsonl", HISTORY), batch_size=1)
    s2 = [(v["kind"], v["at"]) for v in run.sla().values() if v["ticket_id"] == "s2"]
    assert sorted(s2) == [
        ("applied", "2026-03-02T09:01:00Z"),
        ("breached", "2026-03-02T09:02:00Z"),
        ("warning", "2026-03-02T09:01:30Z"),
    ]
    s1 = sorted(v["kind"] for v in run.sla().values() if v["ticket_id"] == "s1")
    assert s1 == ["applied", "met"]
    breach = {"channel": "chat", "priority": "normal", "target": "first_response"}
    assert run.value("ccpulse_sla_breaches_total", **breach) == 1
    assert run.value("ccpulse_sla_met_total", **breach) == 1


def test_a_callback_within_the_window_is_a_repeat_and_fails_the_first_ticket_fcr(
    tmp_path: Path,
) -> None:
    until = T0 + timedelta(hours=4)
    run = Run(settings_for(tmp_path), write(tmp_path / "h.jsonl", HISTORY), until=until)
    assert run.repeat_flags() == {"call-1": ("s1", ["1h"])}
    # s1 resolved 09:05 and c1 came back before 11:05; call-1's window closed at 11:33.
    assert run.verdicts() == {"s1": False, "call-1": True}
    assert run.snapshots()["s1"]["fcr"] is False
    assert run.snapshots()["call-1"]["repeat_of"] == "s1"
    assert run.ended_at == until


def test_the_end_of_input_releases_the_lateness_up_to_the_newest_event(tmp_path: Path) -> None:
    # With ten minutes of lateness, s2's breach (09:02) is not judged while lines come in
    # (the newest is 09:05), only at the end of the input.
    sent: list[str] = []
    settings_ = settings_for(tmp_path, lateness_s=600)
    engine = Replay(
        settings_,
        rules_of(settings_),
        lambda _, __, value: sent.append(value.decode()),
        source_name="h",
    )
    engine.feed(list(read_lines(write(tmp_path / "h.jsonl", HISTORY[:4]))))
    assert not any("s2/first_response/0/breached" in message for message in sent)
    assert engine.finish() == T0 + timedelta(seconds=300)
    assert any("s2/first_response/0/breached" in message for message in sent)
    assert not any("fcr_verdict" in message for message in sent)  # s1's window: 2 h on


def test_lines_of_no_known_source_are_dead_lettered_with_their_line_number(
    tmp_path: Path,
) -> None:
    lines: list[dict[str, Any] | bytes] = [
        HISTORY[0],
        b"{not json",
        {"type": "fax.received", "event_id": "f1", "occurred_at": at(5), "customer_id": "c9"},
        {**HISTORY[1], "occurred_at": "2026-03-02T09:00:20"},  # a known source: the decoder's
    ]
    run = Run(settings_for(tmp_path), write(tmp_path / "history.jsonl", lines))
    letters = [value for _, value in run.on("cc.deadletter")]
    assert [(v["reason"], v["topic"], v["offset"]) for v in letters] == [
        ("invalid_json", "history.jsonl", 2),
        ("unknown_type", "history.jsonl", 3),
        ("naive_timestamp", "history.jsonl", 4),
    ]
    assert letters[0]["original_text"] == "{not json"
    assert "fax.received" in letters[1]["detail"]
    assert run.value("ccpulse_events_rejected_total", source="unknown", reason="invalid_json") == 1
    assert run.value("ccpulse_events_rejected_total", source="unknown", reason="unknown_type") == 1
    assert run.value("ccpulse_events_rejected_total", source="chats", reason="naive_timestamp") == 1
    assert run.engine.lines == 4
    assert set(run.snapshots()) == {"s1"}


def test_lines_are_counted_with_or_without_a_last_line_break(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_bytes(b"{}\n{}\n{}")
    assert count_lines(path) == 3
    path.write_bytes(b"{}\n{}\n")
    assert count_lines(path) == 2


LATENESS_S = 300.0
BUSY_HISTORY = [
    *HISTORY,
    # Events of other tickets close to s1's and s2's deadlines, so a reordering within the
    # lateness would decide them wrongly without it.
    event("chat.started", 30, "c3", session_id="s3"),
    event("chat.message", 75, "c3", session_id="s3", author="agent"),
    event("chat.message", 95, "c2", session_id="s2", author="customer"),
    event("call.queued", 100, "c4", call_id="call-2"),
    event("call.answered", 125, "c4", call_id="call-2", agent_id="a1"),
    event("call.ended", 400, "c4", call_id="call-2"),
    event("call.queued", 2100, "c3", call_id="call-3"),
    event("call.answered", 2140, "c3", call_id="call-3", agent_id="a2"),
    event("call.ended", 2200, "c3", call_id="call-3"),
    event("chat.started", 7600, "c4", session_id="s4"),
    event("chat.message", 7650, "c4", session_id="s4", author="agent"),
]
UNTIL = T0 + timedelta(hours=5)


def outcome(run: Run) -> tuple[Any, ...]:
    return (run.snapshots(), run.sla(), run.repeat_flags(), run.verdicts())


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    jitter=st.lists(
        st.floats(0, LATENESS_S, exclude_max=True),
        min_size=len(BUSY_HISTORY),
        max_size=len(BUSY_HISTORY),
    ),
    batch_size=st.integers(1, 3),
)
def test_reordering_within_the_lateness_changes_no_output(
    tmp_path: Path, jitter: list[float], batch_size: int
) -> None:
    """Only events less than the lateness apart can swap: each is moved by less than it."""
    settings_ = settings_for(tmp_path, lateness_s=LATENESS_S)
    in_order = sorted(BUSY_HISTORY, key=lambda e: e["occurred_at"])
    expected = outcome(Run(settings_, write(tmp_path / "a.jsonl", in_order), until=UNTIL))
    moved = sorted(
        zip(BUSY_HISTORY, jitter, strict=True),
        key=lambda pair: datetime.fromisoformat(pair[0]["occurred_at"]).timestamp() + pair[1],
    )
    shuffled = [e for e, _ in moved]
    path = write(tmp_path / "b.jsonl", shuffled)
    assert outcome(Run(settings_, path, batch_size=batch_size, until=UNTIL)) == expected
