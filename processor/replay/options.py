"""The command-line options of ``ccpulse replay``, kept apart from the command so that
building the ``ccpulse`` parser imports nothing heavy. Values are checked here, so a
bad ``--until``, ``--lateness`` or ``--report`` stops with usage before any work."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from processor.policies import parse_duration

DEFAULT_OUT = Path("ccpulse-replay")
METRICS_FILE = "metrics.prom"
STDOUT = "-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="JSON Lines file of source events")
    parser.add_argument("--broker", help="also produce the derived topics to this Kafka")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help=f"write the derived topics and {METRICS_FILE} here "
        f"(default without --broker: {DEFAULT_OUT}/)",
    )
    parser.add_argument(
        "--until",
        type=_moment,
        metavar="ISO",
        help="judge deadlines and FCR windows up to this moment (default: the newest event)",
    )
    parser.add_argument(
        "--lateness",
        type=_lateness,
        metavar="DURATION",
        help="how late an event may come in the file and still count, e.g. 30s or 5m "
        "(default: CCPULSE_SLA__LATENESS_S)",
    )
    parser.add_argument(
        "--report",
        nargs="?",
        const=STDOUT,
        type=_report_path,
        metavar="PATH",
        help="print the summary as Markdown, or write it to PATH (.md or .csv)",
    )
    parser.add_argument("--sla-policies", metavar="FILE", help="SLA policy file (YAML)")


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from error
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone, e.g. {text}Z")
    return moment


def _lateness(text: str) -> float:
    if text.strip() in ("0", "0s"):
        return 0.0
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _report_path(text: str) -> str:
    if text != STDOUT and Path(text).suffix not in (".md", ".csv"):
        raise argparse.ArgumentTypeError(f"{text!r}: a report is .md (Markdown) or .csv")
    return text
