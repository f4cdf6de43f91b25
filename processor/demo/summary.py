"""The demo's live terminal summary, read from the worker's ``/metrics`` like any scraper.

``parse`` turns the exposition text into a small view summed over priorities (and over
workers, should several share one endpoint's registry), ``summarize`` computes what a team
lead glances at (FRT p50/p90 per channel, first responses, tickets created and resolved,
backlog, awaiting first response, oldest waiting, events/s, rejects, duplicates) and
``render`` lays it out for a terminal width. Quantiles interpolate inside histogram
buckets the way PromQL's ``histogram_quantile`` does, so the figures match Grafana's.

It deliberately keeps no history beyond the previous scrape (events/s is the counter
delta between two refreshes) and is no substitute for Prometheus: it reads one endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import math
import shutil
import sys
import time
import urllib.request
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

from prometheus_client.parser import text_string_to_metric_families

from processor.events import Channel

# The channels the demo's contact center uses always get a line; others when they appear.
SHOWN_CHANNELS = (Channel.PHONE, Channel.EMAIL, Channel.CHAT, Channel.SOCIAL, Channel.SMS)
CHANNEL_ORDER = (*(channel.value for channel in Channel), "unknown")
WAITING = "waiting for the worker…"
_CLEAR = "\x1b[H\x1b[2J"

# Per-channel sums of the worker's series: exposition sample name -> MetricsView field.
_SUMMED = {
    "ccpulse_first_response_seconds_count": "responses",
    "ccpulse_tickets_created_total": "created",
    "ccpulse_tickets_resolved_total": "resolved",
    "ccpulse_tickets_open": "open",
    "ccpulse_tickets_awaiting_first_response": "awaiting",
}
_TOTALS = {
    "ccpulse_events_consumed_total": "consumed",
    "ccpulse_events_rejected_total": "rejected",
    "ccpulse_events_duplicate_total": "duplicates",
    "ccpulse_sla_warnings_total": "sla_warnings",
    "ccpulse_sla_breaches_total": "sla_breaches",
    "ccpulse_sla_met_total": "sla_met",
    "ccpulse_sla_tickets_at_risk": "at_risk",
    "ccpulse_calls_abandoned_total": "abandoned",
}
_REPEATS = "ccpulse_repeat_contacts_total"
_FCR = "ccpulse_fcr_verdicts_total"
_SERVICE_LEVEL = "ccpulse_call_service_level_calls_total"
_FRT_BUCKET = "ccpulse_first_response_seconds_bucket"
_OLDEST = "ccpulse_oldest_awaiting_first_response_seconds"

Buckets = tuple[tuple[float, float], ...]
"""Cumulative histogram buckets: (upper bound, count), ascending, ending with +Inf."""


@dataclass(frozen=True, slots=True)
class MetricsView:
    """The figures of one scrape, per channel summed over priorities."""

    frt_buckets: Mapping[str, Buckets] = field(default_factory=dict)
    responses: Mapping[str, float] = field(default_factory=dict)
    created: Mapping[str, float] = field(default_factory=dict)
    resolved: Mapping[str, float] = field(default_factory=dict)
    open: Mapping[str, float] = field(default_factory=dict)
    awaiting: Mapping[str, float] = field(default_factory=dict)
    oldest: Mapping[str, float] = field(default_factory=dict)
    consumed: float = 0.0
    rejected: float = 0.0
    duplicates: float = 0.0
    sla_warnings: float = 0.0
    sla_breaches: float = 0.0
    sla_met: float = 0.0
    at_risk: float = 0.0
    abandoned: float = 0.0
    repeats: Mapping[str, float] = field(default_factory=dict)
    """By repeat window."""
    fcr: Mapping[str, float] = field(default_factory=dict)
    """By verdict: positive, negative."""
    service_level: Mapping[str, float] = field(default_factory=dict)
    """Calls by result: within, outside."""


@dataclass(frozen=True, slots=True)
class ChannelLine:
    channel: str
    p50: float | None
    p90: float | None
    responses: float
    created: float
    resolved: float
    open: float
    awaiting: float
    oldest: float


@dataclass(frozen=True, slots=True)
class Summary:
    channels: tuple[ChannelLine, ...]
    events_per_s: float | None
    """``None`` until two scrapes are known."""
    consumed: float
    rejected: float
    duplicates: float
    outcomes: MetricsView = field(default_factory=MetricsView)
    """SLA, repeat, FCR and call figures of the current scrape."""


def parse(text: str) -> MetricsView:
    """The view of one exposition text; samples the summary does not use are ignored."""
    buckets: defaultdict[str, defaultdict[float, float]] = defaultdict(lambda: defaultdict(float))
    summed: dict[str, defaultdict[str, float]] = {name: defaultdict(float) for name in _SUMMED}
    oldest: dict[str, float] = {}
    totals = dict.fromkeys(_TOTALS, 0.0)
    by_label: dict[str, defaultdict[str, float]] = {
        name: defaultdict(float) for name in (_REPEATS, _FCR, _SERVICE_LEVEL)
    }
    label_of = {_REPEATS: "window", _FCR: "verdict", _SERVICE_LEVEL: "result"}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            channel = sample.labels.get("channel", "")
            if sample.name in by_label:
                by_label[sample.name][sample.labels[label_of[sample.name]]] += sample.value
            elif sample.name == _FRT_BUCKET:
                buckets[channel][float(sample.labels["le"])] += sample.value
            elif sample.name in summed:
                summed[sample.name][channel] += sample.value
            elif sample.name == _OLDEST:
                # The oldest waiting ticket is the oldest on any worker: a max, not a sum.
                oldest[channel] = max(oldest.get(channel, 0.0), sample.value)
            elif sample.name in totals:
                totals[sample.name] += sample.value
    by_field = {_SUMMED[name]: dict(values) for name, values in summed.items()}
    total = {_TOTALS[name]: value for name, value in totals.items()}
    return MetricsView(
        frt_buckets={channel: tuple(sorted(by_le.items())) for channel, by_le in buckets.items()},
        responses=by_field["responses"],
        created=by_field["created"],
        resolved=by_field["resolved"],
        open=by_field["open"],
        awaiting=by_field["awaiting"],
        oldest=oldest,
        repeats=dict(by_label[_REPEATS]),
        fcr=dict(by_label[_FCR]),
        service_level=dict(by_label[_SERVICE_LEVEL]),
        **total,
    )


def quantile(q: float, buckets: Buckets) -> float | None:
    """PromQL's ``histogram_quantile``: linear interpolation inside the bucket holding the
    rank, the lowest bucket starting at 0, and the highest finite bound for ranks in +Inf.
    ``None`` without observations."""
    if len(buckets) < 2 or buckets[-1][1] <= 0 or math.isnan(q):
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for upper_bound, count in buckets[:-1]:
        if count >= rank:
            if count == lower_count:
                return upper_bound
            return lower_bound + (upper_bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = upper_bound, count
    return buckets[-2][0]


def summarize(current: MetricsView, previous: MetricsView | None, elapsed_s: float) -> Summary:
    """What the screen shows, from this scrape and (for rates) the previous one."""
    lines = tuple(_channel_line(current, channel) for channel in _channels(current))
    rate = None
    if previous is not None and elapsed_s > 0:
        # A restarted worker starts its counters at zero again: no negative rate.
        rate = max(0.0, current.consumed - previous.consumed) / elapsed_s
    return Summary(lines, rate, current.consumed, current.rejected, current.duplicates, current)


def _channels(view: MetricsView) -> list[str]:
    seen = {*view.frt_buckets, *view.created, *view.open, *view.oldest}
    shown = {channel.value for channel in SHOWN_CHANNELS}
    busy = {channel for channel in seen if _has_figures(view, channel)}
    return [channel for channel in CHANNEL_ORDER if channel in shown | busy]


def _has_figures(view: MetricsView, channel: str) -> bool:
    figures = (view.created, view.responses, view.open, view.oldest)
    return any(figure.get(channel, 0.0) > 0 for figure in figures)


def _channel_line(view: MetricsView, channel: str) -> ChannelLine:
    buckets = view.frt_buckets.get(channel, ())
    return ChannelLine(
        channel=channel,
        p50=quantile(0.5, buckets),
        p90=quantile(0.9, buckets),
        responses=view.responses.get(channel, 0.0),
        created=view.created.get(channel, 0.0),
        resolved=view.resolved.get(channel, 0.0),
        open=view.open.get(channel, 0.0),
        awaiting=view.awaiting.get(channel, 0.0),
        oldest=view.oldest.get(channel, 0.0),
    )


def human(seconds: float | None) -> str:
    """A duration as a person reads it: 42s, 7m, 3.1h, 2.5d; a dash when unknown."""
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86_400:.1f}d"


_HEADER = ("channel", "FRT p50", "FRT p90", "answered", "created", "resolved", "backlog",
           "awaiting", "oldest")  # fmt: skip
_WIDTHS = (8, 8, 8, 9, 8, 9, 8, 9, 8)


def render(summary: Summary, width: int = 80) -> str:
    """The screen as text, every line cut to ``width`` columns."""
    rate = "—" if summary.events_per_s is None else f"{summary.events_per_s:,.1f}"
    rows = [
        "ccpulse — live contact-center metrics (Ctrl-C to stop)",
        "",
        _row(_HEADER),
        *(_row(_cells(line)) for line in summary.channels),
        "",
        *_outcomes(summary.outcomes),
        "",
        f"events/s {rate}   consumed {summary.consumed:,.0f}   "
        f"rejected {summary.rejected:,.0f}   duplicates {summary.duplicates:,.0f}",
    ]
    return "\n".join(row[:width].rstrip() for row in rows)


def _outcomes(view: MetricsView) -> list[str]:
    judged = view.sla_met + view.sla_breaches
    compliance = f" ({view.sla_met / judged:.0%} met)" if judged else ""
    repeats = "  ".join(f"{window} {count:,.0f}" for window, count in view.repeats.items())
    positive, negative = view.fcr.get("positive", 0.0), view.fcr.get("negative", 0.0)
    fcr = f"{positive / (positive + negative):.0%}" if positive + negative else "—"
    within, outside = view.service_level.get("within", 0.0), view.service_level.get("outside", 0.0)
    level = f"{within / (within + outside):.0%}" if within + outside else "—"
    return [
        "",
        f"SLA      met {view.sla_met:,.0f}   breached {view.sla_breaches:,.0f}{compliance}   "
        f"warnings {view.sla_warnings:,.0f}   at risk now {view.at_risk:,.0f}",
        f"repeats  {repeats or '—'}   FCR {fcr} of {positive + negative:,.0f} decided",
        f"calls    service level {level}   abandoned {view.abandoned:,.0f}",
    ]


def _cells(line: ChannelLine) -> tuple[str, ...]:
    counts = (line.responses, line.created, line.resolved, line.open, line.awaiting)
    return (
        line.channel,
        human(line.p50),
        human(line.p90),
        *(f"{count:,.0f}" for count in counts),
        human(line.oldest) if line.oldest > 0 else "—",
    )


def _row(cells: tuple[str, ...]) -> str:
    first, *rest = cells
    return f"{first:<{_WIDTHS[0]}}" + "".join(
        f"{cell:>{width}}" for cell, width in zip(rest, _WIDTHS[1:], strict=True)
    )


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - the worker's endpoint
        return str(response.read().decode())


async def run_summary(
    url: str,
    stop: asyncio.Event,
    interval_s: float = 2.0,
    out: TextIO = sys.stdout,
    footer: str = "",
) -> None:
    """Refresh the summary on ``out`` every ``interval_s`` until ``stop`` is set.

    On a terminal each refresh redraws the screen; otherwise each is appended as plain
    text. An endpoint that is not up (yet) shows a waiting line instead of failing.
    ``footer`` (e.g. where to look further) is shown under every refresh.
    """
    tty = out.isatty()
    previous: tuple[MetricsView, float] | None = None
    while not stop.is_set():
        screen, previous = await _refresh(url, previous)
        width = shutil.get_terminal_size().columns if tty else 100
        text = render(screen, width) if isinstance(screen, Summary) else screen
        text = f"{text}\n{footer}" if footer else text
        # A terminal redraws in place; a log or pipe gets one block per refresh.
        out.write(f"{_CLEAR}{text}\n" if tty else f"{text}\n{'-' * 72}\n")
        out.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


async def _refresh(
    url: str, previous: tuple[MetricsView, float] | None
) -> tuple[Summary | str, tuple[MetricsView, float] | None]:
    """The new summary (or the waiting line) and the scrape to compute rates against."""
    try:
        text = await asyncio.to_thread(_fetch, url)
        view = parse(text)
    except (OSError, http.client.HTTPException, ValueError):
        # Not started yet, restarting, or cut off mid-answer: try again next refresh.
        return f"{WAITING} ({url})", previous
    now = time.monotonic()
    before, elapsed = (previous[0], now - previous[1]) if previous else (None, 0.0)
    return summarize(view, before, elapsed), (view, now)
