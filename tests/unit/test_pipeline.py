"""The processing steps with a dict for the table and a list for the producer (no broker)."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from processor.codec import SourceDecoder, decode_state
from processor.core import derive
from processor.core.customer import RepeatRule
from processor.events import SourceKind
from processor.metrics import Metrics
from processor.open_tickets import OpenTickets
from processor.shell.pipeline import Clock, Message, Pipeline, Rules, Topics

TOPICS = Topics(
    routed="routed",
    customer_views="views",
    ticket_metrics="cc.ticket-metrics",
    deadletter="cc.deadletter",
    sla_events="cc.sla-events",
    repeat_contacts="cc.repeat-contacts",
)
NOW = 1_772_442_000.0  # 2026-03-02T09:00:00Z


class Harness:
    """The pipeline with dicts for tables and a list for the producer; internal topics are
    handed back to the pipeline by ``drain`` as the Faust agents would."""

    def __init__(
        self, rules: Rules | None = None, now: float = NOW + 600, reasons: tuple[str, ...] = ()
    ) -> None:
        self.now = now
        self.registry = CollectorRegistry()
        self.open_tickets = OpenTickets()
        self.clock = Clock(event_time=False, wall=lambda: self.now)
        self.metrics = Metrics(self.registry, self.open_tickets, self.clock, reasons=reasons)
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.table: dict[bytes, bytes] = {}
        self.customers: dict[bytes, bytes] = {}
        self.pipeline = Pipeline(
            TOPICS,
            SourceDecoder(max_bytes=4096),
            self.metrics,
            self.open_tickets,
            lambda topic, key, value, partition=None: self.sent.append((topic, key, value)),
            rules=rules or Rules(),
            clock=self.clock,
        )
        self._offset = 0

    def feed(self, kind: SourceKind, *bodies: dict[str, Any] | bytes) -> None:
        messages = []
        for body in bodies:
            raw = body if isinstance(body, bytes) else orjson.dumps(body)
            messages.append(Message(f"cc.{kind.value}", 0, self._offset, b"k", raw))
            self._offset += 1
        self.pipeline.ingest(kind, messages)
        self.drain()

    def drain(self) -> None:
        """Deliver what was sent to the internal topics until nothing is left."""
        while any(sent[0] in ("routed", "views") for sent in self.sent):
            self.deliver("routed")
            self.deliver("views")

    def deliver(self, topic: str) -> None:
        """Hand what was sent to one internal topic so far to its step, as one batch."""
        step, table = {
            "routed": (self.pipeline.update_tickets, self.table),
            "views": (self.pipeline.update_customers, self.customers),
        }[topic]
        batch = [
            Message(topic, 1, i, key, value)
            for i, (name, key, value) in enumerate(self.sent)
            if name == topic
        ]
        self.sent = [sent for sent in self.sent if sent[0] != topic]
        if batch:
            step(table, batch)

    def tick(self, now: float) -> None:
        """The worker's timer at ``now``."""
        self.now = now
        self.pipeline.check_deadlines(self.table)
        self.pipeline.forget_expired(self.table)
        self.pipeline.share_clock((0,), 1)
        self.drain()
        self.pipeline.close_windows(self.customers)
        self.drain()

    def restart(self) -> None:
        """A new run of the worker on the recovered tables, as the worker's recovery indexes
        them: its clock goes on from what they hold, it looks at every key at once."""
        old = self.pipeline
        self.clock = Clock(old.clock.event_time, old.clock.wall, old.clock.lateness_s)
        self.pipeline = Pipeline(
            old.topics,
            old.decoder,
            old.metrics,
            old.open_tickets,
            old.send,
            rules=old.rules,
            clock=self.clock,
        )
        for key, value in self.table.items():
            state = decode_state(value)
            self.pipeline.recovered_ticket(0, key, state, derive(state))
        for key in self.customers:
            self.pipeline.fcr_due.set(1, key, 0.0)

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(value) for name, _, value in self.sent if name == topic]

    def value(self, name: str, **labels: str) -> float:
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found


