"""The demo's live terminal summary, read from the worker's ``/metrics`` like any scraper.

``parse`` turns the exposition text into a small view, ``summarize`` computes what a team
lead glances at (FRT p50/p90 per channel, backlog, oldest waiting, events/s, rejects) and
``render`` lays it out. It interpolates quantiles inside histogram buckets the way
PromQL's ``histogram_quantile`` does. It deliberately keeps no history beyond the
previous scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TextIO

from prometheus_client.parser import text_string_to_metric_families

CHANNELS = ("phone", "email", "chat", "sms", "social", "web")


@dataclass(frozen=True, slots=True)
class MetricsView:
    """The figures of one scrape, summed over priorities."""

    frt_buckets: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    frt_count: dict[str, float] = field(default_factory=dict)
    open: dict[str, float] = field(default_factory=dict)
    awaiting: dict[str, float] = field(default_factory=dict)
    oldest: dict[str, float] = field(default_factory=dict)
    consumed: float = 0.0
    rejected: float = 0.0
    duplicates: float = 0.0


@dataclass(frozen=True, slots=True)
class ChannelLine:
    channel: str
    p50: float | None
    p90: float | None
    responses: float
    open: float
    awaiting: float
    oldest: float


@dataclass(frozen=True, slots=True)
class Summary:
    channels: list[ChannelLine]
    events_per_s: float | None
    consumed: float
    rejected: float
    duplicates: float


def parse(text: str) -> MetricsView:
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    view = MetricsView()
    per_channel = {
        "ccpulse_first_response_seconds_count": view.frt_count,
        "ccpulse_tickets_open": view.open,
        "ccpulse_tickets_awaiting_first_response": view.awaiting,
    }
    totals = {
        "ccpulse_events_consumed_total": 0.0,
        "ccpulse_events_rejected_total": 0.0,
        "ccpulse_events_duplicate_total": 0.0,
    }
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            channel = sample.labels.get("channel", "")
            if sample.name == "ccpulse_first_response_seconds_bucket":
                buckets[channel][float(sample.labels["le"])] += sample.value
            elif sample.name in per_channel:
                target = per_channel[sample.name]
                target[channel] = target.get(channel, 0.0) + sample.value
            elif sample.name == "ccpulse_oldest_awaiting_first_response_seconds":
                view.oldest[channel] = max(view.oldest.get(channel, 0.0), sample.value)
            elif sample.name in totals:
                totals[sample.name] += sample.value
    view.frt_buckets.update({ch: sorted(by_le.items()) for ch, by_le in buckets.items()})
    return MetricsView(
        frt_buckets=view.frt_buckets,
        frt_count=view.frt_count,
        open=view.open,
        awaiting=view.awaiting,
        oldest=view.oldest,
        consumed=totals["ccpulse_events_consumed_total"],
        rejected=totals["ccpulse_events_rejected_total"],
        duplicates=totals["ccpulse_events_duplicate_total"],
    )


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Like PromQL ``histogram_quantile``: linear interpolation inside the bucket."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for upper_bound, count in buckets:
        if count >= rank:
            if upper_bound == float("inf"):
                return lower_bound
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 0
            return lower_bound + (upper_bound - lower_bound) * share
        lower_bound, lower_count = upper_bound, count
    return lower_bound


def summarize(current: MetricsView, previous: MetricsView | None, elapsed_s: float) -> Summary:
    lines = [
        ChannelLine(
            channel=channel,
            p50=quantile(0.5, current.frt_buckets.get(channel, [])),
            p90=quantile(0.9, current.frt_buckets.get(channel, [])),
            responses=current.frt_count.get(channel, 0.0),
            open=current.open.get(channel, 0.0),
            awaiting=current.awaiting.get(channel, 0.0),
            oldest=current.oldest.get(channel, 0.0),
        )
        for channel in CHANNELS
    ]
    rate = None
    if previous is not None and elapsed_s > 0:
        rate = max(0.0, current.consumed - previous.consumed) / elapsed_s
    return Summary(lines, rate, current.consumed, current.rejected, current.duplicates)


def human(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def render(summary: Summary) -> str:
    rate = "—" if summary.events_per_s is None else f"{summary.events_per_s:,.0f}"
    rows = [
        "ccpulse — live contact-center metrics (Ctrl-C to stop)",
        "",
        f"{'channel':<8} {'FRT p50':>8} {'FRT p90':>8} {'answered':>9} {'backlog':>8} "
        f"{'awaiting':>9} {'oldest waiting':>15}",
    ]
    rows.extend(
        f"{line.channel:<8} {human(line.p50):>8} {human(line.p90):>8} {line.responses:>9,.0f} "
        f"{line.open:>8,.0f} {line.awaiting:>9,.0f} {human(line.oldest or None):>15}"
        for line in summary.channels
    )
    rows += [
        "",
        f"events/s {rate}   consumed {summary.consumed:,.0f}   "
        f"rejected {summary.rejected:,.0f}   duplicates {summary.duplicates:,.0f}",
    ]
    return "\n".join(rows)


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own endpoint
        return str(response.read().decode())


async def run_summary(
    url: str, stop: asyncio.Event, interval_s: float = 2.0, out: TextIO = sys.stdout
) -> None:
    """Refresh the summary every ``interval_s`` until ``stop`` is set."""
    previous: tuple[MetricsView, float] | None = None
    clear = "\x1b[H\x1b[2J" if out.isatty() else ""
    while not stop.is_set():
        try:
            text = await asyncio.to_thread(_fetch, url)
        except OSError:
            out.write(f"{clear}waiting for the worker at {url} …\n")
        else:
            now = time.monotonic()
            view = parse(text)
            elapsed = now - previous[1] if previous else 0.0
            summary = summarize(view, previous[0] if previous else None, elapsed)
            out.write(f"{clear}{render(summary)}\n{'' if clear else '-' * 72}\n")
            previous = (view, now)
        out.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
