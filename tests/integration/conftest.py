"""Fixtures for tests against the real embedded broker.

- ``broker``: one ``EmbeddedBroker`` for the whole session (started on first use, stopped
  at the end; its log is kept under pytest's temporary directory). Tests share it, so
  they must not rely on a fresh broker: use the names from ``settings``.
- ``settings``: ``Settings`` pointing at ``broker`` with a consumer group, topic names,
  ``/metrics`` port and data directory that no other test uses, a 6 s session timeout
  (the broker holds every group join for half of it) and 4 partitions per topic.
- ``make_settings``: the same as a factory, for tests that need several isolated
  setups, e.g. two independent applications.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from processor.broker import EmbeddedBroker
from processor.config import KafkaSettings, Settings, TopicSettings
from tests.integration.support import free_port

SESSION_TIMEOUT_S = 6.0
PARTITIONS = 4


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log_path = tmp_path_factory.mktemp("broker") / "broker.log"
    with EmbeddedBroker(log_path=log_path) as running:
        yield running


@pytest.fixture
def make_settings(broker: EmbeddedBroker, tmp_path: Path) -> Callable[[], Settings]:
    def make() -> Settings:
        run = uuid.uuid4().hex[:10]
        topic_names = {
            field: f"t-{run}.{default}"
            for field, default in TopicSettings().model_dump().items()
            if isinstance(default, str)
        }
        return Settings(
            app_id=f"t-{run}",
            kafka=KafkaSettings(
                bootstrap_servers=broker.bootstrap_servers, session_timeout_s=SESSION_TIMEOUT_S
            ),
            topics=TopicSettings(**topic_names, partitions=PARTITIONS),
            metrics_port=free_port(),
            data_dir=str(tmp_path / run),
        )

    return make


@pytest.fixture
def settings(make_settings: Callable[[], Settings]) -> Settings:
    return make_settings()