def body(kind: str, second: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": f"{kind}-{second}-{fields.get('message_id', '')}",
        "occurred_at": f"2026-03-02T09:{second // 60:02d}:{second % 60:02d}Z",
        "customer_id": "c1",
        **fields,
    }


def test_an_email_answered_after_90_seconds_is_observed_and_published() -> None:
    h = Harness()
    h.feed(SourceKind.EMAILS, body("email.received", 0, thread_id="t1", message_id="m1"))
    assert (
        h.value("ccpulse_tickets_awaiting_first_response", channel="email", priority="normal") == 1
    )
    assert h.value("ccpulse_oldest_awaiting_first_response_seconds", channel="email") == 600
    h.feed(SourceKind.EMAILS, body("email.sent", 90, thread_id="t1", message_id="m2"))
    labels = {"channel": "email", "priority": "normal"}
    assert h.value("ccpulse_first_response_seconds_count", **labels) == 1
    assert h.value("ccpulse_first_response_seconds_sum", **labels) == 90
    assert h.value("ccpulse_tickets_created_total", **labels) == 1
    assert h.value("ccpulse_tickets_open", **labels) == 1
    assert h.value("ccpulse_tickets_awaiting_first_response", **labels) == 0
    assert h.value("ccpulse_events_consumed_total", source="emails", type="email.sent") == 1
    snapshots = h.on("cc.ticket-metrics")
    assert [s["first_response_seconds"] for s in snapshots] == [None, 90.0]
    assert decode_state(h.table[b"t1"]).ticket_id == "t1"


def test_a_redelivered_event_counts_nothing_twice_and_republishes_the_same_snapshot() -> None:
    h = Harness()
    received = body("email.received", 0, thread_id="t1", message_id="m1")
    h.feed(SourceKind.EMAILS, received)
    h.feed(SourceKind.EMAILS, received)  # this run's outputs are still in its producer
    assert h.value("ccpulse_events_duplicate_total", source="emails") == 1
    assert h.value("ccpulse_tickets_created_total", channel="email", priority="normal") == 1
    assert len(h.on("cc.ticket-metrics")) == 1
    h.pipeline.run = "a restarted worker"
    h.feed(SourceKind.EMAILS, received)  # outputs of the run that died may be lost
    h.feed(SourceKind.EMAILS, received)
    first, again = h.on("cc.ticket-metrics")
    assert again == first
    assert h.value("ccpulse_tickets_created_total", channel="email", priority="normal") == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b"", "empty"),
        (b"[1, 2]", "not_an_object"),
        (orjson.dumps(body("email.exploded", 0, thread_id="t", message_id="m")), "unknown_type"),
        (orjson.dumps(body("call.queued", 0, call_id="c")), "unknown_type"),
        (orjson.dumps({**body("email.received", 0, message_id="m")}), "invalid_event"),
        (
            orjson.dumps(
                {
                    **body("email.received", 0, thread_id="t", message_id="m"),
                    "occurred_at": "2026-03-02T09:00:00",
                }
            ),
            "naive_timestamp",
        ),
        (b"\xff\xfe\x00garbage", "invalid_json"),
        (b'{"type": "email.received", "pad": "' + b"x" * 5000 + b'"}', "too_large"),
    ],
)
def test_bad_input_goes_to_the_dead_letter_topic_with_a_reason_and_is_counted(
    raw: bytes, reason: str
) -> None:
    h = Harness()
    h.feed(SourceKind.EMAILS, raw)
    [letter] = h.on("cc.deadletter")
    assert letter["reason"] == reason
    assert letter["detail"]
    assert base64.b64decode(letter["original"]) == raw
    assert (letter["topic"], letter["offset"]) == ("cc.emails", 0)
    assert h.value("ccpulse_events_rejected_total", source="emails", reason=reason) == 1
    assert h.on("cc.ticket-metrics") == []


