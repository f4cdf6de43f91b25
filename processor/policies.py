"""The SLA policy file: YAML, validated with pydantic, turned into the core's ``PolicyBook``.

A mistake is reported as ``PolicyFileError`` naming the file, the line and the field, e.g.
``sla.yaml:14: policies.2.targets.first_response: not a duration: '5 minutes'``.
"""

from __future__ import annotations

import math
import re
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from processor.core.calendar import BusinessCalendar, Interval
from processor.core.sla import Policy, PolicyBook, Rule, Target
from processor.events import Channel, Priority

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_NAMES = {**{d: d for d in _WEEKDAYS}, **dict(zip(_FULL_NAMES, _WEEKDAYS, strict=True))}
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_duration(value: Any) -> float:
    """Seconds from a number of seconds or a string like ``90s``, ``5m``, ``4h``, ``2d``, ``1w``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError(f"not a duration: {value!r}")
    elif isinstance(value, str) and (found := _DURATION.match(value)):
        seconds = float(found[1]) * _UNITS[found[2]]
    else:
        raise ValueError(f"not a duration: {value!r} (use seconds or e.g. 90s, 5m, 4h, 2d, 1w)")
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, not {value!r}")
    return seconds


def _parse_share(value: Any) -> float:
    share = value
    if isinstance(value, str) and value.strip().endswith("%"):
        share = float(value.strip()[:-1]) / 100
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
        raise ValueError(f"a warning level is a share below 100%, e.g. 75% or 0.75, not {value!r}")
    return float(share)


Duration = Annotated[float, BeforeValidator(parse_duration)]
Share = Annotated[float, BeforeValidator(_parse_share)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalendarSpec(_Strict):
    timezone: str = "UTC"
    hours: dict[str, list[str]] = Field(
        description="Opening hours by weekday or weekday range: ``mon-fri: [08:00-18:00]``."
    )
    holidays: list[date] = []

    def build(self) -> BusinessCalendar:
        weekly: dict[int, list[Interval]] = {}
        for days, spans in self.hours.items():
            for weekday in _weekdays(days):
                weekly.setdefault(weekday, []).extend(_interval(span) for span in spans)
        return BusinessCalendar(
            timezone=self.timezone,
            weekly={day: tuple(sorted(spans)) for day, spans in weekly.items()},
            holidays=frozenset(self.holidays),
        )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, timezone: str) -> str:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {timezone!r} (e.g. Europe/Berlin)") from error
        return timezone

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, hours: dict[str, list[str]]) -> dict[str, list[str]]:
        for days, spans in hours.items():
            _weekdays(days)
            for span in spans:
                _interval(span)
        return hours

    @model_validator(mode="after")
    def _valid_calendar(self) -> CalendarSpec:
        self.build()  # overlapping intervals, an unknown time zone
        return self


def _weekdays(days: str) -> list[int]:
    names = [_WEEKDAY_NAMES.get(name.strip().lower(), name) for name in days.split("-")]
    if not 1 <= len(names) <= 2 or any(name not in _WEEKDAYS for name in names):
        raise ValueError(f"not a weekday or weekday range: {days!r} (e.g. mon, mon-fri)")
    first, last = (_WEEKDAYS.index(name) + 1 for name in (names[0], names[-1]))
    if first <= last:
        return list(range(first, last + 1))
    return [*range(first, 8), *range(1, last + 1)]  # wraps round the week: fri-mon


def _interval(span: str) -> Interval:
    found = _HOURS.match(span)
    if not found:
        raise ValueError(f"not an opening interval: {span!r} (e.g. 08:00-18:00, 22:00-06:00)")
    h1, m1, h2, m2 = (int(part) for part in found.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"not a time of day in {span!r} (00:00 to 24:00)")
    return time(h1, m1), time(h2 % 24, m2)


class Match(_Strict):
    channel: Channel | None = None
    priority: Priority | None = None
    queue: str | None = None


class Warnings(_Strict):
    at: list[Share] = Field(default=[0.8], description="Shares of the target: [50%, 75%, 90%].")
    before: list[Duration] = Field(default=[], description="Time before the breach: [10m].")


class PolicySpec(_Strict):
    name: str = Field(min_length=1)
    match: Match = Match()
    targets: dict[Target, Duration] = Field(min_length=1)
    warnings: Warnings = Warnings()
    calendar: str | None = Field(default=None, description="A calendar name; omitted: 24/7.")


class PolicyFile(_Strict):
    version: str = Field(min_length=1, description="Carried on every SLA event.")
    calendars: dict[str, CalendarSpec] = {}
    policies: list[PolicySpec] = []

    def unknown_calendar(self) -> tuple[int, str] | None:
        """(index, name) of the first policy naming a calendar the file does not define."""
        for index, spec in enumerate(self.policies):
            if spec.calendar is not None and spec.calendar not in self.calendars:
                return index, spec.calendar
        return None

    def book(self) -> PolicyBook:
        calendars = {name: spec.build() for name, spec in self.calendars.items()}
        rules = []
        for spec in self.policies:
            policy = Policy(
                name=spec.name,
                version=self.version,
                targets=dict(spec.targets),
                warn_fractions=tuple(spec.warnings.at),
                warn_before_s=tuple(spec.warnings.before),
                calendar=calendars[spec.calendar] if spec.calendar else None,
            )
            match = spec.match
            rules.append(
                Rule(
                    policy,
                    match.channel.value if match.channel else None,
                    match.priority.value if match.priority else None,
                    match.queue,
                )
            )
        return PolicyBook(tuple(rules))


class PolicyFileError(ValueError):
    """The policy file cannot be used; the message names the line and field."""


def load_policies(path: str | Path) -> PolicyBook:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise PolicyFileError(f"{path}: cannot read the SLA policy file: {error}") from error
    return parse_policies(text, str(path))


def parse_policies(text: str, source: str = "<policies>") -> PolicyBook:
    try:
        document = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise PolicyFileError(f"{source}{where}: not valid YAML: {error}") from error
    try:
        policy_file = PolicyFile.model_validate(document or {})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        line = _line_of(root, first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        count = error.error_count()
        more = f" (and {count - 1} more)" if count > 1 else ""
        raise PolicyFileError(f"{source}:{line}: {where}: {message}{more}") from error
    if unknown := policy_file.unknown_calendar():
        index, name = unknown
        line = _line_of(root, ("policies", index, "calendar"))
        raise PolicyFileError(
            f"{source}:{line}: policies.{index}.calendar: unknown calendar {name!r}"
        )
    return policy_file.book()


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int:
    """The line of the deepest YAML node along a validation error's path."""
    line = 1
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        node = child
    if node is not None:
        line = node.start_mark.line + 1
    return line
