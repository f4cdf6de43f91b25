"""Run every benchmark and rewrite ``benchmarks/RESULTS.md``.

Each benchmark runs as its own process (``--quick`` passed on), writes its section as
JSON, and the sections are assembled with the machine, the versions, the product
targets (reached or not, and what bounds them) and the figures. A hand-written part of
an existing RESULTS.md between ``<!-- BEGIN NOTES -->`` and ``<!-- END NOTES -->`` is
kept. A benchmark that fails is reported with the tail of its output; the others still
run. ``--quick`` runs small sizes, three at a time (figures are then meaningless: it proves
the scripts work); the full run measures one benchmark at a time; ``--extended`` adds
1,000,000 tickets to the memory and recovery benchmarks.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from report import Section, machine, table

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
BENCHMARKS = (
    "core_throughput",
    "throughput",
    "latency",
    "memory",
    "recovery",
    "scaleout",
    "profile_worker",
)
NOTES_BEGIN, NOTES_END = "<!-- BEGIN NOTES -->", "<!-- END NOTES -->"


EXTENDED = frozenset({"memory", "recovery"})
"""Benchmarks with sizes too slow for ``make bench`` (1,000,000 tickets)."""


def run(name: str, mode: str, out_dir: Path) -> Section:
    out = out_dir / f"{name}.json"
    command = [sys.executable, str(HERE / f"{name}.py"), "--json", str(out)]
    if mode == "quick":
        command.append("--quick")
    if mode == "extended" and name in EXTENDED:
        command.append("--extended")
    began = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - began
    print(f"{name}: {'ok' if done.returncode == 0 else 'FAILED'} in {seconds:.0f} s", flush=True)
    if done.returncode != 0 or not out.exists():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        return Section(name, f"**Failed** (exit {done.returncode}):\n\n```\n{tail}\n```", {})
    section = Section.from_json(out.read_bytes())
    section.seconds = round(seconds, 1)
    return section


def notes(path: Path) -> str:
    if not path.exists():
        return f"{NOTES_BEGIN}\n{NOTES_END}"
    text = path.read_text()
    if NOTES_BEGIN in text and NOTES_END in text:
        return text[text.index(NOTES_BEGIN) : text.index(NOTES_END) + len(NOTES_END)]
    return f"{NOTES_BEGIN}\n{NOTES_END}"


def render(
    sections: list[Section], mode: str, total_s: float, about: dict[str, str], kept: str
) -> str:
    targets = [
        (t.name, t.goal, t.measured, "**reached**" if t.reached else "**not reached**", t.bound)
        for section in sections
        for t in section.targets
    ]
    durations = [(section.title, f"{section.seconds:.0f}") for section in sections]
    command = {
        "quick": "`run_all.py --quick` (sizes too small to read)",
        "full": "`run_all.py` (full)",
        "extended": "`run_all.py --extended` (full, and 1,000,000 tickets for memory and recovery)",
    }[mode]
    parts = [
        "# ccpulse benchmark results",
        f"Written by {command} on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {total_s / 60:.1f}"
        " min. Every figure is from one run on the machine below, a small VM that other"
        " work shared while it ran: **read the figures as ratios** (side by side in one run),"
        " not as absolutes. Re-run on a quiet machine: `.venv/bin/python"
        " benchmarks/run_all.py`.",
        table(("machine", ""), about.items()),
        "## Targets",
        table(("target", "goal", "measured", "", "what bounds it"), targets),
        kept,
        *[f"## {section.title}\n\n{section.markdown}" for section in sections],
        "## Run times",
        table(("benchmark", "seconds"), durations),
    ]
    return "\n\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="small sizes, three at a time")
    sizes.add_argument(
        "--extended", action="store_true", help="full, plus 1,000,000 tickets (~40 min)"
    )
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, help="a subset")
    parser.add_argument("--jobs", type=int, help="benchmarks at once (quick: 2, full: 1)")
    parser.add_argument(
        "--output", type=Path, help=f"where to write (default {RESULTS.name}; --quick: a temp file)"
    )
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    jobs = args.jobs or (3 if args.quick else 1)
    mode = "quick" if args.quick else "extended" if args.extended else "full"
    about = machine()
    began = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="ccpulse-bench-") as out_dir,
        ThreadPoolExecutor(jobs) as pool,
    ):
        sections = list(pool.map(lambda name: run(name, mode, Path(out_dir)), names))
    output = args.output or (
        Path(tempfile.gettempdir()) / "ccpulse-RESULTS-quick.md" if args.quick else RESULTS
    )
    kept = notes(RESULTS if output == RESULTS or not output.exists() else output)
    output.write_text(render(sections, mode, time.monotonic() - began, about, kept))
    print(f"wrote {output}")
    if any(section.markdown.startswith("**Failed**") for section in sections):
        sys.exit(1)


if __name__ == "__main__":
    main()
