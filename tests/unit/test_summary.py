"""The live summary reads a real exposition and computes quantiles like PromQL."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from processor.demo.summary import human, parse, quantile, render, summarize


def exposition(frt_phone: list[float], consumed: float) -> str:
    registry = CollectorRegistry()
    frt = Histogram(
        "ccpulse_first_response_seconds",
        "",
        ["channel", "priority"],
        buckets=(10, 20, 60),
        registry=registry,
    )
    for value in frt_phone:
        frt.labels("phone", "normal" if value < 30 else "high").observe(value)
    Counter("ccpulse_events_consumed", "", ["source", "type"], registry=registry).labels(
        "calls", "call.queued"
    ).inc(consumed)
    Gauge("ccpulse_tickets_open", "", ["channel", "priority"], registry=registry).labels(
        "email", "low"
    ).set(7)
    Gauge(
        "ccpulse_oldest_awaiting_first_response_seconds", "", ["channel"], registry=registry
    ).labels("email").set(5400)
    return generate_latest(registry).decode()


def test_quantiles_interpolate_inside_buckets_summed_over_priorities() -> None:
    view = parse(exposition([5, 5, 15, 15, 40, 50, 50, 50], consumed=0))
    buckets = view.frt_buckets["phone"]
    assert buckets == [(10.0, 2.0), (20.0, 4.0), (60.0, 8.0), (float("inf"), 8.0)]
    assert quantile(0.5, buckets) == pytest.approx(20.0)
    assert quantile(0.25, buckets) == pytest.approx(10.0)
    assert quantile(0.75, buckets) == pytest.approx(20 + 40 * 2 / 4)
    assert quantile(0.5, []) is None


def test_events_per_second_come_from_two_scrapes() -> None:
    before = parse(exposition([], consumed=100))
    after = parse(exposition([], consumed=160))
    assert summarize(after, before, elapsed_s=3.0).events_per_s == pytest.approx(20.0)
    assert summarize(after, None, elapsed_s=0).events_per_s is None


def test_render_shows_every_channel_and_the_figures() -> None:
    summary = summarize(parse(exposition([5, 15], consumed=3)), None, 0)
    screen = render(summary)
    for channel in ("phone", "email", "chat", "sms", "social"):
        assert channel in screen
    email = next(line for line in screen.splitlines() if line.startswith("email"))
    assert email.split()[-1] == "90m"
    assert " 7 " in email
    assert human(42) == "42s"
    assert human(600) == "10m"
    assert human(3 * 3600) == "3.0h"
