"""Keys of this worker's tables that need a look at a given moment, by partition.

The SLA deadlines of tickets and the FCR windows of customers pass without any event
arriving; the worker's timer asks ``due(now)`` for the keys to check. Kept per partition
like ``OpenTickets``: revoked partitions are dropped, and after an assignment every
recovered key is entered as due at once, so the first tick finds deadlines that passed
while no worker owned them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable


class DueIndex:
    def __init__(self) -> None:
        self._due: dict[bytes, tuple[float, int]] = {}
        self._heap: list[tuple[float, bytes]] = []

    def __len__(self) -> int:
        return len(self._due)

    def set(self, partition: int, key: bytes, at: float | None) -> None:
        """Look at ``key`` at Unix time ``at``; ``None``: nothing is pending for it."""
        if at is None:
            self._due.pop(key, None)
            return
        if self._due.get(key) != (at, partition):
            self._due[key] = (at, partition)
            heapq.heappush(self._heap, (at, key))

    def due(self, now: float, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` (partition, key) pairs due by ``now``, soonest first; each is
        removed and must be ``set`` again if something is still pending for it."""
        found: list[tuple[int, bytes]] = []
        while self._heap and len(found) < limit and self._heap[0][0] <= now:
            at, key = heapq.heappop(self._heap)
            entry = self._due.get(key)
            if entry is None or entry[0] != at:
                continue  # superseded by a later ``set``
            del self._due[key]
            found.append((entry[1], key))
        if len(self._heap) > 4 * len(self._due) + 1024:
            self._heap = [(at, key) for key, (at, _) in self._due.items()]
            heapq.heapify(self._heap)
        return found

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        gone = set(partitions)
        self._due = {key: entry for key, entry in self._due.items() if entry[1] not in gone}
        self._heap = [(at, key) for key, (at, _) in self._due.items()]
        heapq.heapify(self._heap)


class DueByPartition:
    """A ``DueIndex`` per partition, for partitions that keep time apart: ``due`` asks each
    partition's own clock."""

    def __init__(self) -> None:
        self._indexes: dict[int, DueIndex] = {}

    def __len__(self) -> int:
        return sum(len(index) for index in self._indexes.values())

    def set(self, partition: int, key: bytes, at: float | None) -> None:
        self._indexes.setdefault(partition, DueIndex()).set(partition, key, at)

    def due(self, now_of: Callable[[int], float | None], limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` (partition, key) pairs due by their partition's ``now_of``
        (None: that partition has no time yet); as ``DueIndex.due`` otherwise."""
        found: list[tuple[int, bytes]] = []
        for partition, index in self._indexes.items():
            now = now_of(partition)
            if now is not None and len(found) < limit:
                found += index.due(now, limit - len(found))
        return found

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._indexes.pop(partition, None)
