"""Call service level: which calls count, and which of them were answered in time.

Service level = calls answered within the threshold / calls that count. Answered calls
always count. Abandoned calls count as missed unless excluded; those abandoned before
``short_abandon_s`` (the caller hung up at once, often a wrong number) are excluded by
default. ``classify`` gives ``within``, ``outside`` or ``None`` (not counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Verdict = Literal["within", "outside"]


@dataclass(frozen=True, slots=True)
class ServiceLevelRule:
    threshold_s: float = 20.0
    short_abandon_s: float = 5.0
    count_short_abandons: bool = False
    count_abandons: bool = True

    def classify(self, answered: bool, wait_s: float) -> Verdict | None:
        if answered:
            return "within" if wait_s <= self.threshold_s else "outside"
        if wait_s < self.short_abandon_s:
            return "outside" if self.count_short_abandons else None
        return "outside" if self.count_abandons else None

    def is_short_abandon(self, answered: bool, wait_s: float) -> bool:
        return not answered and wait_s < self.short_abandon_s
