"""A replay ``Report`` as Markdown (for a person) or CSV (for a spreadsheet).

Markdown shows durations in human units and rates as percentages with their counts.
CSV is long-form, one figure per row (``section,item,metric,value``), with durations in
seconds and rates as fractions, so it pivots without parsing units; a figure with no
data (a percentile of nothing, a rate over zero) is an empty value. Neither computes a
figure: that is ``processor.replay.report``'s job.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from processor.replay.report import ALL, Answers, ChannelFigures, Rate, Report

NONE = "–"
Row = tuple[str, str, str, float | int | None]


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600:02d}h"


def percent(rate: Rate) -> str:
    value = rate.value
    return NONE if value is None else f"{100 * value:.1f} % ({rate.part}/{rate.whole})"


def _moment(at: datetime | None) -> str:
    return NONE if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(report: Report) -> str:
    total = report.total
    parts = [
        "# Replay report",
        f"{total.tickets:,} tickets opened {_moment(report.first_event_at)} – "
        f"{_moment(report.last_event_at)}; deadlines judged up to {_moment(report.until)}.",
        "## Channels",
        _table(
            [
                "channel",
                "tickets",
                "resolved",
                "FRT p50",
                "FRT p90",
                "resolution p50",
                "resolution p90",
                "one-touch",
                "FCR",
            ],
            [_channel_row(figures) for figures in report.channels],
        ),
        "## SLA compliance",
        _table(
            ["target", "met", "breached", "compliance", "warnings"],
            [
                [s.target, str(s.met), str(s.breached), percent(s.compliance), str(s.warnings)]
                for s in report.sla
            ],
        )
        if report.sla
        else "No SLA verdicts (no policy applied).",
        "## Repeat contacts",
        _table(
            ["window", "repeat contacts"],
            [[window, percent(rate)] for window, rate in report.repeats],
        ),
        "## Top contact reasons",
        _reasons(report),
        "## Voice of the customer",
        _voice(report.voice),
    ]
    return "\n\n".join(parts) + "\n"


def _channel_row(figures: ChannelFigures) -> list[str]:
    name = f"**{figures.channel}**" if figures.channel == ALL else figures.channel
    return [
        name,
        f"{figures.tickets:,}",
        f"{figures.resolved:,}",
        human_duration(figures.frt_p50),
        human_duration(figures.frt_p90),
        human_duration(figures.resolution_p50),
        human_duration(figures.resolution_p90),
        percent(figures.one_touch),
        percent(figures.fcr),
    ]


def _reasons(report: Report) -> str:
    if not report.reasons:
        return "No contact reasons set."
    table = _table(
        ["reason", "tickets", "share", "repeat contacts"],
        [
            [r.reason, f"{r.tickets:,}", f"{100 * (r.share.value or 0):.1f} %", percent(r.repeats)]
            for r in report.reasons
        ],
    )
    return f"{table}\n\n{report.without_reason:,} tickets without a reason."


def _voice(voice: Sequence[tuple[str, Answers]]) -> str:
    if not voice:
        return "No survey answers."
    rows = []
    for channel, answers in voice:
        nps = answers.nps
        ces = answers.ces
        rows.append(
            [
                f"**{channel}**" if channel == ALL else channel,
                percent(answers.csat),
                NONE if nps is None else f"{nps:+.0f} ({_answers(answers.nps_answers)})",
                NONE if ces is None else f"{ces:.2f} ({_answers(answers.ces_count)})",
            ]
        )
    return _table(["channel", "CSAT (positive)", "NPS", "CES (average)"], rows)


def _answers(count: int) -> str:
    return f"{count} answer" if count == 1 else f"{count} answers"


def csv_text(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("section", "item", "metric", "value"))
    for row in _rows(report):
        writer.writerow("" if cell is None else cell for cell in row)
    return out.getvalue()


def _rows(report: Report) -> Iterator[Row]:
    for f in report.channels:
        yield from (
            ("channels", f.channel, "tickets", f.tickets),
            ("channels", f.channel, "resolved", f.resolved),
            ("channels", f.channel, "frt_p50_seconds", f.frt_p50),
            ("channels", f.channel, "frt_p90_seconds", f.frt_p90),
            ("channels", f.channel, "resolution_p50_seconds", f.resolution_p50),
            ("channels", f.channel, "resolution_p90_seconds", f.resolution_p90),
            *_rate("channels", f.channel, "one_touch", f.one_touch),
            *_rate("channels", f.channel, "fcr", f.fcr),
        )
    for s in report.sla:
        yield ("sla", s.target, "met", s.met)
        yield ("sla", s.target, "breached", s.breached)
        yield ("sla", s.target, "warnings", s.warnings)
        yield ("sla", s.target, "compliance", s.compliance.value)
    for window, rate in report.repeats:
        yield from _rate("repeats", window, "repeat", rate)
    for r in report.reasons:
        yield ("reasons", r.reason, "tickets", r.tickets)
        yield ("reasons", r.reason, "share", r.share.value)
        yield from _rate("reasons", r.reason, "repeat", r.repeats)
    for channel, answers in report.voice:
        yield from _rate("voice", channel, "csat", answers.csat)
        yield ("voice", channel, "nps_answers", answers.nps_answers)
        yield ("voice", channel, "nps", answers.nps)
        yield ("voice", channel, "ces_answers", answers.ces_count)
        yield ("voice", channel, "ces", answers.ces)


def _rate(section: str, item: str, name: str, rate: Rate) -> Iterator[Row]:
    yield (section, item, f"{name}_count", rate.part)
    yield (section, item, f"{name}_of", rate.whole)
    yield (section, item, f"{name}_rate", rate.value)
