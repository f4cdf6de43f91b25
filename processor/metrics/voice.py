"""Voice-of-the-customer and contact-reason metrics.

Survey answers are counted so that PromQL computes each score over any window: CSAT =
positive / all ``ccpulse_csat_answers_total``, NPS = (promoters - detractors) / all
``ccpulse_nps_answers_total``, CES = ``ccpulse_ces_score_sum / ccpulse_ces_score_count``;
each per channel, by one-touch vs multi-touch and by first vs repeat contact of the
rated ticket as it stood when the answer arrived (``unknown`` for an unknown ticket).

A ticket counts under its contact reason (configured names, the rest ``other``), channel
and contact kind in ``ccpulse_contact_reasons_total``; when any of the three changes, the
old place gets one in ``ccpulse_contact_reasons_moved_away_total``, so the tickets of a
reason over a window are the difference of the two increases.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram

from processor.core import ReasonCounted, ReasonKey, SurveyAnswered
from processor.core.voice import NpsGroup, VoiceRule, nps_group
from processor.metrics.labels import (
    CHANNELS,
    CONTACTS,
    OTHER,
    TOUCHES,
    contact_of,
    known_channel,
    reason_label,
    touches_of,
)


class VoiceMetrics:
    def __init__(
        self, registry: CollectorRegistry, rule: VoiceRule, reasons: Sequence[str]
    ) -> None:
        self.rule = rule
        self.reasons = tuple(reasons)
        rated = ("channel", "touches", "contact")
        self.csat = Counter(
            "ccpulse_csat_answers",
            "CSAT answers; positive: at least the configured share of the scale.",
            (*rated, "answer"),
            registry=registry,
        )
        self.nps = Counter(
            "ccpulse_nps_answers",
            "NPS answers by group: promoter 9-10, passive 7-8, detractor 0-6.",
            (*rated, "group"),
            registry=registry,
        )
        self.ces = Histogram(
            "ccpulse_ces_score",
            "Customer effort scores, moved onto the configured CES scale.",
            rated,
            buckets=tuple(range(1, rule.ces_scale + 1)),
            registry=registry,
        )
        by_reason = ("reason", "channel", "contact")
        self.reasons_counted = Counter(
            "ccpulse_contact_reasons",
            "Tickets counted under a contact reason, channel and first/repeat contact.",
            by_reason,
            registry=registry,
        )
        self.reasons_moved = Counter(
            "ccpulse_contact_reasons_moved_away",
            "Tickets that left such a place again (reason corrected, flagged a repeat...).",
            by_reason,
            registry=registry,
        )
        rated_sets = list(itertools.product(CHANNELS, TOUCHES, CONTACTS))
        for labels in rated_sets:
            for answer in ("positive", "not_positive"):
                self.csat.labels(*labels, answer)
            for group in NpsGroup:
                self.nps.labels(*labels, group.value)
        for place in itertools.product((*self.reasons, OTHER), CHANNELS, ("first", "repeat")):
            self.reasons_counted.labels(*place)
            self.reasons_moved.labels(*place)

    def record_answer(self, answer: SurveyAnswered) -> None:
        labels = (
            known_channel(answer.channel),
            touches_of(answer.ticket),
            contact_of(answer.ticket),
        )
        match answer.survey:
            case "csat":
                positive = self.rule.csat_positive(answer.score, answer.scale)
                self.csat.labels(*labels, "positive" if positive else "not_positive").inc()
            case "nps":
                self.nps.labels(*labels, nps_group(answer.score).value).inc()
            case "ces":
                self.ces.labels(*labels).observe(self.rule.ces(answer.score, answer.scale))

    def record_reason(self, moved: ReasonCounted) -> None:
        old, new = self._place(moved.before), self._place(moved.after)
        if old == new:
            return
        if old is not None:
            self.reasons_moved.labels(*old).inc()
        if new is not None:
            self.reasons_counted.labels(*new).inc()

    def _place(self, key: ReasonKey | None) -> tuple[str, str, str] | None:
        if key is None:
            return None
        contact = "repeat" if key.repeat else "first"
        return (reason_label(key.reason, self.reasons), known_channel(key.channel), contact)
