"""The rules a worker (and a replay) runs with are the ones its settings configure."""

from __future__ import annotations

from datetime import timedelta

from processor.config import RepeatSettings, Settings
from processor.shell.worker import rules_of


def test_the_configured_state_retention_reaches_the_processing_rules() -> None:
    settings = Settings(state_retention="2h", repeat=RepeatSettings(windows=("30m", "1h")))

    rules = rules_of(settings)

    assert rules.retention == timedelta(hours=2)
    assert rules.repeat is not None
    assert [label for label, _ in rules.repeat.windows] == ["30m", "1h"]


def test_the_default_retention_is_thirty_days() -> None:
    assert rules_of(Settings()).retention == timedelta(days=30)
