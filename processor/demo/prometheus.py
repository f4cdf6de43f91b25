"""A local Prometheus for the demo, running the real rules against the demo worker.

``demo_config`` derives the demo's configuration from ``deploy/prometheus/prometheus.yml``
(the one the compose stack uses): the same rule files and scrape job, with the job
pointed at the demo worker's ``/metrics``, faster scrape and evaluation intervals so a
newcomer sees alerts move within seconds, and no Alertmanager (alerts are shown at
``/alerts``). ``LocalPrometheus`` runs Debian's (or any) ``prometheus`` binary with it
on loopback and stops it again; like the broker it never outlives the demo.

It deliberately installs nothing: without a ``prometheus`` binary on the PATH the demo
runs without one (or refuses, when Prometheus was asked for explicitly).
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import yaml

from processor.broker import die_with_parent, terminate

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
CONFIG = DEPLOY / "prometheus.yml"
JOB = "ccpulse"


class PrometheusError(RuntimeError):
    """Prometheus could not be started; the message says why."""


def binary() -> str | None:
    return shutil.which("prometheus")


def demo_config(source: dict[str, Any], target: str, interval_s: float) -> dict[str, Any]:
    """``source`` (the deployed config) with its ``ccpulse`` job scraping only ``target``."""
    config = copy.deepcopy(source)
    interval = f"{interval_s:g}s"
    config["global"] = {
        **config.get("global", {}),
        "scrape_interval": interval,
        "evaluation_interval": interval,
    }
    config["rule_files"] = [str(DEPLOY / pattern) for pattern in source.get("rule_files", [])]
    config.pop("alerting", None)
    jobs = [job for job in config.get("scrape_configs", []) if job.get("job_name") == JOB]
    if not jobs:
        raise PrometheusError(f"{CONFIG} has no scrape job {JOB!r}")
    job = jobs[0]
    job.pop("file_sd_configs", None)
    job["static_configs"] = [{"targets": [target]}]
    config["scrape_configs"] = [job]
    return config


class LocalPrometheus:
    """``prometheus`` on ``127.0.0.1:port`` scraping ``target``; a context manager."""

    def __init__(
        self,
        target: str,
        *,
        port: int,
        data_dir: Path,
        interval_s: float = 1.0,
        startup_timeout_s: float = 30.0,
    ) -> None:
        self.target, self.port, self.data_dir = target, port, data_dir
        self.interval_s = interval_s
        self.startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        executable = binary()
        if executable is None:
            raise PrometheusError("no `prometheus` on the PATH (Debian: apt install prometheus)")
        if not CONFIG.is_file():
            raise PrometheusError(f"{CONFIG} not found: run the demo from a ccpulse checkout")
        # A fresh database each run: series of an earlier demo would only confuse.
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        config_path = self.data_dir / "prometheus.yml"
        source = yaml.safe_load(CONFIG.read_text())
        config_path.write_text(yaml.safe_dump(demo_config(source, self.target, self.interval_s)))
        self._log = (self.data_dir / "prometheus.log").open("ab")
        self._process = subprocess.Popen(
            [
                executable,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={self.data_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(os.getpid()),  # noqa: PLW1509
        )
        self._wait_until_ready()
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate(process, grace_s=10.0)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                break
            try:
                ready = f"{self.url}/-/ready"
                with urllib.request.urlopen(ready, timeout=1) as response:  # noqa: S310 - ours
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        log = (self.data_dir / "prometheus.log").read_text(errors="replace")
        self.stop()
        tail = "\n".join(log.splitlines()[-10:])
        raise PrometheusError(f"Prometheus did not become ready on {self.url}:\n{tail}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