def test_a_bad_message_does_not_stop_the_good_ones_around_it() -> None:
    h = Harness()
    h.feed(
        SourceKind.CALLS,
        body("call.queued", 0, call_id="c1"),
        b"\x00",
        body("call.answered", 20, call_id="c1", agent_id="a"),
    )
    assert h.value("ccpulse_first_response_seconds_sum", channel="phone", priority="normal") == 20
    assert len(h.on("cc.deadletter")) == 1


def test_resolution_touches_and_one_touch_are_recorded_on_resolution() -> None:
    h = Harness()
    h.feed(
        SourceKind.TICKETS,
        body("ticket.created", 0, ticket_id="T", channel="chat", priority="high"),
    )
    h.feed(
        SourceKind.CHATS, body("chat.message", 30, ticket_id="T", session_id="s", author="agent")
    )
    h.feed(SourceKind.TICKETS, body("ticket.status_changed", 300, ticket_id="T", status="solved"))
    labels = {"channel": "chat", "priority": "high"}
    assert h.value("ccpulse_resolution_seconds_sum", **labels) == 300
    assert h.value("ccpulse_touches_per_resolution_sum", **labels) == 1
    assert h.value("ccpulse_one_touch_resolutions_total", **labels) == 1
    assert h.value("ccpulse_tickets_resolved_total", **labels) == 1
    assert h.value("ccpulse_tickets_open", **labels) == 0


def test_backlog_gauges_forget_revoked_partitions() -> None:
    h = Harness()
    h.feed(SourceKind.EMAILS, body("email.received", 0, thread_id="t1", message_id="m1"))
    assert h.value("ccpulse_tickets_open", channel="email", priority="normal") == 1
    h.open_tickets.drop_partitions([1])
    assert h.value("ccpulse_tickets_open", channel="email", priority="normal") == 0


# -- order and batching do not change the outcome ------------------------------------

SCENARIO = [
    body("ticket.created", 0, ticket_id="T", channel="email", priority="high", reason="billing"),
    body("ticket.reason_set", 50, ticket_id="T", reason="refund"),
    body("survey.csat_answered", 650, ticket_id="T", survey_id="s", score=5),
    body("email.received", 1, ticket_id="T", thread_id="t", message_id="m1"),
    body("email.sent", 2, ticket_id="T", thread_id="t", message_id="m2", automated=True),
    body("email.sent", 90, ticket_id="T", thread_id="t", message_id="m3"),
    body("ticket.status_changed", 300, ticket_id="T", status="solved"),
    body("ticket.status_changed", 400, ticket_id="T", status="open"),
    body("call.outbound", 500, ticket_id="T", call_id="c", agent_id="a"),
    body("ticket.status_changed", 600, ticket_id="T", status="solved"),
    body("call.queued", 0, call_id="c2"),
    body("call.answered", 12, call_id="c2", agent_id="a"),
    body("call.ended", 200, call_id="c2"),
]
COUNTERS = (
    "ccpulse_tickets_created_total",
    "ccpulse_tickets_resolved_total",
    "ccpulse_ticket_reopens_total",
    "ccpulse_first_response_seconds_count",
    "ccpulse_tickets_open",
    "ccpulse_csat_answers_total",
)


def net_reasons(h: Harness) -> dict[tuple[tuple[str, str], ...], float]:
    """Tickets per (reason, channel, contact): counted minus moved away."""
    net: dict[tuple[tuple[str, str], ...], float] = {}
    for metric in h.registry.collect():
        for sample in metric.samples:
            sign = {
                "ccpulse_contact_reasons_total": 1,
                "ccpulse_contact_reasons_moved_away_total": -1,
            }.get(sample.name)
            if sign is not None:
                place = tuple(sorted(sample.labels.items()))
                net[place] = net.get(place, 0) + sign * sample.value
    return {place: count for place, count in net.items() if count}


