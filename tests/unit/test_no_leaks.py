"""What a worker lets out: /metrics on loopback unless told otherwise, and no customer,
ticket or agent id, no message text and no secret in any metric label or log record.

The pipeline runs over the synthetic contact center's traffic plus hand-made messages,
good and bad, full of a distinctive customer's data, with every logger at DEBUG; then
every label value of every series and every log record is searched for that data.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import urllib.request
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.conn import SaslPlainAuthenticator
from aiokafka.protocol.admin import SaslAuthenticateRequest_v1
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from processor.cli import main
from processor.config import DEFAULT_REASONS, KafkaSettings, SecurityProtocol, Settings
from processor.demo import runner
from processor.demo.simulation import ContactCenter
from processor.events import SourceKind
from processor.kafka import client_options, faust_broker_options, wait_for_broker
from processor.open_tickets import OpenTickets
from processor.policies import load_policies
from processor.shell.app import create_app
from processor.shell.health import HealthBoard
from processor.shell.http import serve
from processor.shell.pipeline import Message, Rules
from processor.shell.worker import clock_of, metrics_of, rules_of
from tests.unit.test_pipeline import Harness

CUSTOMER = "cust-LEAKCHECK-5f1c9e"
TICKET = "ZD-LEAKCHECK-80417"
AGENT = "agent-LEAKCHECK-77"
SUBJECT = "Refund for order 4711, charged twice"
TEXT = "Hi, Jane Doe here (jane.doe@example.com), my card ending 4242 was charged twice"
PASSWORD = "pw-LEAKCHECK-9d2f-never-shown"
SECRETS = (CUSTOMER, TICKET, AGENT, SUBJECT, TEXT, "jane.doe@example.com", PASSWORD)


# -- /metrics bind address ---------------------------------------------------------------


@pytest.fixture
def no_metrics_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CCPULSE_METRICS_HOST", raising=False)


def answers(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def serve_metrics(host: str) -> Iterator[int]:
    server = serve(host, 0, CollectorRegistry(), HealthBoard("k:9092", 60.0, clock=lambda: 0.0))
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.usefixtures("no_metrics_host")
def test_metrics_listen_on_loopback_unless_a_host_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().metrics_host == "127.0.0.1"
    for port in serve_metrics(Settings().metrics_host):
        assert answers("127.0.0.1", port)
    # Linux routes all of 127/8 to the loopback device: a second address shows that the
    # server listens on the configured one only.
    monkeypatch.setenv("CCPULSE_METRICS_HOST", "127.0.0.2")
    for port in serve_metrics(Settings().metrics_host):
        assert answers("127.0.0.2", port)
        assert not answers("127.0.0.1", port)


class RecordedPopen:
    """Stands in for the demo's worker process: keeps the environment it was given."""

    env: dict[str, str] = {}  # noqa: RUF012 - the last one made

    def __init__(self, argv: list[str], *, env: dict[str, str], **_: Any) -> None:
        RecordedPopen.env = env


def demo_worker_env(monkeypatch: pytest.MonkeyPatch, argv: list[str], tmp: str) -> dict[str, str]:
    """The environment ``ccpulse demo ARGV`` starts its worker with."""
    started: list[Settings] = []

    def run_demo(settings: Settings, **_: Any) -> int:
        started.append(settings)
        return 0

    monkeypatch.setenv("CCPULSE_DATA_DIR", tmp)
    monkeypatch.setattr(runner, "run_demo", run_demo)
    assert main(["demo", *argv]) == 0
    monkeypatch.setattr(subprocess, "Popen", RecordedPopen)  # runner.subprocess is this module
    monkeypatch.setattr(runner, "terminate", lambda process, grace_s: None)
    with runner._worker(runner.demo_rules(started[0])):
        pass
    return RecordedPopen.env


@pytest.mark.usefixtures("no_metrics_host")
def test_the_demo_worker_serves_metrics_on_loopback_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert demo_worker_env(monkeypatch, [], str(tmp_path))["CCPULSE_METRICS_HOST"] == "127.0.0.1"
    chosen = demo_worker_env(monkeypatch, ["--metrics-host", "0.0.0.0"], str(tmp_path))
    assert chosen["CCPULSE_METRICS_HOST"] == "0.0.0.0"


# -- labels and logs of the pipeline -----------------------------------------------------


