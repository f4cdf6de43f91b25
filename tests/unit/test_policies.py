"""The SLA policy file: the PolicyBook it builds, durations, and errors naming line and field."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from textwrap import dedent

import pytest

from processor.core.sla import Policy, PolicyBook, Target
from processor.policies import PolicyFileError, load_policies, parse_duration, parse_policies

# Line numbers (1-based) are noted on the right; the error tests below rely on them.
VALID = dedent(
    """\
    version: "2026.1"
    calendars:
      office:
        timezone: Europe/Berlin
        hours:
          mon-fri: ["08:00-18:00"]
          sat: ["09:00-13:00"]
        holidays: [2026-12-25, 2026-12-26]
    policies:
      - name: vip-phone
        match: {channel: phone, priority: urgent, queue: vip}
        targets: {first_response: 2m, resolution: 4h}
        warnings: {at: [50%, 0.75], before: [10m]}
      - name: urgent
        match: {priority: urgent}
        targets:
          first_response: 900
          next_response: 30m
          resolution: 1d
        calendar: office
      - name: default
        targets: {resolution: 2d}
    """
)
# line 10: "- name: vip-phone", line 14: "- name: urgent", line 18: "next_response: 30m",
# line 20: "calendar: office", line 22: "targets: {resolution: 2d}"


def _policy(book: PolicyBook, channel: str | None, priority: str, queue: str | None) -> Policy:
    policy = book.policy_for(channel, priority, queue)
    assert policy is not None
    return policy


def _error(text: str) -> str:
    with pytest.raises(PolicyFileError) as caught:
        parse_policies(text, "sla.yaml")
    return str(caught.value)


def test_the_first_matching_rule_gives_the_policy() -> None:
    book = parse_policies(VALID, "sla.yaml")

    assert [rule.policy.name for rule in book.rules] == ["vip-phone", "urgent", "default"]
    assert _policy(book, "phone", "urgent", "vip").name == "vip-phone"
    assert _policy(book, "email", "urgent", "vip").name == "urgent"
    assert _policy(book, "phone", "urgent", None).name == "urgent"
    assert _policy(book, "phone", "normal", "vip").name == "default"
    assert _policy(book, None, "low", None).name == "default"


def test_a_rule_keeps_its_match_attributes_as_plain_strings() -> None:
    rule = parse_policies(VALID, "sla.yaml").rules[0]

    assert (rule.channel, rule.priority, rule.queue) == ("phone", "urgent", "vip")
    assert type(rule.channel) is str
    assert type(rule.priority) is str


def test_targets_are_seconds_from_units_or_numbers() -> None:
    book = parse_policies(VALID, "sla.yaml")

    assert dict(_policy(book, "phone", "urgent", "vip").targets) == {
        Target.FIRST_RESPONSE: 120.0,
        Target.RESOLUTION: 4 * 3600.0,
    }
    assert dict(_policy(book, "email", "urgent", None).targets) == {
        Target.FIRST_RESPONSE: 900.0,
        Target.NEXT_RESPONSE: 1800.0,
        Target.RESOLUTION: 86400.0,
    }
    assert dict(_policy(book, "chat", "low", None).targets) == {Target.RESOLUTION: 2 * 86400.0}


def test_every_policy_carries_the_file_version() -> None:
    book = parse_policies(VALID, "sla.yaml")

    assert {rule.policy.version for rule in book.rules} == {"2026.1"}


def test_warnings_build_the_ladder_of_each_target() -> None:
    vip = _policy(parse_policies(VALID, "sla.yaml"), "phone", "urgent", "vip")

    assert vip.warn_fractions == (0.5, 0.75)
    assert vip.warn_before_s == (600.0,)
    # 10 minutes before a 4 h breach is 23/24 of it; before a 2 m target it is out of range.
    assert vip.levels(Target.RESOLUTION) == (0.5, 0.75, round(1 - 600 / 14400, 6))
    assert vip.levels(Target.FIRST_RESPONSE) == (0.5, 0.75)


def test_warnings_default_to_80_percent() -> None:
    default = _policy(parse_policies(VALID, "sla.yaml"), "chat", "low", None)

    assert default.warn_fractions == (0.8,)
    assert default.warn_before_s == ()
    assert default.levels(Target.RESOLUTION) == (0.8,)


def test_a_named_calendar_builds_weekly_intervals_by_iso_weekday_and_holidays() -> None:
    book = parse_policies(VALID, "sla.yaml")
    calendar = _policy(book, "email", "urgent", None).calendar

    assert calendar is not None
    assert calendar.timezone == "Europe/Berlin"
    office = ((time(8), time(18)),)
    assert dict(calendar.weekly) == {
        1: office,
        2: office,
        3: office,
        4: office,
        5: office,
        6: ((time(9), time(13)),),
    }
    assert calendar.holidays == frozenset({date(2026, 12, 25), date(2026, 12, 26)})


def test_a_policy_without_calendar_runs_around_the_clock() -> None:
    book = parse_policies(VALID, "sla.yaml")

    assert _policy(book, "phone", "urgent", "vip").calendar is None
    assert _policy(book, "chat", "low", None).calendar is None


def test_a_weekday_range_may_wrap_round_the_week() -> None:
    text = dedent(
        """\
        version: v1
        calendars:
          weekend:
            hours: {fri-mon: ["10:00-12:00"], wed: ["22:00-06:00"]}
        policies:
          - name: p
            targets: {resolution: 1h}
            calendar: weekend
        """
    )
    calendar = _policy(parse_policies(text), "web", "low", None).calendar

    assert calendar is not None
    assert calendar.timezone == "UTC"
    assert sorted(calendar.weekly) == [1, 3, 5, 6, 7]
    assert calendar.weekly[3] == ((time(22), time(6)),)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("5m", 300.0),
        ("4h", 14400.0),
        ("2d", 172800.0),
        ("1w", 604800.0),
        (" 1.5h ", 5400.0),
        (45, 45.0),
        (2.5, 2.5),
    ],
)
def test_a_duration_is_seconds_or_a_number_with_a_unit(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5 minutes", "5", "m", "5y", 0, "0s", -5, -1.5, True, False, None])
def test_a_bad_duration_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_a_bad_duration_names_its_line_and_field() -> None:
    message = _error(VALID.replace("next_response: 30m", "next_response: 5 minutes"))

    assert message.startswith("sla.yaml:18: policies.1.targets.next_response: ")
    assert "not a duration: '5 minutes'" in message


def test_a_bad_first_response_in_a_flow_mapping_names_its_line() -> None:
    message = _error(VALID.replace("first_response: 900", "first_response: soon"))

    assert message.startswith("sla.yaml:17: policies.1.targets.first_response: ")
    assert "'soon'" in message


def test_an_unknown_target_names_its_line_and_field() -> None:
    message = _error(VALID.replace("targets: {resolution: 2d}", "targets: {fix_time: 2d}"))

    assert message.startswith("sla.yaml:22: policies.2.targets.fix_time.[key]: ")
    assert "first_response" in message  # the allowed names are listed


def test_an_unknown_field_is_refused_with_its_line() -> None:
    message = _error(VALID.replace("calendar: office", "calender: office"))

    assert message.startswith("sla.yaml:20: policies.1.calender: ")
    assert "Extra inputs are not permitted" in message


def test_an_unknown_top_level_field_is_refused() -> None:
    message = _error(VALID + "owner: ops\n")

    assert message.startswith("sla.yaml:23: owner: ")
    assert "Extra inputs are not permitted" in message


def test_an_unknown_calendar_names_its_line_and_policy() -> None:
    message = _error(VALID.replace("calendar: office", "calendar: shop"))

    assert message == "sla.yaml:20: policies.1.calendar: unknown calendar 'shop'"


def test_an_invalid_weekday_range_is_refused_with_its_line() -> None:
    message = _error(VALID.replace("mon-fri:", "mon-fri-sun:"))

    assert message.startswith("sla.yaml:6: calendars.office.hours: ")
    assert "not a weekday or weekday range: 'mon-fri-sun'" in message


def test_an_unknown_weekday_is_refused() -> None:
    message = _error(VALID.replace("mon-fri:", "mon-fry:"))

    assert "calendars.office.hours: not a weekday or weekday range: 'mon-fry'" in message


def test_an_invalid_opening_interval_is_refused_with_its_line() -> None:
    message = _error(VALID.replace('mon-fri: ["08:00-18:00"]', 'mon-fri: ["8-18"]'))

    assert message.startswith("sla.yaml:6: calendars.office.hours: ")
    assert "not an opening interval: '8-18'" in message


def test_a_warning_share_of_120_percent_is_refused_with_its_line() -> None:
    message = _error(VALID.replace("at: [50%, 0.75]", "at: [50%, 120%]"))

    assert message.startswith("sla.yaml:13: policies.0.warnings.at.1: ")
    assert "a warning level is a share below 100%" in message
    assert message.endswith("not '120%'")  # what the user wrote


def test_a_bad_warning_lead_time_names_its_field() -> None:
    message = _error(VALID.replace("before: [10m]", "before: [-10m]"))

    assert message.startswith("sla.yaml:13: policies.0.warnings.before.0: ")


def test_an_unknown_channel_in_a_match_is_refused() -> None:
    message = _error(VALID.replace("channel: phone", "channel: pigeon"))

    assert message.startswith("sla.yaml:11: policies.0.match.channel: ")


def test_several_mistakes_are_counted() -> None:
    text = VALID.replace("calendar: office", "calender: office").replace("2d}", "2 days}")

    assert _error(text).endswith("(and 1 more)")


def test_invalid_yaml_names_the_line_of_the_syntax_error() -> None:
    text = dedent(
        """\
        version: v1
        policies:
          - name: a
            targets: {resolution: 1h
          - name: b
        """
    )
    message = _error(text)

    assert message.startswith("sla.yaml:5: not valid YAML: ")


def test_a_tab_indentation_error_names_its_line() -> None:
    message = _error("version: v1\npolicies:\n\t- name: a\n")

    assert message.startswith("sla.yaml:3: not valid YAML: ")


def test_a_missing_file_names_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "sla.yaml"

    with pytest.raises(PolicyFileError, match="cannot read the SLA policy file") as caught:
        load_policies(missing)
    assert str(caught.value).startswith(f"{missing}: ")


def test_a_file_on_disk_is_parsed_and_named_in_errors(tmp_path: Path) -> None:
    good = tmp_path / "sla.yaml"
    good.write_text(VALID)
    bad = tmp_path / "broken.yaml"
    bad.write_text(VALID.replace("calendar: office", "calendar: shop"))

    assert load_policies(good).rules[0].policy.name == "vip-phone"
    with pytest.raises(PolicyFileError, match=r"broken\.yaml:20: policies\.1\.calendar"):
        load_policies(str(bad))


def test_a_file_with_only_a_version_has_no_policy_for_anything() -> None:
    book = parse_policies('version: "v1"\n', "sla.yaml")

    assert book == PolicyBook()
    assert book.policy_for("phone", "urgent", "vip") is None
    assert book.policy_for(None, "low", None) is None


def test_an_empty_file_still_needs_a_version() -> None:
    assert _error("") == "sla.yaml:1: version: Field required"


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        ("timezone: Nowhere/City", "unknown time zone 'Nowhere/City'"),
        ('hours: {monkey: ["08:00-18:00"]}', "not a weekday or weekday range: 'monkey'"),
        ('hours: {mon: ["25:00-18:00"]}', "not a time of day in '25:00-18:00'"),
    ],
)
def test_a_bad_calendar_is_refused_as_a_policy_file_error(calendar: str, message: str) -> None:
    text = f"version: v1\ncalendars:\n  c:\n    {calendar}\n"
    if "hours" not in calendar:
        text += '    hours: {mon: ["08:00-18:00"]}\n'
    with pytest.raises(PolicyFileError, match=re.escape(message)):
        parse_policies(text, "sla.yaml")


def test_full_weekday_names_are_understood_and_nan_is_no_duration() -> None:
    text = 'version: v1\ncalendars:\n  c:\n    hours: {monday-friday: ["08:00-18:00"]}\n'
    assert parse_policies(text) is not None
    with pytest.raises(ValueError, match="duration"):
        parse_duration(float("nan"))
