"""The replay report: exact figures for a scripted history, and their Markdown and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from processor.replay.progress import Progress, progress_line
from processor.replay.render import csv_text, human_duration, markdown
from processor.replay.report import Answers, Rate, Report, percentile, summarize

UNTIL = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)


def snapshot(
    ticket_id: str,
    channel: str,
    *,
    frt: float | None,
    resolution: float | None = None,
    open_: bool = False,
    one_touch: bool | None = None,
    reason: str | None = None,
    hour: int = 9,
) -> dict[str, Any]:
    resolved = resolution is not None and not open_
    return {
        "ticket_id": ticket_id,
        "channel": channel,
        "reason": reason,
        "opened_at": f"2026-03-02T{hour:02d}:00:00Z",
        "last_event_at": f"2026-03-02T{hour:02d}:30:00Z",
        "first_response_seconds": frt,
        "resolved_at": f"2026-03-02T{hour:02d}:30:00Z" if resolved else None,
        "resolution_seconds": resolution,
        "is_open": open_,
        "one_touch": one_touch if resolved else None,
    }


SNAPSHOTS = [
    snapshot("p1", "phone", frt=99, open_=True, reason="refund"),  # superseded below
    snapshot("p1", "phone", frt=10, resolution=100, one_touch=True, reason="billing", hour=8),
    snapshot("p2", "phone", frt=20, resolution=200, one_touch=False, reason="billing"),
    snapshot("p3", "phone", frt=30, open_=True, reason="refund"),
    snapshot("p4", "phone", frt=None),  # abandoned: closed, neither answered nor resolved
    snapshot("e1", "email", frt=600, resolution=3600, one_touch=True, reason="billing"),
    snapshot("e2", "email", frt=1200, open_=True, reason="refund", hour=17),
]


def sla(ticket: str, target: str, kind: str, n: int = 0) -> dict[str, Any]:
    return {"event_id": f"{ticket}/{target}/{n}/{kind}", "kind": kind, "target": target}


SLA_EVENTS = [
    sla("p1", "first_response", "applied"),
    sla("p1", "first_response", "met"),
    sla("p2", "first_response", "met"),
    sla("p3", "first_response", "warning"),
    sla("p3", "first_response", "breached"),
    sla("p3", "first_response", "breached"),  # a redelivery: one breach
    sla("p1", "resolution", "met"),
]
REPEATS: list[dict[str, Any]] = [
    {"type": "repeat_contact", "ticket_id": "p2", "channel": "phone", "windows": ["24h", "7d"]},
    {"type": "repeat_contact", "ticket_id": "e2", "channel": "email", "windows": ["7d"]},
    {"type": "fcr_verdict", "ticket_id": "p1", "channel": "phone", "fcr": False},
    {"type": "fcr_verdict", "ticket_id": "p2", "channel": "phone", "fcr": True},
    {"type": "fcr_verdict", "ticket_id": "e1", "channel": "email", "fcr": True},
]
VOICE = {
    "phone": Answers(3, 4, promoters=2, passives=1, detractors=1, ces_sum=10.0, ces_count=4),
    "email": Answers(),
}


def report() -> Report:
    return summarize(SNAPSHOTS, SLA_EVENTS, REPEATS, VOICE, windows=("24h", "7d"), until=UNTIL)


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([10, 20, 30, 40], 50) == 20
    assert percentile([10, 20, 30, 40], 90) == 40
    assert percentile([7], 90) == 7
    assert percentile([], 50) is None


def test_the_report_has_exact_figures_per_channel() -> None:
    phone, email, total = report().channels
    assert (phone.channel, phone.tickets, phone.resolved) == ("phone", 4, 2)
    assert (phone.frt_p50, phone.frt_p90) == (20, 30)
    assert (phone.resolution_p50, phone.resolution_p90) == (100, 200)
    assert (phone.one_touch, phone.fcr) == (Rate(1, 2), Rate(1, 2))
    assert (email.tickets, email.resolved, email.frt_p50, email.frt_p90) == (2, 1, 600, 1200)
    assert (email.one_touch, email.fcr) == (Rate(1, 1), Rate(1, 1))
    assert (total.channel, total.tickets, total.resolved) == ("all", 6, 3)
    assert (total.frt_p50, total.frt_p90) == (30, 1200)
    assert (total.resolution_p50, total.resolution_p90) == (200, 3600)
    assert (total.one_touch, total.fcr) == (Rate(2, 3), Rate(2, 3))


def test_the_report_has_sla_compliance_repeats_reasons_and_voice() -> None:
    summary = report()
    assert [(s.target, s.met, s.breached, s.warnings) for s in summary.sla] == [
        ("first_response", 2, 1, 1),
        ("resolution", 1, 0, 0),
    ]
    assert summary.sla[0].compliance == Rate(2, 3)
    assert summary.repeats == (("24h", Rate(1, 6)), ("7d", Rate(2, 6)))
    assert [(r.reason, r.tickets, r.share, r.repeats) for r in summary.reasons] == [
        ("billing", 3, Rate(3, 6), Rate(1, 3)),
        ("refund", 2, Rate(2, 6), Rate(1, 2)),
    ]
    assert summary.without_reason == 1
    [(channel, phone), (everyone, total)] = summary.voice
    assert (channel, everyone) == ("phone", "all")
    assert (phone.csat, phone.nps, phone.ces) == (Rate(3, 4), 25.0, 2.5)
    assert total == phone
    assert summary.first_event_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert summary.last_event_at == datetime(2026, 3, 2, 17, 30, tzinfo=UTC)


def test_only_the_top_ten_reasons_are_listed() -> None:
    many = [snapshot(f"t{i}", "chat", frt=1, reason=f"r{i % 12:02d}") for i in range(30)]
    reasons = summarize(many, [], [], {}, windows=("7d",)).reasons
    assert [r.reason for r in reasons] == [f"r{i:02d}" for i in range(10)]
    assert reasons[0].tickets == 3


def test_markdown_shows_durations_rates_and_counts() -> None:
    text = markdown(report())
    assert "| phone | 4 | 2 | 20s | 30s | 1m 40s | 3m 20s | 50.0 % (1/2) | 50.0 % (1/2) |" in text
    assert (
        "| **all** | 6 | 3 | 30s | 20m 00s | 3m 20s | 1h 00m | 66.7 % (2/3) | 66.7 % (2/3) |"
        in (text)
    )
    assert "| first_response | 2 | 1 | 66.7 % (2/3) | 1 |" in text
    assert "| 7d | 33.3 % (2/6) |" in text
    assert "| billing | 3 | 50.0 % | 33.3 % (1/3) |" in text
    assert "1 tickets without a reason." in text
    assert "| phone | 75.0 % (3/4) | +25 (4 answers) | 2.50 (4 answers) |" in text
    assert "deadlines judged up to 2026-03-03 00:00:00Z" in text


def test_without_survey_answers_the_report_says_so() -> None:
    text = markdown(summarize(SNAPSHOTS, SLA_EVENTS, REPEATS, {}, windows=("7d",)))
    assert "No survey answers." in text


def test_csv_is_one_figure_per_row_in_seconds_and_fractions() -> None:
    rows = list(csv.reader(io.StringIO(csv_text(report()))))
    assert rows[0] == ["section", "item", "metric", "value"]
    figures = {(section, item, metric): value for section, item, metric, value in rows[1:]}
    assert figures["channels", "all", "frt_p90_seconds"] == "1200"
    assert figures["channels", "email", "resolution_p50_seconds"] == "3600"
    assert figures["channels", "all", "one_touch_count"] == "2"
    assert figures["channels", "all", "one_touch_of"] == "3"
    assert float(figures["sla", "first_response", "compliance"]) == pytest.approx(2 / 3)
    assert figures["repeats", "24h", "repeat_count"] == "1"
    assert figures["reasons", "refund", "repeat_rate"] == "0.5"
    assert figures["voice", "all", "nps"] == "25.0"
    assert figures["voice", "all", "ces"] == "2.5"
    assert figures["channels", "phone", "frt_p50_seconds"] == "20"
    # No data is an empty cell, not a zero.
    empty = {
        (s, i, m): v
        for s, i, m, v in list(
            csv.reader(io.StringIO(csv_text(summarize([], [], [], {}, windows=("7d",)))))
        )[1:]
    }
    assert empty["channels", "all", "frt_p50_seconds"] == ""
    assert empty["channels", "all", "fcr_rate"] == ""


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "–"),
        (4.25, "4.2s"),
        (42, "42s"),
        (125, "2m 05s"),
        (3 * 3600 + 1200, "3h 20m"),
        (2 * 86400 + 4 * 3600, "2d 04h"),
    ],
)
def test_durations_are_shown_in_human_units(seconds: float | None, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_the_progress_line_shows_done_total_rate_and_time_left() -> None:
    assert progress_line(2500, 10000, 5.0) == "2,500/10,000 events (25%)  500 events/s  ETA 0:15"
    assert progress_line(10000, 10000, 20.0) == "10,000/10,000 events (100%)  500 events/s  in 0:20"
    bar = progress_line(5000, 10000, 1.0, bar=True)
    assert bar.startswith("[" + "#" * 14 + "." * 14 + "]  5,000/10,000 events (50%)")
    assert progress_line(0, 10, 0.0) == "0/10 events (0%)  0 events/s"


def test_progress_off_a_terminal_is_a_line_every_few_seconds() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = Progress(1000, out, tty=False, clock=lambda: now[0])
    for _ in range(10):
        now[0] += 1.0
        progress.advance(100)
    progress.finish()
    lines = out.getvalue().splitlines()
    assert lines == [
        "replay: 500/1,000 events (50%)  100 events/s  ETA 0:05",
        "replay: 1,000/1,000 events (100%)  100 events/s  in 0:10",
    ]


def test_progress_on_a_terminal_redraws_one_line() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = Progress(1000, out, tty=True, clock=lambda: now[0])
    now[0] = 0.5
    progress.advance(500)
    now[0] = 1.0
    progress.advance(500)
    progress.finish()
    text = out.getvalue()
    assert text.count("\r") == 3
    assert text.endswith("in 0:01\n")
    assert "\n" not in text[:-1]
