"""Business-hours calendars: how much business time lies between two instants, and when
a given amount of business time will have elapsed.

A calendar has a time zone, opening intervals per weekday (an interval whose end is not
after its start runs overnight into the next day) and holidays. A holiday closes the
intervals that *start* on that date. All arithmetic is done on real instants (UTC), so
days on which the clocks change have the length they really have.

Every SLA timer of every ticket walks the same few days of a calendar again and again, so
a calendar remembers each day's open periods once it has worked them out (a day's
openings depend only on the calendar and the date).

This module deliberately knows nothing of tickets, SLA targets or pauses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[time, time]
Period = tuple[datetime, datetime]
_ALL_DAY = ((time(0), time(0)),)
_SCAN_LIMIT_DAYS = 3660
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    timezone: str = "UTC"
    weekly: Mapping[int, tuple[Interval, ...]] = field(
        default_factory=lambda: dict.fromkeys(range(1, 8), _ALL_DAY)
    )
    """Opening intervals by ISO weekday (1 = Monday ... 7 = Sunday)."""
    holidays: frozenset[date] = frozenset()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _days: dict[date, tuple[Period, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    """The open periods of each day worked out so far."""

    def __post_init__(self) -> None:
        if not any(self.weekly.get(day) for day in range(1, 8)):
            raise ValueError("a business calendar needs at least one opening interval")
        # Fails early on an unknown zone.
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))
        _check_no_overlap(self.weekly)

    def openings(self, start: datetime, end: datetime) -> Iterator[Period]:
        """The open periods within [start, end), in order, as UTC instants."""
        days = self._days
        day = start.astimezone(self._zone).date() - _ONE_DAY
        while True:
            periods = days.get(day)
            if periods is None:
                periods = days[day] = self._day(day)
            for opens, closes in periods:
                if opens >= end:
                    return
                if closes > start:
                    yield max(opens, start), min(closes, end)
            day += _ONE_DAY

    def business_seconds(self, start: datetime, end: datetime) -> float:
        if end <= start:
            return 0.0
        return sum((b - a).total_seconds() for a, b in self.openings(start, end))

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant at which ``seconds`` of business time have elapsed since ``start``."""
        if seconds <= 0:
            return start
        remaining = timedelta(seconds=seconds)
        horizon = start + timedelta(days=_SCAN_LIMIT_DAYS)
        for opens, closes in self.openings(start, horizon):
            if closes - opens >= remaining:
                return opens + remaining
            remaining -= closes - opens
        raise ValueError(f"{seconds} s of business time do not fit in {_SCAN_LIMIT_DAYS} days")

    def _day(self, day: date) -> tuple[Period, ...]:
        if day in self.holidays:
            return ()
        zone = self._zone
        periods = []
        for opens, closes in self.weekly.get(day.isoweekday(), ()):
            close_day = day if closes > opens else day + _ONE_DAY
            periods.append(
                (
                    datetime.combine(day, opens, zone).astimezone(UTC),
                    datetime.combine(close_day, closes, zone).astimezone(UTC),
                )
            )
        return tuple(sorted(periods))


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _check_no_overlap(weekly: Mapping[int, tuple[Interval, ...]]) -> None:
    """Opening intervals may touch but not overlap, also across midnight into the next day;
    that keeps the open periods of consecutive days in order."""
    week = 7 * 1440
    spans: list[tuple[int, int, int]] = []
    for weekday, intervals in weekly.items():
        if weekday not in range(1, 8):
            raise ValueError(f"weekday {weekday} is not an ISO weekday (1 = Monday ... 7 = Sunday)")
        for opens, closes in intervals:
            start = (weekday - 1) * 1440 + _minutes(opens)
            length = (_minutes(closes) - _minutes(opens)) % 1440 or 1440
            spans.append((start, start + length, weekday))
    spans.sort()
    following = [(start + week, end + week, day) for start, end, day in spans[:1]]
    for (_, end, day), (start, _, later) in zip(spans, [*spans[1:], *following], strict=True):
        if start < end:
            raise ValueError(f"opening hours of weekday {day} overlap those of weekday {later}")