def outcome(batches: list[list[dict[str, Any]]]) -> tuple[Any, ...]:
    h = Harness(reasons=("billing", "refund"))
    for batch in batches:
        routed = [
            Message("routed", 0, i, (e.get("ticket_id") or e["call_id"]).encode(), orjson.dumps(e))
            for i, e in enumerate(batch)
        ]
        h.pipeline.update_tickets(h.table, routed)
    last = {s["ticket_id"]: s for s in h.on("cc.ticket-metrics")}
    totals = tuple(
        sum(v.value for metric in h.registry.collect() for v in metric.samples if v.name == name)
        for name in COUNTERS
    )
    return last, totals, net_reasons(h)


@settings(max_examples=150, deadline=None)
@given(
    st.permutations(SCENARIO),
    st.lists(st.sampled_from(SCENARIO), max_size=6),
    st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=12),
)
def test_any_order_batching_and_redelivery_give_the_same_snapshots_and_totals(
    order: list[dict[str, Any]], redelivered: list[dict[str, Any]], sizes: list[int]
) -> None:
    stream = [*order, *redelivered]
    batches, start = [], 0
    for size in sizes * len(stream):
        if start >= len(stream):
            break
        batches.append(stream[start : start + size])
        start += size
    assert outcome(batches) == outcome([SCENARIO])


# -- SLA, repeat contacts, FCR, service level -------------------------------------------

POLICY = """
version: v7
policies:
  - name: email
    match: {channel: email}
    targets: {first_response: 10m}
    warnings: {at: [50%]}
"""


def sla_harness() -> Harness:
    from processor.policies import parse_policies

    return Harness(rules=Rules(policies=parse_policies(POLICY)), now=NOW)


def test_a_deadline_passing_with_no_event_is_published_once_by_the_timer() -> None:
    h = sla_harness()
    h.feed(SourceKind.EMAILS, body("email.received", 0, thread_id="t1", message_id="m1"))
    assert [e["kind"] for e in h.on("cc.sla-events")] == ["applied"]
    h.tick(NOW + 299)
    assert len(h.on("cc.sla-events")) == 1
    labels = {"channel": "email", "priority": "normal", "target": "first_response"}
    assert h.value("ccpulse_sla_tickets_at_risk", **labels) == 0
    h.tick(NOW + 300)
    h.tick(NOW + 301)
    assert [e["kind"] for e in h.on("cc.sla-events")] == ["applied", "warning"]
    assert h.value("ccpulse_sla_tickets_at_risk", **labels) == 1
    assert h.value("ccpulse_sla_seconds_to_next_breach", channel="email") == 299
    h.tick(NOW + 600)
    h.tick(NOW + 900)
    events = h.on("cc.sla-events")
    assert [e["kind"] for e in events] == ["applied", "warning", "breached"]
    assert events[-1]["event_id"] == "t1/first_response/0/breached"
    assert events[-1]["policy_version"] == "v7"
    assert h.value("ccpulse_sla_breaches_total", **labels) == 1
    assert h.value("ccpulse_sla_warnings_total", **labels) == 1
    assert h.value("ccpulse_sla_tickets_at_risk", **labels) == 0


def test_a_breached_target_still_running_is_overdue_until_the_response() -> None:
    h = sla_harness()
    h.feed(SourceKind.EMAILS, body("email.received", 0, thread_id="t1", message_id="m1"))
    labels = {"channel": "email", "priority": "normal", "target": "first_response"}
    h.tick(NOW + 599)
    assert h.value("ccpulse_sla_tickets_overdue", **labels) == 0
    h.tick(NOW + 600)
    assert h.value("ccpulse_sla_tickets_overdue", **labels) == 1
    assert h.value("ccpulse_sla_tickets_at_risk", **labels) == 0
    h.now = NOW + 1000
    h.feed(SourceKind.EMAILS, body("email.sent", 1000, thread_id="t1", message_id="m2"))
    assert h.value("ccpulse_sla_tickets_overdue", **labels) == 0