def envelope(kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": f"{kind}-{at.timestamp():.0f}-{len(fields)}",
        "occurred_at": at.isoformat(),
        "customer_id": CUSTOMER,
        **fields,
    }


def customer_messages(at: datetime) -> list[tuple[SourceKind, bytes]]:
    """Good and bad messages about one customer, carrying text the models do not keep."""
    text = {"subject": SUBJECT, "body": TEXT, "from": "jane.doe@example.com"}
    mail = {"ticket_id": TICKET, "thread_id": f"thr-{TICKET}", **text}
    good = [
        (SourceKind.TICKETS, envelope("ticket.created", at, ticket_id=TICKET, channel="email",
                                      reason=f"{SUBJECT} from jane.doe@example.com")),
        (SourceKind.EMAILS, envelope("email.received", at, message_id="m-1", **mail)),
        (SourceKind.EMAILS, envelope("email.sent", at + timedelta(minutes=5), message_id="m-2",
                                     agent_id=AGENT, **mail)),
        (SourceKind.CHATS, envelope("chat.message", at, session_id=f"s-{TICKET}", author="agent",
                                    text=TEXT, agent_id=AGENT)),
        (SourceKind.TICKETS, envelope("ticket.assigned", at, ticket_id=TICKET, agent_id=AGENT,
                                      queue=SUBJECT[:20])),
    ]  # fmt: skip
    bad: list[tuple[SourceKind, Any]] = [
        (SourceKind.EMAILS, envelope("email.received", at, message_id="m-3", thread_id=TICKET,
                                     customer_id={"id": CUSTOMER, "email": TEXT})),
        (SourceKind.EMAILS, envelope("email.archived", at, message_id="m-4", **mail)),
        (SourceKind.EMAILS, envelope(f"email.for.{CUSTOMER}", at, message_id="m-9", **mail)),
        (SourceKind.EMAILS, {**envelope("email.received", at, message_id="m-5", **mail),
                             "occurred_at": at.replace(tzinfo=None).isoformat()}),
        (SourceKind.EMAILS, envelope("email.received", at + timedelta(days=2), message_id="m-6",
                                     **mail)),
        (SourceKind.EMAILS, envelope("email.received", datetime(1970, 1, 2, tzinfo=UTC),
                                     message_id="m-7", **mail)),
        (SourceKind.EMAILS, envelope("email.received", at, message_id="m-8", padding=TEXT * 80,
                                     **mail)),
        (SourceKind.CHATS, [CUSTOMER, TEXT]),
        (SourceKind.CHATS, b""),
    ]  # fmt: skip
    encoded = [(kind, orjson.dumps(body)) for kind, body in good]
    truncated = orjson.dumps({"customer_id": CUSTOMER, "subject": SUBJECT, **mail})[:-9]
    return [
        *encoded,
        *((kind, body if isinstance(body, bytes) else orjson.dumps(body)) for kind, body in bad),
        (SourceKind.EMAILS, truncated),
    ]


def identifiers(values: Iterable[Any]) -> set[str]:
    """Every customer, ticket, agent and source id (``*_id`` but ``event_id``) in events."""
    found: set[str] = set()
    for value in values:
        if isinstance(value, dict):
            for key, item in value.items():
                if key.endswith("_id") and key != "event_id" and isinstance(item, str):
                    found.add(item)
            found |= identifiers(value.values())
        elif isinstance(value, list):
            found |= identifiers(value)
    return found


def label_values(registry: CollectorRegistry) -> set[str]:
    return {
        value
        for family in registry.collect()
        for sample in family.samples
        for value in sample.labels.values()
    }


def logged(records: Iterable[logging.LogRecord], text: str) -> list[str]:
    lines = []
    for record in records:
        lines.append(record.getMessage())
        lines.append(repr(record.args))
        if record.exc_info:
            lines.append(logging.Formatter().formatException(record.exc_info))
    return [*lines, text]


