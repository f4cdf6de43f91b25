"""The SLA policy file: what it builds, and errors that name the file, line and field."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from textwrap import dedent

import pytest

from processor.core.sla import Target
from processor.policies import PolicyFileError, load_policies, parse_duration, parse_policies

VALID = dedent(
    """\
    version: "v3"
    calendars:
      office:
        timezone: Europe/Berlin
        hours:
          mon-fri: ["08:00-18:00"]
          sat: ["09:00-13:00"]
        holidays: [2026-12-25]
    policies:
      - name: urgent
        match: {priority: urgent}
        targets: {first_response: 15m, resolution: 4h}
        warnings: {at: [50%, 0.75], before: [5m]}
      - name: email
        match: {channel: email}
        targets: {first_response: 7200}
        calendar: office
    """
)


def test_a_valid_file_builds_ordered_rules_with_targets_ladders_and_calendars() -> None:
    book = parse_policies(VALID)
    urgent = book.policy_for("email", "urgent", None)
    assert urgent is not None
    assert urgent.name == "urgent"
    assert urgent.version == "v3"
    assert urgent.targets == {Target.FIRST_RESPONSE: 900, Target.RESOLUTION: 14400}
    assert urgent.levels(Target.FIRST_RESPONSE) == (0.5, 0.666667, 0.75)
    email = book.policy_for("email", "normal", "billing")
    assert email is not None
    assert email.calendar is not None
    assert email.calendar.weekly[1] == ((time(8), time(18)),)
    assert email.calendar.weekly[6] == ((time(9), time(13)),)
    assert 7 not in email.calendar.weekly
    assert email.calendar.holidays == frozenset({date(2026, 12, 25)})
    assert book.policy_for("chat", "normal", None) is None


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("5m", 300), ("4h", 14400), ("2d", 172800), (1.5, 1.5)]
)
def test_durations_take_seconds_or_a_unit(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5 minutes", 0, -3, True, "1y"])
def test_a_bad_duration_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (
            "first_response: 7200",
            "first_response: 2 hours",
            ":16: policies.1.targets.first_response: not a duration",
        ),
        ("{first_response: 7200}", "{first_reply: 7200}", ":16: policies.1.targets.first_reply"),
        ("calendar: office", "calendar: shop", ":17: policies.1.calendar: unknown calendar 'shop'"),
        ("mon-fri:", "mon-frx:", ":6: calendars.office.hours: not a weekday or weekday range"),
        ('"08:00-18:00"', '"8-18"', ":6: calendars.office.hours: not an opening interval"),
        ("at: [50%, 0.75]", "at: [50%, 120%]", ":13: policies.0.warnings.at.1: a warning level"),
        ("match: {channel: email}", "match: {channel: fax}", ":15: policies.1.match.channel"),
        ("name: urgent", "name: urgent\n    colour: red", ":11: policies.0.colour: Extra inputs"),
    ],
)
def test_a_mistake_names_the_file_line_and_field(old: str, new: str, where: str) -> None:
    assert old in VALID
    with pytest.raises(PolicyFileError) as error:
        parse_policies(VALID.replace(old, new, 1), "sla.yaml")
    assert str(error.value).startswith("sla.yaml")
    assert where in str(error.value)


def test_broken_yaml_names_the_line() -> None:
    with pytest.raises(PolicyFileError, match=r"^sla.yaml:\d+: not valid YAML") as error:
        parse_policies('version: "v1"\npolicies:\n  - name: [unclosed\n', "sla.yaml")
    assert "line 3" in str(error.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match=r"nowhere\.yaml"):
        load_policies(tmp_path / "nowhere.yaml")


def test_an_empty_file_means_no_policy_at_all() -> None:
    with pytest.raises(PolicyFileError, match="version"):
        parse_policies("policies: []\n")
    assert parse_policies('version: "v1"\n').policy_for("email", "normal", None) is None


def test_the_worker_refuses_a_bad_policy_file_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from processor.cli import main

    bad = tmp_path / "sla.yaml"
    bad.write_text(VALID.replace("7200", "2 hours"))
    assert main(["worker", "--broker", "127.0.0.1:1", "--sla-policies", str(bad)]) == 2
    assert f"ccpulse: {bad}:16: policies.1.targets.first_response" in capsys.readouterr().err