def test_counters_of_closed_label_sets_start_at_zero_so_increase_sees_the_first_event() -> None:
    registry = CollectorRegistry()
    clock = Clock(event_time=False, wall=lambda: NOW)
    Metrics(registry, OpenTickets(), clock, repeat_windows=("2m",))
    sla = {"channel": "web", "priority": "urgent", "target": "next_response"}
    for name, labels in [
        ("ccpulse_sla_breaches_total", sla),
        ("ccpulse_sla_warnings_total", sla),
        ("ccpulse_sla_met_total", sla),
        ("ccpulse_tickets_created_total", {"channel": "sms", "priority": "low"}),
        ("ccpulse_ticket_reopens_total", {"channel": "unknown", "priority": "high"}),
        ("ccpulse_first_response_corrections_total", {"channel": "chat", "priority": "normal"}),
        ("ccpulse_events_consumed_total", {"source": "surveys", "type": "survey.nps_answered"}),
        ("ccpulse_events_rejected_total", {"source": "calls", "reason": "too_large"}),
        ("ccpulse_events_duplicate_total", {"source": "social"}),
        ("ccpulse_fcr_verdicts_total", {"channel": "phone", "verdict": "negative"}),
        (
            "ccpulse_repeat_contacts_total",
            {"window": "2m", "channel": "sms", "previous_channel": "email"},
        ),
        ("ccpulse_calls_abandoned_total", {"short": "true"}),
    ]:
        assert registry.get_sample_value(name, labels) == 0.0, name


def test_a_response_in_time_is_met_and_stops_the_timer() -> None:
    h = sla_harness()
    h.feed(SourceKind.EMAILS, body("email.received", 0, thread_id="t1", message_id="m1"))
    h.feed(SourceKind.EMAILS, body("email.sent", 60, thread_id="t1", message_id="m2"))
    h.tick(NOW + 3600)
    assert [e["kind"] for e in h.on("cc.sla-events")] == ["applied", "met"]
    labels = {"channel": "email", "priority": "normal", "target": "first_response"}
    assert h.value("ccpulse_sla_met_total", **labels) == 1
    assert len(h.pipeline.sla_due) == 0


def test_audit_events_of_a_sweep_whose_run_died_are_published_again_by_the_next_run() -> None:
    h = sla_harness()
    h.feed(SourceKind.EMAILS, body("email.received", 0, thread_id="t1", message_id="m1"))
    h.feed(SourceKind.EMAILS, body("email.received", 0, thread_id="t2", message_id="m2"))
    # t2 is answered: written on an event, whose offset is not committed before its outputs
    # are out (a restart gets it again).
    h.now = NOW + 30
    h.feed(SourceKind.EMAILS, body("email.sent", 30, thread_id="t2", message_id="m3"))
    h.tick(NOW + 600)
    swept = [e["event_id"] for e in h.on("cc.sla-events") if e["ticket_id"] == "t1"]
    assert [i.split("/")[-1] for i in swept] == ["email@v7", "0.5", "breached"]
    # The run dies with t1's warning and breach in its producer; its table write got out.
    h.sent.clear()
    h.restart()
    h.tick(NOW + 602)
    assert [e["event_id"] for e in h.on("cc.sla-events")] == swept
    h.tick(NOW + 603)
    assert len(h.on("cc.sla-events")) == len(swept)
    labels = {"channel": "email", "priority": "normal", "target": "first_response"}
    assert h.value("ccpulse_sla_breaches_total", **labels) == 1


REPEATS = Rules(repeat=RepeatRule((("1h", timedelta(hours=1)),), timedelta(hours=1)))


def ticket(second: int, customer: str, tid: str, channel: str = "email") -> dict[str, Any]:
    return {
        **body("ticket.created", second, ticket_id=tid, channel=channel),
        "customer_id": customer,
    }


def solved(second: int, customer: str, tid: str) -> dict[str, Any]:
    status = body("ticket.status_changed", second, ticket_id=tid, status="solved")
    return {**status, "customer_id": customer}