def test_no_id_message_text_or_secret_reaches_a_metric_label_or_a_log_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    center = ContactCenter(seed=11, start=start, rate=2.0, time_scale=120.0,
                           malformed_fraction=0.02)  # fmt: skip
    emissions = center.advance(start + timedelta(minutes=8))
    rules = Rules(policies=load_policies(runner.DEMO_POLICIES), repeat=runner.DEMO_REPEAT.rule())
    h = Harness(rules=rules, now=start.timestamp(), reasons=DEFAULT_REASONS)
    secrets = set(SECRETS)
    messages = [(e.kind, e.key, e.value) for e in emissions]
    for emission in emissions:
        if not isinstance(emission.payload, bytes):
            secrets |= identifiers([orjson.loads(emission.value)])
    messages += [(kind, TICKET.encode(), raw) for kind, raw in customer_messages(start)]
    for offset, (kind, key, value) in enumerate(messages):
        h.pipeline.ingest(kind, [Message(f"cc.{kind.value}", 0, offset, key, value)])
        if offset % 200 == 0:
            h.drain()
    h.drain()
    for hours in (1, 3, 6, 48):  # deadlines pass, FCR windows close
        h.tick((start + timedelta(hours=hours)).timestamp())

    rejected = [r for r in caplog.records if r.getMessage().startswith("rejected ")]
    assert len(rejected) >= 9  # the hand-made bad ones and the simulation's
    labels = label_values(h.registry)
    assert {"email", "other", "first_response", "invalid_event"} <= labels
    assert len(secrets) > 1000
    lines = logged(caplog.records, caplog.text)
    for secret in secrets:
        assert not any(secret in label for label in labels), secret
        assert not any(secret in line for line in lines), secret


def sasl_settings(**kafka: Any) -> Settings:
    return Settings(
        kafka=KafkaSettings(
            security_protocol=SecurityProtocol.SASL_SSL,
            sasl_username="ccpulse",
            sasl_password=SecretStr(PASSWORD),
            **kafka,
        )
    )


def test_making_the_worker_app_and_failing_to_reach_the_broker_log_no_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = sasl_settings(bootstrap_servers="127.0.0.1:1")
    open_tickets = OpenTickets()
    clock = clock_of(settings)
    metrics = metrics_of(settings, CollectorRegistry(), open_tickets, clock)
    create_app(settings, metrics, open_tickets, rules_of(settings), clock)
    with pytest.raises(TimeoutError) as failure:
        asyncio.run(wait_for_broker(settings.kafka, 1.0, log=logging.getLogger("ccpulse.test")))
    assert any("waiting for the Kafka broker" in r.getMessage() for r in caplog.records)
    assert PASSWORD not in str(failure.value)
    assert not any(PASSWORD in line for line in logged(caplog.records, caplog.text))


def test_kafka_clients_log_no_message_data_and_no_login(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client_options(sasl_settings().kafka)
    faust_broker_options(sasl_settings().kafka)
    value = orjson.dumps({"customer_id": CUSTOMER, "subject": SUBJECT, "text": TEXT})
    key = TICKET.encode()
    login, _ = asyncio.run(plain_login("ccpulse", PASSWORD))
    assert PASSWORD.encode() in login
    # What aiokafka logs at DEBUG, with the objects it logs: each message sent, and each
    # request on the wire (here the SASL PLAIN login).
    partition = TopicPartition("cc.emails", 3)
    producer = logging.getLogger("aiokafka.producer.producer")
    producer.debug("Sending (key=%s value=%s) to %s", key, value, partition)
    connection = logging.getLogger("aiokafka.conn")
    connection.debug("Request to %s:%d %d: %s", "kafka", 9093, 7, SaslAuthenticateRequest_v1(login))
    # And what Faust logs at DEBUG for each message its agents send.
    faust_topics = logging.getLogger("faust.topics")
    faust_topics.debug("send: topic=%r k=%r v=%r timestamp=%r partition=%r",
                       "cc.ticket-metrics", key, value, None, None)  # fmt: skip
    assert [r.getMessage() for r in caplog.records[-3:]] == [
        f"Sending (key=<{len(key)} bytes> value=<{len(value)} bytes>) to {partition}",
        "Request to kafka:9093 7: SaslAuthenticateRequest_v1(...)",
        f"send: topic='cc.ticket-metrics' k='<{len(key)} bytes>' v='<{len(value)} bytes>' "
        "timestamp=None partition=None",
    ]
    assert not any(
        secret in line for secret in SECRETS for line in logged(caplog.records, caplog.text)
    )


async def plain_login(username: str, password: str) -> tuple[bytes, bool]:
    """The bytes aiokafka sends to log in with SASL PLAIN."""
    authenticator = SaslPlainAuthenticator(
        loop=asyncio.get_running_loop(),
        sasl_plain_username=username,
        sasl_plain_password=password,
    )
    step: tuple[bytes, bool] | None = await authenticator.step(None)
    assert step is not None
    return step
