"""Voice of the customer: how a survey answer counts towards CSAT, NPS and CES.

- CSAT: an answer is positive when it reaches ``csat_positive_from`` on a scale of
  ``csat_scale`` (default 4 of 5). An answer on another scale is compared at the same
  share of its own scale (8 of 10 is positive by default), in integers, so exactly.
- NPS: promoters answer 9–10, passives 7–8, detractors 0–6.
- CES: the effort score, moved linearly from the answer's scale onto ``ces_scale``
  (default 7), so that averages over mixed scales mean something.

It decides only how one answer counts; the scores over a window (positive share,
promoters minus detractors, average) are computed from the counts by whoever reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NpsGroup(StrEnum):
    PROMOTER = "promoter"
    PASSIVE = "passive"
    DETRACTOR = "detractor"


@dataclass(frozen=True, slots=True)
class VoiceRule:
    csat_scale: int = 5
    csat_positive_from: int = 4
    ces_scale: int = 7

    def __post_init__(self) -> None:
        if not 1 <= self.csat_positive_from <= self.csat_scale:
            raise ValueError("csat_positive_from must lie on the CSAT scale")
        if self.ces_scale < 2:
            raise ValueError("ces_scale must be at least 2")

    def csat_positive(self, score: int, scale: int) -> bool:
        return score * self.csat_scale >= self.csat_positive_from * scale

    def ces(self, score: int, scale: int) -> float:
        return 1 + (score - 1) * (self.ces_scale - 1) / (scale - 1)


def nps_group(score: int) -> NpsGroup:
    if score >= 9:
        return NpsGroup.PROMOTER
    if score >= 7:
        return NpsGroup.PASSIVE
    return NpsGroup.DETRACTOR
