"""How far a replay is, on stderr: a refreshing bar on a terminal, else a line every few
seconds (a log file or CI output must not fill with carriage returns).

It shows events (input lines) done of the total, the rate and the time left at that
rate. It only formats and writes; the caller counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 28
TTY_REFRESH_S = 0.2
LOG_EVERY_S = 5.0


def duration(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(done: int, total: int, elapsed_s: float, *, bar: bool = False) -> str:
    share = done / total if total else 1.0
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    left = f"ETA {duration((total - done) / rate)}" if rate > 0 and done < total else ""
    if done >= total:
        left = f"in {duration(elapsed_s)}"
    parts = [f"{done:,}/{total:,} events ({share:.0%})", f"{rate:,.0f} events/s", left]
    if bar:
        filled = min(BAR_WIDTH, int(share * BAR_WIDTH))
        parts.insert(0, "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]")
    return "  ".join(part for part in parts if part)


class Progress:
    def __init__(
        self,
        total: int,
        stream: TextIO,
        *,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.clock = clock
        self.started = clock()
        self.done = 0
        self._shown_at = self.started
        self._shown_done = -1

    def advance(self, lines: int) -> None:
        self.done += lines
        now = self.clock()
        if now - self._shown_at >= (TTY_REFRESH_S if self.tty else LOG_EVERY_S):
            self._show(now)

    def finish(self) -> None:
        if self.tty or self._shown_done != self.done:
            self._show(self.clock(), last=True)

    def _show(self, now: float, *, last: bool = False) -> None:
        self._shown_at, self._shown_done = now, self.done
        line = progress_line(self.done, self.total, now - self.started, bar=self.tty)
        if self.tty:
            self.stream.write(f"\r\x1b[Kreplay {line}" + ("\n" if last else ""))
        else:
            self.stream.write(f"replay: {line}\n")
        self.stream.flush()
