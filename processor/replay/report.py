"""The summary of a replayed history that a team lead asks for, as plain figures.

``summarize`` is a pure function of what the replay published and counted: the final
ticket snapshots (``cc.ticket-metrics`` values, the last one per ticket wins), the SLA
audit events (``cc.sla-events``, one per ``event_id``), the repeat contacts and FCR
verdicts (``cc.repeat-contacts``, the last flag per ticket wins) and the survey answers
counted in the metrics (``VoiceCounts``). The same figures can so be recomputed from the
derived topics alone.

Percentiles are exact and use the **nearest-rank** definition: the p-th percentile of n
values is the ceil(p/100 * n)-th smallest, so it is always an observed value (p50 of
10, 20, 30, 40 is 20). Rates are kept as (part, whole) so a renderer can show both.

- per channel: tickets, resolved, FRT p50/p90 (tickets with a first response),
  resolution p50/p90 (tickets resolved at the end), one-touch rate (one-touch resolved /
  resolved), FCR rate (positive / all verdicts);
- SLA compliance per target: met / (met + breached); warnings are counted alongside;
- repeat-contact rate per window: tickets flagged as repeats in it / tickets;
- the top 10 contact reasons (the ticket's final reason) with the share of repeats;
- CSAT (positive / all answers), NPS (% promoters - % detractors), CES (average).

Rendering is ``processor.replay.render``'s job; nothing here formats or writes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ALL = "all"
TOP_REASONS = 10
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Rate:
    part: int
    whole: int

    @property
    def value(self) -> float | None:
        return self.part / self.whole if self.whole else None


@dataclass(frozen=True, slots=True)
class ChannelFigures:
    channel: str
    tickets: int
    resolved: int
    frt_p50: float | None
    frt_p90: float | None
    resolution_p50: float | None
    resolution_p90: float | None
    one_touch: Rate
    fcr: Rate


@dataclass(frozen=True, slots=True)
class SlaFigures:
    target: str
    met: int
    breached: int
    warnings: int

    @property
    def compliance(self) -> Rate:
        return Rate(self.met, self.met + self.breached)


@dataclass(frozen=True, slots=True)
class ReasonFigures:
    reason: str
    tickets: int
    share: Rate
    """Of all tickets."""
    repeats: Rate
    """Repeat contacts among this reason's tickets."""


