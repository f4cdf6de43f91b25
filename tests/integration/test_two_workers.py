"""Backlog gauges stay true when two workers share the partitions and when one leaves.

Summed over workers, ``ccpulse_tickets_open`` must equal the number of open tickets while
both run, and the survivor alone must report all of them after it takes the partitions
over (rebuilding its view from the recovered table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from processor.config import Settings
from tests.integration.support import WorkerProcess, free_port, produce

pytestmark = pytest.mark.integration
TICKETS = 200


def ticket_events(settings: Settings) -> list[Any]:
    messages = []
    for number in range(TICKETS):
        tid = f"T{number}"
        base = {"customer_id": f"c{number}", "ticket_id": tid}
        messages.append(
            (
                settings.topics.tickets,
                tid.encode(),
                {
                    "type": "ticket.created",
                    "event_id": f"{tid}-1",
                    "occurred_at": "2026-03-02T09:00:00Z",
                    "channel": "email",
                    **base,
                },
            )
        )
        if number % 4 == 0:
            messages.append(
                (
                    settings.topics.tickets,
                    tid.encode(),
                    {
                        "type": "ticket.status_changed",
                        "event_id": f"{tid}-2",
                        "occurred_at": "2026-03-02T10:00:00Z",
                        "status": "solved",
                        **base,
                    },
                )
            )
    return messages


def open_tickets(worker: WorkerProcess) -> float:
    return worker.total("ccpulse_tickets_open")


def test_backlog_sums_to_the_truth_across_workers_and_after_one_leaves(
    settings: Settings, tmp_path: Path
) -> None:
    expected_open = TICKETS - TICKETS // 4
    first = WorkerProcess(settings, tmp_path / "w1.log").start()
    second = WorkerProcess(
        settings.model_copy(update={"metrics_port": free_port(), "data_dir": str(tmp_path / "w2")}),
        tmp_path / "w2.log",
    ).start()
    try:
        for worker in (first, second):
            worker.wait_for(lambda w: w.scrape() is not None, what="/metrics")
        produce(settings.kafka.bootstrap_servers, ticket_events(settings))

        def shared_truth(_: WorkerProcess) -> bool:
            mine, theirs = open_tickets(first), open_tickets(second)
            return mine > 0 and theirs > 0 and mine + theirs == expected_open

        first.wait_for(shared_truth, timeout=120, what="both workers' backlog to sum up")
        second.stop()
        first.wait_for(lambda w: open_tickets(w) == expected_open, timeout=120, what="the takeover")
    finally:
        first.stop()
        second.stop()
