"""ccpulse's Grafana dashboards, generated from code into ``deploy/grafana/dashboards/``.

Four boards: the operations wall board, the SLA board, the processor health board and the
voice-of-the-customer board.
``dashboard_files`` gives each generated file and its exact content; ``processor.contracts``
writes and checks them together with the JSON Schemas (``make schemas``, ``make
schemas-check``), so a board edited by hand, missing, or no longer generated fails the
check. The boards query the recording rules of ``deploy/prometheus/rules/`` where one
exists and the raw series elsewhere.

It deliberately does not talk to Grafana (no upload through its API, no folders or
permissions): Grafana loads the committed files through file provisioning
(``deploy/grafana/provisioning/``).
"""

from __future__ import annotations

from pathlib import Path

from processor.dashboards.health import PROCESSOR
from processor.dashboards.model import Dashboard
from processor.dashboards.operations import OPERATIONS
from processor.dashboards.sla import SLA
from processor.dashboards.voice import VOICE

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
BOARDS: tuple[Dashboard, ...] = (OPERATIONS, SLA, PROCESSOR, VOICE)


def dashboard_files(root: Path = DASHBOARDS) -> dict[Path, str]:
    """Every generated dashboard under ``root`` (named by its uid) and its exact content."""
    return {root / f"{board.uid}.json": board.render() for board in BOARDS}


def generated_dashboards(root: Path = DASHBOARDS) -> set[Path]:
    """Files under ``root`` that only the generator may own: Grafana provisions every one."""
    return set(root.glob("*.json"))