def test_a_second_ticket_within_the_window_is_flagged_and_fails_the_first_ones_fcr() -> None:
    h = Harness(rules=REPEATS, now=NOW)
    h.feed(SourceKind.TICKETS, ticket(0, "c1", "A"), solved(60, "c1", "A"))
    h.feed(SourceKind.TICKETS, ticket(600, "c1", "B", channel="chat"))
    (repeat,) = [m for m in h.on("cc.repeat-contacts") if m["type"] == "repeat_contact"]
    assert (repeat["ticket_id"], repeat["repeat_of"], repeat["gap_seconds"]) == ("B", "A", 600)
    assert repeat["previous_channel"] == "email"
    labels = {"window": "1h", "channel": "chat", "previous_channel": "email"}
    assert h.value("ccpulse_repeat_contacts_total", **labels) == 1
    snapshots = {s["ticket_id"]: s for s in h.on("cc.ticket-metrics")}
    assert snapshots["B"]["repeat_of"] == "A"
    assert snapshots["B"]["repeat_windows"] == ["1h"]
    h.tick(NOW + 60 + 3599)
    assert not [m for m in h.on("cc.repeat-contacts") if m["type"] == "fcr_verdict"]
    h.tick(NOW + 60 + 3600)
    (verdict,) = [m for m in h.on("cc.repeat-contacts") if m["type"] == "fcr_verdict"]
    assert (verdict["ticket_id"], verdict["fcr"]) == ("A", False)
    assert h.value("ccpulse_fcr_verdicts_total", channel="email", verdict="negative") == 1
    assert [s["fcr"] for s in h.on("cc.ticket-metrics") if s["ticket_id"] == "A"][-1] is False
    h.tick(NOW + 7200)
    assert len([m for m in h.on("cc.repeat-contacts") if m["type"] == "fcr_verdict"]) == 1


def test_a_customer_who_stays_away_gets_a_positive_verdict_when_the_window_closes() -> None:
    h = Harness(rules=REPEATS, now=NOW)
    h.feed(SourceKind.TICKETS, ticket(0, "c2", "C"), solved(60, "c2", "C"))
    h.feed(SourceKind.TICKETS, ticket(7200, "c2", "D"))  # after the window: not a repeat
    h.tick(NOW + 60 + 3600)
    messages = h.on("cc.repeat-contacts")
    assert [(m["type"], m["ticket_id"], m.get("fcr")) for m in messages] == [
        ("fcr_verdict", "C", True)
    ]


def test_a_verdict_of_a_sweep_whose_run_died_is_published_again_by_the_next_run() -> None:
    h = Harness(rules=REPEATS, now=NOW)
    h.feed(SourceKind.TICKETS, ticket(0, "c2", "C"), solved(60, "c2", "C"))
    h.tick(NOW + 60 + 3600)
    verdicts = [m for m in h.on("cc.repeat-contacts") if m["type"] == "fcr_verdict"]
    assert [(m["ticket_id"], m["fcr"]) for m in verdicts] == [("C", True)]
    h.sent.clear()  # the run died with the verdict in its producer
    h.restart()
    h.tick(NOW + 60 + 3601)
    assert h.on("cc.repeat-contacts") == verdicts
    assert [s["fcr"] for s in h.on("cc.ticket-metrics")] == [True]
    h.tick(NOW + 60 + 3602)
    assert len(h.on("cc.repeat-contacts")) == 1
    assert h.value("ccpulse_fcr_verdicts_total", channel="email", verdict="positive") == 1


def test_calls_feed_the_service_level_abandons_and_speed_of_answer() -> None:
    h = Harness()
    calls = [
        ("k1", 0, "call.answered", 15),  # within 20 s
        ("k2", 0, "call.answered", 45),  # outside
        ("k3", 0, "call.abandoned", 3),  # short abandon: excluded
        ("k4", 0, "call.abandoned", 30),  # counts as missed
    ]
    for call_id, queued, outcome, after in calls:
        h.feed(
            SourceKind.CALLS,
            body("call.queued", queued, call_id=call_id),
            body(outcome, queued + after, call_id=call_id, agent_id="a"),
        )
    assert h.value("ccpulse_call_service_level_calls_total", result="within") == 1
    assert h.value("ccpulse_call_service_level_calls_total", result="outside") == 2
    assert h.value("ccpulse_calls_abandoned_total", short="true") == 1
    assert h.value("ccpulse_calls_abandoned_total", short="false") == 1
    assert h.value("ccpulse_calls_answered_total") == 2
    assert h.value("ccpulse_call_answer_seconds_sum") == 60


