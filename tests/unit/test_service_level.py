"""Call service level classification, and the settings that build it and the repeat rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from processor.config import RepeatSettings, ServiceLevelSettings
from processor.core.service_level import ServiceLevelRule


def test_an_answer_within_the_threshold_is_within() -> None:
    rule = ServiceLevelRule(threshold_s=20.0)

    assert rule.classify(answered=True, wait_s=0.0) == "within"
    assert rule.classify(answered=True, wait_s=19.9) == "within"


def test_an_answer_exactly_at_the_threshold_is_within() -> None:
    assert ServiceLevelRule(threshold_s=20.0).classify(answered=True, wait_s=20.0) == "within"


def test_an_answer_after_the_threshold_is_outside() -> None:
    rule = ServiceLevelRule(threshold_s=20.0)

    assert rule.classify(answered=True, wait_s=20.001) == "outside"
    assert rule.classify(answered=True, wait_s=300.0) == "outside"


def test_an_answer_after_a_short_wait_is_never_a_short_abandon() -> None:
    rule = ServiceLevelRule(short_abandon_s=5.0, count_abandons=False)

    assert rule.classify(answered=True, wait_s=1.0) == "within"
    assert rule.is_short_abandon(answered=True, wait_s=1.0) is False


def test_a_short_abandon_is_excluded_by_default() -> None:
    rule = ServiceLevelRule()

    assert rule.is_short_abandon(answered=False, wait_s=4.9) is True
    assert rule.classify(answered=False, wait_s=4.9) is None


def test_a_short_abandon_counts_as_outside_when_configured() -> None:
    rule = ServiceLevelRule(short_abandon_s=5.0, count_short_abandons=True)

    assert rule.classify(answered=False, wait_s=4.9) == "outside"


def test_an_abandon_at_the_short_abandon_limit_is_a_normal_abandon() -> None:
    rule = ServiceLevelRule(short_abandon_s=5.0)

    assert rule.is_short_abandon(answered=False, wait_s=5.0) is False
    assert rule.classify(answered=False, wait_s=5.0) == "outside"


def test_a_normal_abandon_counts_as_outside_by_default() -> None:
    rule = ServiceLevelRule()

    assert rule.is_short_abandon(answered=False, wait_s=60.0) is False
    assert rule.classify(answered=False, wait_s=60.0) == "outside"
    # Even one abandoned within the answer threshold was missed.
    assert rule.classify(answered=False, wait_s=10.0) == "outside"


def test_a_normal_abandon_is_excluded_when_configured() -> None:
    rule = ServiceLevelRule(count_abandons=False)

    assert rule.classify(answered=False, wait_s=60.0) is None


def test_counting_abandons_does_not_count_short_ones() -> None:
    rule = ServiceLevelRule(count_short_abandons=False, count_abandons=True)

    assert rule.classify(answered=False, wait_s=1.0) is None
    assert rule.classify(answered=False, wait_s=6.0) == "outside"


def test_excluding_abandons_still_counts_short_ones_when_asked() -> None:
    rule = ServiceLevelRule(count_short_abandons=True, count_abandons=False)

    assert rule.classify(answered=False, wait_s=1.0) == "outside"
    assert rule.classify(answered=False, wait_s=6.0) is None


def test_the_default_settings_build_the_default_rule() -> None:
    rule = ServiceLevelSettings().rule()

    assert rule == ServiceLevelRule(
        threshold_s=20.0, short_abandon_s=5.0, count_short_abandons=False, count_abandons=True
    )
    assert rule.classify(answered=False, wait_s=2.0) is None
    assert rule.classify(answered=False, wait_s=30.0) == "outside"


def test_settings_carry_the_threshold_and_short_abandon_limit() -> None:
    rule = ServiceLevelSettings(threshold_s=30.0, short_abandon_s=8.0).rule()

    assert (rule.threshold_s, rule.short_abandon_s) == (30.0, 8.0)
    assert rule.classify(answered=True, wait_s=30.0) == "within"
    assert rule.classify(answered=True, wait_s=31.0) == "outside"
    assert rule.is_short_abandon(answered=False, wait_s=7.0) is True


@pytest.mark.parametrize(
    ("short_abandons", "abandons", "count_short", "count_normal"),
    [
        ("exclude", "count", False, True),
        ("count", "count", True, True),
        ("exclude", "exclude", False, False),
        ("count", "exclude", True, False),
    ],
)
def test_settings_map_abandon_choices_to_the_rule(
    short_abandons: str, abandons: str, count_short: bool, count_normal: bool
) -> None:
    settings = ServiceLevelSettings.model_validate(
        {"short_abandons": short_abandons, "abandons": abandons}
    )
    rule = settings.rule()

    assert rule.count_short_abandons is count_short
    assert rule.count_abandons is count_normal
    assert (rule.classify(answered=False, wait_s=1.0) == "outside") is count_short
    assert (rule.classify(answered=False, wait_s=60.0) == "outside") is count_normal


def test_an_unknown_abandon_choice_is_refused() -> None:
    with pytest.raises(ValidationError, match="short_abandons"):
        ServiceLevelSettings.model_validate({"short_abandons": "ignore"})
    with pytest.raises(ValidationError, match="abandons"):
        ServiceLevelSettings.model_validate({"abandons": "yes"})


def test_repeat_windows_are_sorted_by_length() -> None:
    rule = RepeatSettings(windows=("7d", "24h", "90m", "72h")).rule()

    assert rule.windows == (
        ("90m", timedelta(minutes=90)),
        ("24h", timedelta(hours=24)),
        ("72h", timedelta(hours=72)),
        ("7d", timedelta(days=7)),
    )


def test_the_fcr_window_defaults_to_the_widest_window() -> None:
    assert RepeatSettings(windows=("7d", "24h", "72h")).rule().fcr_window == timedelta(days=7)
    assert RepeatSettings().rule().fcr_window == timedelta(days=7)


def test_fcr_window_overrides_the_default() -> None:
    rule = RepeatSettings(windows=("24h", "7d"), fcr_window="48h").rule()

    assert rule.fcr_window == timedelta(hours=48)
    assert [label for label, _ in rule.windows] == ["24h", "7d"]


def test_same_reason_is_carried_to_the_rule() -> None:
    assert RepeatSettings().rule().same_reason is False
    assert RepeatSettings(same_reason=True).rule().same_reason is True


def test_an_invalid_repeat_window_is_refused() -> None:
    with pytest.raises(ValidationError, match="not a duration: '7 days'"):
        RepeatSettings(windows=("24h", "7 days"))


def test_an_invalid_fcr_window_is_refused() -> None:
    with pytest.raises(ValidationError, match="fcr_window"):
        RepeatSettings(fcr_window="a week")


def test_at_least_one_repeat_window_is_needed() -> None:
    with pytest.raises(ValidationError, match="windows"):
        RepeatSettings(windows=())
