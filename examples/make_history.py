"""Writes ``contact-center-day.jsonl``: ten hours of a synthetic contact center (Monday
2 March 2026, 08:00-18:00 UTC) as its source systems would have exported it, one event
per line, in the order they reached Kafka (a few helpdesk webhooks late, a few malformed
lines). Seeded: running it again writes the same file.

    .venv/bin/python examples/make_history.py
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from processor.demo.simulation import ContactCenter

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HOURS = 10
RATE = 0.012  # new contacts per second: about 43 an hour
SEED = 7


def main() -> None:
    # time_scale 1: agents' delays as they are (an email answered after an hour or two).
    center = ContactCenter(seed=SEED, start=START, rate=RATE, time_scale=1.0)
    emissions = center.advance(START + timedelta(hours=HOURS))
    path = Path(__file__).with_name("contact-center-day.jsonl")
    path.write_bytes(b"".join(emission.value + b"\n" for emission in emissions))
    print(f"{path}: {len(emissions)} lines")


if __name__ == "__main__":
    main()
