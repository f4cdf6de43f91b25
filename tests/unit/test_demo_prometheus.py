"""The demo's Prometheus configuration, derived from the deployed one."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from processor.demo.prometheus import CONFIG, DEPLOY, PrometheusError, demo_config

DEPLOYED: dict[str, Any] = {
    "global": {"scrape_interval": "15s", "evaluation_interval": "15s", "external_labels": {}},
    "rule_files": ["rules/*.yml"],
    "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]},
    "scrape_configs": [
        {"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]},
        {
            "job_name": "ccpulse",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": ["worker-1:9464", "worker-2:9464"]}],
        },
    ],
}


def test_the_demo_scrapes_only_its_worker_with_the_deployed_job_and_rules() -> None:
    config = demo_config(DEPLOYED, "127.0.0.1:9464", interval_s=1)
    assert config["scrape_configs"] == [
        {
            "job_name": "ccpulse",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": ["127.0.0.1:9464"]}],
        }
    ]
    assert config["rule_files"] == [str(DEPLOY / "rules/*.yml")]
    assert config["global"]["scrape_interval"] == config["global"]["evaluation_interval"] == "1s"
    assert "alerting" not in config
    assert DEPLOYED["scrape_configs"][1]["static_configs"][0]["targets"][0] == "worker-1:9464"


def test_a_config_without_the_ccpulse_job_is_refused() -> None:
    with pytest.raises(PrometheusError, match="no scrape job 'ccpulse'"):
        demo_config({"scrape_configs": []}, "127.0.0.1:9464", interval_s=1)


def test_the_deployed_config_gives_a_demo_config_whose_rule_files_exist() -> None:
    config = demo_config(yaml.safe_load(CONFIG.read_text()), "127.0.0.1:9", interval_s=1)
    for pattern in config["rule_files"]:
        assert list(DEPLOY.glob(pattern.removeprefix(f"{DEPLOY}/"))), pattern
