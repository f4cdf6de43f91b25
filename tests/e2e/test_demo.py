"""``ccpulse demo`` as a newcomer runs it: real FRT figures for every channel within 60 s,
a live summary on the terminal, and nothing left running after it stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.support import free_port

pytestmark = pytest.mark.e2e
CHANNELS = {"phone", "email", "chat", "social", "sms"}


def frt_counts(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=2) as response:
        text = response.read().decode()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ccpulse_first_response_seconds_count":
                channel = sample.labels["channel"]
                counts[channel] = counts.get(channel, 0.0) + sample.value
    return counts


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.add(int(status.parent.name))
    return found


def test_the_demo_shows_first_responses_on_every_channel_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "processor", "demo", "--metrics-port", str(port), "--no-prometheus"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    started = time.monotonic()
    counts: dict[str, float] = {}
    try:
        while time.monotonic() - started < 90:
            try:
                counts = frt_counts(url)
            except OSError:
                counts = {}
            if all(counts.get(channel, 0) > 0 for channel in CHANNELS):
                break
            assert demo.poll() is None, "the demo exited early"
            time.sleep(1)
        children = children_of(demo.pid)
        assert len(children) >= 2, "the demo should run a broker and a worker"
    finally:
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=60)
    assert all(counts.get(channel, 0) > 0 for channel in CHANNELS), counts
    assert demo.returncode == 0, output.decode(errors="replace")[-2000:]
    screen = output.decode(errors="replace")
    assert "FRT p50" in screen
    assert "events/s" in screen
    time.sleep(1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in children), "orphan processes"
