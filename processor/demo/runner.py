"""``ccpulse demo``: everything on one machine, no Docker, no Kafka install.

Starts the embedded broker (unless ``--broker`` names one), creates the topics, starts a
worker process, and runs the synthetic contact center and the live terminal summary until
Ctrl-C (or ``--duration``). On the way out it stops the traffic, then the worker, then
the broker, and leaves no process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from processor.broker import EmbeddedBroker, die_with_parent, terminate
from processor.config import KafkaSettings, RepeatSettings, Settings, settings_env
from processor.demo.prometheus import LocalPrometheus, PrometheusError, binary
from processor.demo.summary import run_summary
from processor.demo.traffic import run_traffic
from processor.shell.worker import prepare

EMBEDDED_SESSION_TIMEOUT_S = 6.0


def run_demo(
    settings: Settings,
    *,
    external_broker: bool,
    rate: float,
    time_scale: float,
    seed: int,
    duration: float | None,
    prometheus: bool | None = None,
    prometheus_port: int = 9090,
) -> int:
    """``prometheus``: True starts one (or fails), None when installed, False never."""
    with contextlib.ExitStack() as stack:
        settings = demo_rules(settings)
        if not external_broker:
            print("starting the embedded Kafka-protocol broker…", flush=True)
            broker = stack.enter_context(EmbeddedBroker())
            settings = _on_embedded_broker(settings, broker.bootstrap_servers)
        print(f"broker: {settings.kafka.bootstrap_servers}", flush=True)
        asyncio.run(prepare(settings))
        stack.enter_context(_worker(settings))
        url = f"http://{settings.metrics_host}:{settings.metrics_port}/metrics"
        footer = f"metrics: {url}"
        if prometheus is not False:
            local = _prometheus(stack, settings, prometheus_port, required=bool(prometheus))
            footer += f" · Prometheus: {local.url}/alerts" if local else ""
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                _live(
                    settings,
                    url,
                    rate=rate,
                    time_scale=time_scale,
                    seed=seed,
                    duration=duration,
                    footer=footer,
                )
            )
        print("\nstopping…", flush=True)
    return 0


def run_load(
    settings: Settings, *, rate: float, time_scale: float, seed: int, duration: float | None
) -> int:
    """Only the synthetic traffic, against the configured broker (a load generator)."""
    asyncio.run(prepare(settings))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            _live(settings, None, rate=rate, time_scale=time_scale, seed=seed, duration=duration)
        )
    return 0


DEMO_POLICIES = Path(__file__).with_name("sla-policies.yaml")
DEMO_REPEAT = RepeatSettings(windows=("2m", "30m"), fcr_window="1m")
"""Windows short enough to watch: the demo compresses days into minutes."""


def demo_rules(settings: Settings) -> Settings:
    """The demo's SLA policies and repeat windows, unless others were configured."""
    update: dict[str, object] = {}
    if settings.sla.policy_file is None:
        update["sla"] = settings.sla.model_copy(update={"policy_file": str(DEMO_POLICIES)})
    if settings.repeat == RepeatSettings():
        update["repeat"] = DEMO_REPEAT
    return settings.model_copy(update=update)


def _prometheus(
    stack: contextlib.ExitStack, settings: Settings, port: int, *, required: bool
) -> LocalPrometheus | None:
    """A local Prometheus on the demo worker, or None (with the reason printed)."""
    if not required and binary() is None:
        print("Prometheus: not installed (Debian: apt install prometheus)", flush=True)
        return None
    host = "127.0.0.1" if settings.metrics_host in ("0.0.0.0", "") else settings.metrics_host
    local = LocalPrometheus(
        f"{host}:{settings.metrics_port}",
        port=port,
        data_dir=Path(settings.data_dir) / "prometheus",
    )
    try:
        stack.enter_context(local)
    except PrometheusError as error:
        if required:
            raise
        print(f"Prometheus not started: {error}", flush=True)
        return None
    print(f"Prometheus: {local.url} (rules and alerts: {local.url}/alerts)", flush=True)
    return local


def _on_embedded_broker(settings: Settings, bootstrap: str) -> Settings:
    kafka: KafkaSettings = settings.kafka.model_copy(
        update={"bootstrap_servers": bootstrap, "session_timeout_s": EMBEDDED_SESSION_TIMEOUT_S}
    )
    return settings.model_copy(update={"kafka": kafka})


@contextlib.contextmanager
def _worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    log_path = Path(settings.data_dir) / "worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"worker log: {log_path}", flush=True)
    with log_path.open("ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "processor", "worker"],
            env={**os.environ, **settings_env(settings)},
            stdout=log,
            stderr=log,
            # Its own process group: Ctrl-C reaches us, and we stop the worker in order;
            # should we die without stopping it, the kernel stops it for us.
            start_new_session=True,
            preexec_fn=die_with_parent(os.getpid()),  # noqa: PLW1509
        )
    try:
        yield worker
    finally:
        terminate(worker, grace_s=20.0)


async def _live(
    settings: Settings,
    url: str | None,
    *,
    rate: float,
    time_scale: float,
    seed: int,
    duration: float | None,
    footer: str = "",
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    traffic = run_traffic(settings, rate=rate, time_scale=time_scale, seed=seed, stop=stop)
    if url is None:
        await traffic
    else:
        await asyncio.gather(traffic, run_summary(url, stop, footer=footer))