def test_a_redelivery_republishes_sla_events_and_repeat_flags_with_the_same_ids() -> None:
    from processor.policies import parse_policies

    rules = Rules(policies=parse_policies(POLICY), repeat=REPEATS.repeat)
    h = Harness(rules=rules, now=NOW + 400)
    first = ticket(0, "c1", "A")
    h.feed(SourceKind.TICKETS, first, ticket(600, "c1", "B", channel="chat"))
    sla_ids = [e["event_id"] for e in h.on("cc.sla-events")]
    assert sla_ids
    repeats = h.on("cc.repeat-contacts")
    assert len(repeats) == 1
    h.feed(SourceKind.TICKETS, first)  # redelivered to the same run: nothing again
    assert [e["event_id"] for e in h.on("cc.sla-events")] == sla_ids
    assert len(h.on("cc.repeat-contacts")) == 1
    h.pipeline.run = "a restarted worker"
    h.feed(SourceKind.TICKETS, first)  # redelivered after a crash
    h.feed(SourceKind.TICKETS, first)
    assert [e["event_id"] for e in h.on("cc.sla-events")] == sla_ids * 2
    assert h.on("cc.repeat-contacts")[-1]["event_id"] == repeats[0]["event_id"]
    labels = {"window": "1h", "channel": "chat", "previous_channel": "email"}
    assert h.value("ccpulse_repeat_contacts_total", **labels) == 1


def test_a_restarted_run_republishes_when_it_first_touches_a_ticket_even_with_a_new_event() -> None:
    from processor.policies import parse_policies

    h = Harness(rules=Rules(policies=parse_policies(POLICY)), now=NOW + 400)
    h.feed(SourceKind.EMAILS, body("email.received", 0, thread_id="t1", message_id="m1"))
    sla_ids = [e["event_id"] for e in h.on("cc.sla-events")]
    assert sla_ids == ["t1/first_response/0/applied/email@v7", "t1/first_response/0/warning/0.5"]
    h.pipeline.run = "a restarted worker"
    h.feed(SourceKind.EMAILS, body("email.received", 30, thread_id="t1", message_id="m3"))
    h.feed(SourceKind.EMAILS, body("email.received", 40, thread_id="t1", message_id="m4"))
    assert [e["event_id"] for e in h.on("cc.sla-events")] == sla_ids * 2
    labels = {"channel": "email", "priority": "normal", "target": "first_response"}
    assert h.value("ccpulse_sla_warnings_total", **labels) == 1


CHAT_POLICY = """
version: v1
policies:
  - name: chat
    match: {channel: chat}
    targets: {first_response: 60s}
    warnings: {at: [50%]}
"""


def test_a_warnings_deadline_does_not_depend_on_whether_the_answer_was_known_yet() -> None:
    from processor.policies import parse_policies

    started = body("chat.started", 0, session_id="s1")
    answered = body("chat.message", 45, session_id="s1", author="agent")
    deadlines = []
    for answer_known_before_the_warning in (False, True):
        h = Harness(rules=Rules(policies=parse_policies(CHAT_POLICY)), now=NOW)
        h.feed(SourceKind.CHATS, started)
        if answer_known_before_the_warning:
            h.feed(SourceKind.CHATS, answered)
        h.tick(NOW + 40)
        h.feed(SourceKind.CHATS, answered)
        h.tick(NOW + 50)
        events = {e["kind"]: e for e in h.on("cc.sla-events")}
        assert set(events) == {"applied", "warning", "met"}
        deadlines.append((events["warning"]["deadline"], events["met"]["deadline"]))
    assert deadlines == [("2026-03-02T09:01:00Z", "2026-03-02T09:01:00Z")] * 2
