"""Business-hours arithmetic: weekends, holidays, overnight hours and clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.core.calendar import BusinessCalendar

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = {day: ((time(9), time(17)),) for day in range(1, 6)}
NIGHTS = {day: ((time(22), time(6)),) for day in range(1, 8)}


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def office(holidays: frozenset[date] = frozenset()) -> BusinessCalendar:
    return BusinessCalendar(timezone="Europe/Berlin", weekly=OFFICE, holidays=holidays)


def test_a_weekend_does_not_count() -> None:
    friday_4pm, monday_10am = local(2026, 3, 6, 16), local(2026, 3, 9, 10)
    assert office().business_seconds(friday_4pm, monday_10am) == 2 * 3600


def test_a_holiday_does_not_count() -> None:
    friday_4pm, tuesday_10am = local(2026, 4, 3, 16), local(2026, 4, 7, 10)
    easter_monday = office(holidays=frozenset({date(2026, 4, 6)}))
    assert easter_monday.business_seconds(friday_4pm, tuesday_10am) == 2 * 3600
    assert office().business_seconds(friday_4pm, tuesday_10am) == 10 * 3600


def test_overnight_hours_run_into_the_next_day() -> None:
    nights = BusinessCalendar(timezone="Europe/Berlin", weekly=NIGHTS)
    assert nights.business_seconds(local(2026, 3, 10, 21), local(2026, 3, 11, 7)) == 8 * 3600
    assert nights.business_seconds(local(2026, 3, 11, 7), local(2026, 3, 11, 21)) == 0


@pytest.mark.parametrize(
    ("night", "hours"),
    [(date(2026, 3, 28), 7), (date(2026, 10, 24), 9), (date(2026, 6, 13), 8)],
)
def test_a_night_shift_across_a_clock_change_has_its_real_length(night: date, hours: int) -> None:
    nights = BusinessCalendar(timezone="Europe/Berlin", weekly=NIGHTS)
    evening = datetime.combine(night, time(20), BERLIN)
    assert nights.business_seconds(evening, evening + timedelta(hours=14)) == hours * 3600


def test_office_hours_on_the_day_clocks_change_are_still_eight_hours() -> None:
    monday = BusinessCalendar(timezone="Europe/Berlin", weekly={7: ((time(9), time(17)),)})
    sunday = local(2026, 3, 29, 0)
    assert monday.business_seconds(sunday, sunday + timedelta(days=1)) == 8 * 3600


def test_adding_business_time_skips_closed_hours() -> None:
    friday = local(2026, 3, 6, 16, 30)
    assert office().add(friday, 2 * 3600) == local(2026, 3, 9, 10, 30)
    assert office().add(local(2026, 3, 7, 12), 60) == local(2026, 3, 9, 9, 1)


def test_the_default_calendar_is_always_open() -> None:
    start = datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert BusinessCalendar().business_seconds(start, start + timedelta(days=3)) == 3 * 86400
    assert BusinessCalendar().add(start, 90) == start + timedelta(seconds=90)


@pytest.mark.parametrize(
    "weekly",
    [
        {1: ((time(9), time(12)), (time(11), time(14)))},
        {1: ((time(22), time(6)),), 2: ((time(5), time(9)),)},
        {7: ((time(20), time(4)),), 1: ((time(3), time(9)),)},
    ],
)
def test_overlapping_hours_are_refused(weekly: dict[int, tuple[tuple[time, time], ...]]) -> None:
    with pytest.raises(ValueError, match="overlap"):
        BusinessCalendar(weekly=weekly)


def test_a_calendar_that_never_opens_or_names_no_real_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        BusinessCalendar(weekly={})
    with pytest.raises(Exception, match="Mars"):
        BusinessCalendar(timezone="Mars/Olympus")


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    st.integers(min_value=1, max_value=30 * 86400),
    st.sampled_from([OFFICE, NIGHTS]),
)
def test_adding_then_measuring_gives_back_the_same_business_time(
    start: datetime, seconds: int, weekly: dict[int, tuple[tuple[time, time], ...]]
) -> None:
    calendar = BusinessCalendar(
        timezone="Europe/Berlin", weekly=weekly, holidays=frozenset({date(2026, 12, 25)})
    )
    due = calendar.add(start, seconds)
    assert calendar.business_seconds(start, due) == pytest.approx(seconds, abs=1e-6)
    assert calendar.business_seconds(start, due - timedelta(seconds=1)) < seconds
