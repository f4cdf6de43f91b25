"""Event time as the customer step knows it, per partition of the tickets' views topic.

On the event-time clock an FCR window may close only once every view that could still
change its verdict (a reopen, the customer's next ticket) has reached the customer step.
Views arrive one hop after the events behind them, so the ticket step's clock runs ahead
of what the customer step knows: judged on it, a window could close while the reopen
that fails it is still on its way.

So the ticket step sends its clock now and then to every partition of the views topic,
behind the views it sent before (a ``Watermark``: that clock, and the ticket partitions
it speaks for). A views partition's clock is the lowest of what the owners of all ticket
partitions last said there; until it has heard from all of them it has none, and no
window there closes. On the wall clock none of this is needed: views are late by
milliseconds, windows are hours long.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Watermark:
    now: float
    """The ticket step's clock (Unix time): every event it had by then is in a view sent."""
    partitions: tuple[int, ...]
    """The ticket partitions the sender owns."""
    of: int
    """How many ticket partitions there are."""


class ViewClocks:
    def __init__(self) -> None:
        self._heard: dict[int, dict[int, float]] = {}
        self._of: dict[int, int] = {}

    def hear(self, partition: int, watermark: Watermark) -> None:
        """Take a watermark read on views partition ``partition``."""
        heard = self._heard.setdefault(partition, {})
        for source in watermark.partitions:
            heard[source] = max(heard.get(source, watermark.now), watermark.now)
        self._of[partition] = watermark.of

    def now(self, partition: int) -> float | None:
        """The clock of views partition ``partition``; None until every ticket partition
        has been heard from there."""
        heard = self._heard.get(partition)
        if heard is None or len(heard) < self._of[partition]:
            return None
        return min(heard.values())

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        """Forget revoked partitions: whoever reads them next hears their watermarks again."""
        for partition in partitions:
            self._heard.pop(partition, None)
            self._of.pop(partition, None)
