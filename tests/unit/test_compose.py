"""The compose stack cannot run here (no Docker engine): check it is coherent instead."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from processor.config import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_every_image_is_pinned_and_every_build_has_its_dockerfile(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image", "")
        assert ":" in image, name
        assert not image.endswith(":latest"), name
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").is_file(), name


def test_workers_share_a_group_and_expose_their_metrics_port(compose: dict[str, Any]) -> None:
    workers = {n: s for n, s in compose["services"].items() if n.startswith("worker")}
    assert len(workers) >= 2
    for name, service in workers.items():
        with mock.patch.dict(os.environ, service["environment"], clear=True):
            settings = Settings()
        assert settings.kafka.bootstrap_servers == "kafka:19092", name
        assert settings.app_id == "ccpulse", name
        published = [port.split(":")[1] for port in service["ports"]]
        assert published == [str(settings.metrics_port)], name


def test_the_broker_advertises_the_listener_the_workers_use(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]["environment"]
    assert "INTERNAL://kafka:19092" in kafka["KAFKA_ADVERTISED_LISTENERS"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_the_image_runs_as_an_unprivileged_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nUSER ccpulse\n" in dockerfile
