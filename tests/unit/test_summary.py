"""The live summary reads a real exposition and computes quantiles like PromQL."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from processor.demo.summary import (
    WAITING,
    human,
    parse,
    quantile,
    render,
    run_summary,
    summarize,
)

INF = float("inf")


def exposition(
    frt_phone: Sequence[float] = (),
    consumed: float = 0,
    *,
    awaiting_email: tuple[float, float] = (0, 0),
) -> str:
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
    Counter("ccpulse_events_rejected", "", ["source", "reason"], registry=registry).labels(
        "calls", "invalid_json"
    ).inc(4)
    Counter("ccpulse_tickets_created", "", ["channel", "priority"], registry=registry).labels(
        "email", "low"
    ).inc(12)
    Gauge("ccpulse_tickets_open", "", ["channel", "priority"], registry=registry).labels(
        "email", "low"
    ).set(7)
    awaiting = Gauge(
        "ccpulse_tickets_awaiting_first_response", "", ["channel", "priority"], registry=registry
    )
    awaiting.labels("email", "low").set(awaiting_email[0])
    awaiting.labels("email", "urgent").set(awaiting_email[1])
    Gauge(
        "ccpulse_oldest_awaiting_first_response_seconds", "", ["channel"], registry=registry
    ).labels("email").set(5400)
    return generate_latest(registry).decode()


def test_buckets_are_summed_over_priorities() -> None:
    view = parse(exposition([5, 5, 15, 15, 40, 50, 50, 50]))
    assert view.frt_buckets["phone"] == ((10.0, 2.0), (20.0, 4.0), (60.0, 8.0), (INF, 8.0))
    assert view.responses["phone"] == 8


def test_quantiles_interpolate_inside_buckets_like_histogram_quantile() -> None:
    buckets = parse(exposition([5, 5, 15, 15, 40, 50, 50, 50])).frt_buckets["phone"]
    # rank 4 of 8 is the top of the (10, 20] bucket
    assert quantile(0.5, buckets) == pytest.approx(20.0)
    # rank 1 of 8 is half-way through the first bucket, which starts at 0
    assert quantile(0.125, buckets) == pytest.approx(5.0)
    # rank 6 of 8: 2 of the 4 observations in (20, 60]
    assert quantile(0.75, buckets) == pytest.approx(40.0)
    # rank 7.2 of 8: 3.2 of 4 in (20, 60]
    assert quantile(0.9, buckets) == pytest.approx(52.0)


def test_a_quantile_in_the_infinite_bucket_is_the_highest_finite_bound() -> None:
    buckets = parse(exposition([5, 100, 200, 300])).frt_buckets["phone"]
    assert quantile(0.9, buckets) == pytest.approx(60.0)
    assert quantile(0.5, ()) is None
    assert quantile(0.5, ((10.0, 0.0), (INF, 0.0))) is None


def test_events_per_second_come_from_two_scrapes() -> None:
    before = parse(exposition(consumed=100))
    after = parse(exposition(consumed=160))
    assert summarize(after, before, elapsed_s=3.0).events_per_s == pytest.approx(20.0)
    assert summarize(after, None, elapsed_s=0).events_per_s is None
    # A restarted worker counts from zero again: no negative rate.
    assert summarize(before, parse(exposition(consumed=500)), 2.0).events_per_s == 0


def test_backlog_gauges_are_summed_and_totals_read() -> None:
    summary = summarize(parse(exposition(awaiting_email=(2, 3), consumed=9)), None, 0)
    email = next(line for line in summary.channels if line.channel == "email")
    assert (email.open, email.awaiting, email.oldest, email.created) == (7, 5, 5400, 12)
    assert (summary.consumed, summary.rejected, summary.duplicates) == (9, 4, 0)


def test_render_shows_every_channel_and_the_figures() -> None:
    views = parse(exposition([5, 15], consumed=3)), parse(exposition([5, 15], consumed=63))
    screen = render(summarize(views[1], views[0], 4.0))
    for channel in ("phone", "email", "chat", "sms", "social"):
        assert channel in screen
    assert "web" not in screen
    assert "FRT p50" in screen
    phone = next(line for line in screen.splitlines() if line.startswith("phone"))
    assert phone.split()[1:4] == ["10s", "18s", "2"]
    email = next(line for line in screen.splitlines() if line.startswith("email"))
    assert email.split() == ["email", "—", "—", "0", "12", "0", "7", "0", "90m"]
    assert "events/s 15.0" in screen
    assert "rejected 4" in screen


def test_render_fits_the_terminal_width() -> None:
    screen = render(summarize(parse(exposition([5])), None, 0), width=40)
    assert max(len(line) for line in screen.splitlines()) <= 40


def test_durations_read_like_a_person_says_them() -> None:
    assert [human(42), human(420), human(3.1 * 3600), human(3 * 86400), human(None)] == [
        "42s",
        "7m",
        "3.1h",
        "3.0d",
        "—",
    ]


@pytest.fixture
def endpoint() -> Iterator[str]:
    body = exposition([5, 15], consumed=10).encode()

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()


def summary_output(url: str, seconds: float) -> str:
    out = io.StringIO()

    async def watch() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await run_summary(url, stop, interval_s=0.1, out=out)

    asyncio.run(watch())
    return out.getvalue()


def test_run_summary_refreshes_from_the_endpoint(endpoint: str) -> None:
    output = summary_output(endpoint, 0.35)
    assert output.count("FRT p50") >= 2
    assert "events/s 0.0" in output
    assert "\x1b[" not in output


def test_run_summary_waits_for_a_worker_that_is_not_up_yet() -> None:
    output = summary_output("http://127.0.0.1:9/metrics", 0.25)
    assert WAITING in output
    assert "FRT p50" not in output