@dataclass(frozen=True, slots=True)
class Answers:
    """Survey answers of one channel (or all), as the metrics counted them."""

    csat_positive: int = 0
    csat_total: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    ces_sum: float = 0.0
    ces_count: int = 0

    @property
    def csat(self) -> Rate:
        return Rate(self.csat_positive, self.csat_total)

    @property
    def nps_answers(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def nps(self) -> float | None:
        total = self.nps_answers
        return 100 * (self.promoters - self.detractors) / total if total else None

    @property
    def ces(self) -> float | None:
        return self.ces_sum / self.ces_count if self.ces_count else None

    @property
    def empty(self) -> bool:
        return not (self.csat_total or self.nps_answers or self.ces_count)

    def __add__(self, other: Answers) -> Answers:
        return Answers(
            self.csat_positive + other.csat_positive,
            self.csat_total + other.csat_total,
            self.promoters + other.promoters,
            self.passives + other.passives,
            self.detractors + other.detractors,
            self.ces_sum + other.ces_sum,
            self.ces_count + other.ces_count,
        )


VoiceCounts = Mapping[str, Answers]
"""Survey answers by channel of the rated contact."""


@dataclass(frozen=True, slots=True)
class Report:
    first_event_at: datetime | None
    last_event_at: datetime | None
    until: datetime | None
    """The moment the replay's clock ended at: deadlines after it were not judged."""
    channels: tuple[ChannelFigures, ...]
    """Busiest channel first, then ``all``."""
    sla: tuple[SlaFigures, ...]
    repeats: tuple[tuple[str, Rate], ...]
    """Per configured window, narrowest first."""
    reasons: tuple[ReasonFigures, ...]
    without_reason: int
    voice: tuple[tuple[str, Answers], ...] = field(default=())
    """Channels with answers, then ``all``; empty when no answer was counted."""

    @property
    def total(self) -> ChannelFigures:
        return self.channels[-1]


def percentile(values: Sequence[float], p: int) -> float | None:
    """Nearest rank: the ceil(p/100 * n)-th smallest value (``values`` sorted)."""
    if not values:
        return None
    rank = max(1, -(-p * len(values) // 100))
    return values[rank - 1]


def summarize(
    snapshots: Iterable[Mapping[str, Any]],
    sla_events: Iterable[Mapping[str, Any]],
    repeat_contacts: Iterable[Mapping[str, Any]],
    voice: VoiceCounts,
    *,
    windows: Sequence[str],
    until: datetime | None = None,
) -> Report:
    tickets = {snapshot["ticket_id"]: snapshot for snapshot in snapshots}
    flags: dict[str, Sequence[str]] = {}
    verdicts: dict[str, tuple[str, bool]] = {}
    for message in repeat_contacts:
        if message["type"] == "repeat_contact":
            flags[message["ticket_id"]] = message["windows"]
        else:
            verdicts[message["ticket_id"]] = (_channel(message), message["fcr"])
    by_channel: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for ticket in tickets.values():
        by_channel[_channel(ticket)].append(ticket)
    ordered = sorted(by_channel, key=lambda channel: (-len(by_channel[channel]), channel))
    channels = [_channel_figures(c, by_channel[c], verdicts, c) for c in ordered]
    channels.append(_channel_figures(ALL, list(tickets.values()), verdicts, None))
    opened = [_moment(t["opened_at"]) for t in tickets.values() if t.get("opened_at")]
    return Report(
        first_event_at=min(opened, default=None),
        last_event_at=max((_moment(t["last_event_at"]) for t in tickets.values()), default=None),
        until=until,
        channels=tuple(channels),
        sla=_sla(sla_events),
        repeats=tuple(
            (window, Rate(sum(window in w for w in flags.values()), len(tickets)))
            for window in windows
        ),
        reasons=_reasons(tickets.values(), flags),
        without_reason=sum(1 for t in tickets.values() if not t.get("reason")),
        voice=_voice(voice),
    )


def _channel(message: Mapping[str, Any]) -> str:
    return str(message.get("channel") or UNKNOWN)


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _channel_figures(
    channel: str,
    tickets: Sequence[Mapping[str, Any]],
    verdicts: Mapping[str, tuple[str, bool]],
    only: str | None,
) -> ChannelFigures:
    frt = sorted(
        t["first_response_seconds"] for t in tickets if t["first_response_seconds"] is not None
    )
    resolved = [t for t in tickets if not t["is_open"] and t["resolved_at"] is not None]
    resolution = sorted(t["resolution_seconds"] for t in resolved)
    judged = [fcr for c, fcr in verdicts.values() if only is None or c == only]
    return ChannelFigures(
        channel=channel,
        tickets=len(tickets),
        resolved=len(resolved),
        frt_p50=percentile(frt, 50),
        frt_p90=percentile(frt, 90),
        resolution_p50=percentile(resolution, 50),
        resolution_p90=percentile(resolution, 90),
        one_touch=Rate(sum(1 for t in resolved if t["one_touch"]), len(resolved)),
        fcr=Rate(sum(judged), len(judged)),
    )


def _sla(events: Iterable[Mapping[str, Any]]) -> tuple[SlaFigures, ...]:
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for event in {event["event_id"]: event for event in events}.values():
        kinds[event["target"]][event["kind"]] += 1
    return tuple(
        SlaFigures(target, counts["met"], counts["breached"], counts["warning"])
        for target, counts in sorted(kinds.items())
        if counts["met"] or counts["breached"] or counts["warning"]
    )


def _reasons(
    tickets: Iterable[Mapping[str, Any]], flags: Mapping[str, Sequence[str]]
) -> tuple[ReasonFigures, ...]:
    counted: Counter[str] = Counter()
    repeats: Counter[str] = Counter()
    total = 0
    for ticket in tickets:
        total += 1
        if reason := ticket.get("reason"):
            counted[reason] += 1
            repeats[reason] += ticket["ticket_id"] in flags
    top = sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]
    return tuple(
        ReasonFigures(reason, count, Rate(count, total), Rate(repeats[reason], count))
        for reason, count in top
    )


def _voice(voice: VoiceCounts) -> tuple[tuple[str, Answers], ...]:
    answered = sorted((c, a) for c, a in voice.items() if not a.empty)
    if not answered:
        return ()
    total = sum((answers for _, answers in answered), Answers())
    return (*answered, (ALL, total))
