"""Every Kafka client ccpulse makes gets the same brokers and security from the settings.

The clients are the Faust worker's own producer and consumer, the consumer that reads a
changelog's real end for table recovery, the admin clients that create topics and probe
the broker, and the producers of the demo traffic and of a replay. Each is made with its
aiokafka class replaced by a recorder, so the test sees the keyword arguments the client
really got. TLS settings are judged by what the client's context does in a real handshake
(in memory, against a broker-side context) with certificates of a throwaway CA made with
``openssl``: whom it trusts, whether it checks the broker's name, which certificate it
shows.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import shutil
import ssl
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

import aiokafka
import faust
import pytest
from faust.transport.drivers.aiokafka import Consumer, Producer, credentials_to_aiokafka_auth
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from processor import kafka
from processor.config import KafkaSettings, SaslMechanism, SecurityProtocol, Settings
from processor.demo import traffic
from processor.open_tickets import OpenTickets
from processor.replay import sinks
from processor.shell import highwater
from processor.shell.app import create_app
from processor.shell.worker import clock_of, metrics_of, rules_of

ROOT = Path(__file__).resolve().parents[2]
BROKER_NAME, CLIENT_NAME, CA_NAME = "kafka.test", "ccpulse-worker", "ccpulse-test-ca"
PASSWORD = "s3cr3t-Pa55-for-the-broker"
SECURITY_KEYS = ("security_protocol", "sasl_mechanism", "sasl_plain_username")


@dataclass(frozen=True, slots=True)
class Pki:
    """A throwaway CA, a broker certificate for ``kafka.test`` and a client certificate."""

    ca: Path
    broker_cert: Path
    broker_key: Path
    client_cert: Path
    client_key: Path
    stranger_ca: Path
    """A CA that signed none of these."""

    def broker_context(self) -> ssl.SSLContext:
        """The broker's side: its certificate, and client certificates checked (if shown)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.broker_cert, self.broker_key)
        context.load_verify_locations(self.ca)
        context.verify_mode = ssl.CERT_OPTIONAL
        return context


def openssl(*arguments: str) -> None:
    subprocess.run(["openssl", *arguments], check=True, capture_output=True)


def make_pki(directory: Path) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make test certificates")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1")
    for ca in ("ca", "stranger"):
        openssl(
            "req", "-x509", *ec, "-keyout", str(directory / f"{ca}.key"),
            "-out", str(directory / f"{ca}.pem"), "-subj", f"/CN={CA_NAME}-{ca}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
    leaves = {
        "broker": (BROKER_NAME, f"subjectAltName=DNS:{BROKER_NAME},IP:127.0.0.1", "serverAuth"),
        "client": (CLIENT_NAME, f"subjectAltName=DNS:{CLIENT_NAME}", "clientAuth"),
    }
    for leaf, (name, alt_names, usage) in leaves.items():
        openssl(
            "req", "-x509", *ec, "-keyout", str(directory / f"{leaf}.key"),
            "-out", str(directory / f"{leaf}.pem"), "-subj", f"/CN={name}",
            "-CA", str(directory / "ca.pem"), "-CAkey", str(directory / "ca.key"),
            "-addext", "basicConstraints=critical,CA:FALSE",
            "-addext", alt_names, "-addext", f"extendedKeyUsage={usage}",
        )  # fmt: skip
    return Pki(
        ca=directory / "ca.pem",
        broker_cert=directory / "broker.pem",
        broker_key=directory / "broker.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
        stranger_ca=directory / "stranger.pem",
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def handshake(client: ssl.SSLContext, broker: ssl.SSLContext, name: str = BROKER_NAME) -> str:
    """A TLS handshake in memory; says whom the broker saw (a client certificate's name)."""
    to_broker, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    sides = {
        "client": client.wrap_bio(to_client, to_broker, server_hostname=name),
        "broker": broker.wrap_bio(to_broker, to_client, server_side=True),
    }
    pending = set(sides)
    for _ in range(10):
        for side in sorted(pending):
            try:
                sides[side].do_handshake()
                pending.discard(side)
            except ssl.SSLWantReadError:
                pass
    assert not pending, f"the handshake did not finish: {pending}"
    peer = sides["broker"].getpeercert()
    if not peer:
        return "no client certificate"
    # A tuple of RDNs, each of (name, value) pairs; the stub types every field of the
    # certificate dict as the union of all their shapes.
    rdns = cast(tuple[tuple[tuple[str, str], ...], ...], peer["subject"])
    subject = dict(entry for rdn in rdns for entry in rdn)
    return f"client certificate {subject['commonName']}"


def security_of(options: Mapping[str, Any], pki: Pki) -> dict[str, Any]:
    """What a client's options amount to: brokers, protocol, SASL login and TLS."""
    seen = {
        key: options.get(key)
        for key in ("bootstrap_servers", *SECURITY_KEYS, "sasl_plain_password")
    }
    context = options.get("ssl_context")
    seen["tls"] = None if context is None else handshake(context, pki.broker_context())
    return seen


# -- the settings each client must follow ------------------------------------------------


def tls_settings(pki: Pki, **extra: Any) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=f"{BROKER_NAME}:9093, k2.test:9093",
        ssl_cafile=str(pki.ca),
        ssl_certfile=str(pki.client_cert),
        ssl_keyfile=str(pki.client_key),
        **extra,
    )


def sasl(protocol: SecurityProtocol, mechanism: SaslMechanism | None) -> dict[str, Any]:
    return {
        "security_protocol": protocol,
        "sasl_mechanism": mechanism,
        "sasl_username": "ccpulse",
        "sasl_password": SecretStr(PASSWORD),
    }


CASES: dict[str, Callable[[Pki], KafkaSettings]] = {
    "plaintext": lambda pki: KafkaSettings(bootstrap_servers=f"{BROKER_NAME}:9093, k2.test:9093"),
    "mtls": lambda pki: tls_settings(pki, security_protocol=SecurityProtocol.SSL),
    "sasl-plain": lambda pki: KafkaSettings(
        bootstrap_servers=f"{BROKER_NAME}:9093, k2.test:9093",
        **sasl(SecurityProtocol.SASL_PLAINTEXT, SaslMechanism.PLAIN),
    ),
    "scram-256-over-tls": lambda pki: tls_settings(
        pki, **sasl(SecurityProtocol.SASL_SSL, SaslMechanism.SCRAM_SHA_256)
    ),
    "scram-512-over-mtls": lambda pki: tls_settings(
        pki, **sasl(SecurityProtocol.SASL_SSL, SaslMechanism.SCRAM_SHA_512)
    ),
}
EXPECTED = {
    "plaintext": ("PLAINTEXT", None, None),
    "mtls": ("SSL", None, f"client certificate {CLIENT_NAME}"),
    "sasl-plain": ("SASL_PLAINTEXT", "PLAIN", None),
    "scram-256-over-tls": ("SASL_SSL", "SCRAM-SHA-256", f"client certificate {CLIENT_NAME}"),
    "scram-512-over-mtls": ("SASL_SSL", "SCRAM-SHA-512", f"client certificate {CLIENT_NAME}"),
}


# -- every client, made with its aiokafka class replaced by a recorder -------------------


class RecordedClient:
    """Stands in for an aiokafka producer, consumer or admin client: keeps its options."""

    made: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def __init__(self, *topics: str, **options: Any) -> None:
        RecordedClient.made.append((type(self).__name__, options))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def flush(self) -> None:
        pass

    async def list_topics(self) -> list[str]:
        return []

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}


class Made(BaseException):
    """Raised by a recorder that need not work beyond being made."""


class StopAtOnce(RecordedClient):
    def __init__(self, *topics: str, **options: Any) -> None:
        super().__init__(*topics, **options)
        raise Made


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    RecordedClient.made = []
    # Faust's driver calls ``aiokafka.AIOKafkaProducer(...)`` through the package.
    monkeypatch.setattr(aiokafka, "AIOKafkaProducer", RecordedClient)
    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", RecordedClient)
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", RecordedClient)
    monkeypatch.setattr(traffic, "AIOKafkaProducer", RecordedClient)
    monkeypatch.setattr(sinks, "AIOKafkaProducer", RecordedClient)
    monkeypatch.setattr(highwater, "AIOKafkaConsumer", StopAtOnce)
    return RecordedClient.made


def options_of_every_client(
    settings: Settings, made: list[tuple[str, dict[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """Make each client ccpulse makes, as it makes it; the options each one got."""
    got: dict[str, dict[str, Any]] = {}

    def take(name: str) -> None:
        assert made, f"{name}: no client was made"
        got[name] = made.pop()[1]

    open_tickets = OpenTickets()
    clock = clock_of(settings)
    metrics = metrics_of(settings, CollectorRegistry(), open_tickets, clock)
    app = create_app(settings, metrics, open_tickets, rules_of(settings), clock)
    producer, consumer = app.producer, app.consumer
    assert isinstance(producer, Producer)
    assert isinstance(consumer, Consumer)
    producer._new_producer()
    take("faust producer")
    thread = consumer._thread
    thread._create_consumer(thread.thread_loop)
    take("faust consumer")
    with pytest.raises(Made):
        asyncio.run(highwater.fetched_highwaters(highwater._connection_options(thread), {}))
    take("table recovery consumer")

    asyncio.run(kafka.ensure_topics(settings.kafka, {}, exact_partitions=False))
    take("topic admin")
    asyncio.run(kafka.wait_for_broker(settings.kafka, 1.0, log=logging.getLogger("t")))
    take("broker wait")

    def answered(topics: frozenset[str]) -> None:
        raise Made

    with pytest.raises(Made):
        asyncio.run(kafka.watch_broker(settings.kafka, answered=answered, unanswered=print))
    take("broker watch")

    stop = asyncio.Event()
    stop.set()
    asyncio.run(traffic.run_traffic(settings, rate=1.0, time_scale=1.0, seed=1, stop=stop))
    take("demo traffic producer")

    async def replay() -> None:
        async with sinks.KafkaSink(settings.model_copy(update={"create_topics": False}), ["t"]):
            pass

    asyncio.run(replay())
    take("replay producer")
    made.clear()  # the replay's broker wait, made by ``wait_for_broker`` as above
    return got


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_client_gets_the_brokers_and_security_of_the_settings(
    case: str, pki: Pki, clients: list[tuple[str, dict[str, Any]]]
) -> None:
    settings = Settings(kafka=CASES[case](pki))
    protocol, mechanism, tls = EXPECTED[case]
    sasl_login = ("ccpulse", PASSWORD) if mechanism else (None, None)
    expected = {
        "bootstrap_servers": [f"{BROKER_NAME}:9093", "k2.test:9093"],
        "security_protocol": protocol,
        "sasl_mechanism": mechanism,
        "sasl_plain_username": sasl_login[0],
        "sasl_plain_password": sasl_login[1],
        "tls": tls,
    }
    got = options_of_every_client(settings, clients)
    assert len(got) == 8
    for client, options in got.items():
        assert security_of(options, pki) == expected, client


def constructions(path: Path) -> Iterator[tuple[str, str]]:
    """(what is made, the options it is made with) for each Kafka client made in ``path``."""
    kinds = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient", "App"}
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", None) or getattr(node.func, "id", "")
        if name in kinds:
            unpacked = [ast.unparse(kw.value) for kw in node.keywords if kw.arg is None]
            yield name, " ".join(unpacked)


def test_the_clients_above_are_every_kafka_client_ccpulse_makes() -> None:
    made = Counter(
        (path.relative_to(ROOT).as_posix(), name, options)
        for path in sorted((ROOT / "processor").rglob("*.py"))
        for name, options in constructions(path)
    )
    assert made == {
        ("processor/shell/app.py", "App", "faust_broker_options(settings.kafka)"): 1,
        # ``options`` come from ``client_options`` (probes) and from the Faust app's own
        # credentials (the table recovery consumer).
        ("processor/kafka.py", "AIOKafkaAdminClient", "client_options(kafka)"): 1,
        ("processor/kafka.py", "AIOKafkaAdminClient", "options"): 1,
        ("processor/shell/highwater.py", "AIOKafkaConsumer", "options"): 1,
        ("processor/demo/traffic.py", "AIOKafkaProducer", "client_options(settings.kafka)"): 1,
        (
            "processor/replay/sinks.py",
            "AIOKafkaProducer",
            "client_options(self.settings.kafka)",
        ): 1,
    }


def test_faust_hands_its_clients_back_what_security_options_decided(pki: Pki) -> None:
    for case, settings in CASES.items():
        kafka_settings = settings(pki)
        credentials = kafka.faust_broker_options(kafka_settings).get("broker_credentials")
        through_faust = dict(credentials_to_aiokafka_auth(credentials))
        direct = kafka.security_options(kafka_settings)
        assert security_of(through_faust, pki) == security_of(direct, pki), case


def test_plaintext_lists_every_broker_and_adds_no_credentials() -> None:
    kafka_settings = KafkaSettings(bootstrap_servers="k1:9092, k2:9093")
    assert kafka.client_options(kafka_settings) == {
        "bootstrap_servers": ["k1:9092", "k2:9093"],
        "security_protocol": "PLAINTEXT",
    }
    options = kafka.faust_broker_options(kafka_settings)
    assert options["broker"] == ["kafka://k1:9092", "kafka://k2:9093"]
    assert "broker_credentials" not in options
    assert faust.App("t", **options).conf.broker_credentials is None


def test_faust_heartbeats_three_times_per_session_timeout_at_most_every_3_s() -> None:
    short = kafka.faust_broker_options(KafkaSettings(session_timeout_s=6))
    assert (short["broker_session_timeout"], short["broker_heartbeat_interval"]) == (6, 2)
    long = kafka.faust_broker_options(KafkaSettings(session_timeout_s=45))
    assert long["broker_heartbeat_interval"] == 3


def test_faust_accepts_a_session_timeout_longer_than_its_default_request_timeout() -> None:
    options = kafka.faust_broker_options(KafkaSettings(session_timeout_s=120))
    assert options["broker_request_timeout"] >= 120
    conf = faust.App("t", **options).conf
    assert conf.broker_session_timeout <= conf.broker_request_timeout


def test_sasl_without_a_mechanism_means_plain() -> None:
    kafka_settings = KafkaSettings(
        security_protocol=SecurityProtocol.SASL_PLAINTEXT,
        sasl_username="svc",
        sasl_password=SecretStr("pw"),
    )
    assert kafka.client_options(kafka_settings)["sasl_mechanism"] == "PLAIN"
    credentials = kafka.faust_broker_options(kafka_settings)["broker_credentials"]
    assert credentials_to_aiokafka_auth(credentials)["sasl_mechanism"] == "PLAIN"


def test_sasl_without_a_password_is_refused_naming_the_missing_setting() -> None:
    kafka_settings = KafkaSettings(security_protocol=SecurityProtocol.SASL_SSL, sasl_username="svc")
    with pytest.raises(ValueError, match="sasl_password"):
        kafka.client_options(kafka_settings)
    with pytest.raises(ValueError, match="sasl_password"):
        kafka.faust_broker_options(kafka_settings)


def test_tls_without_a_ca_file_trusts_the_system_cas_and_still_checks_the_broker(
    pki: Pki,
) -> None:
    context = kafka.ssl_context(KafkaSettings(security_protocol=SecurityProtocol.SSL))
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        handshake(context, pki.broker_context())


def test_tls_refuses_a_broker_of_another_ca_or_another_name(pki: Pki) -> None:
    foreign = tls_settings(pki, security_protocol=SecurityProtocol.SSL)
    foreign = foreign.model_copy(update={"ssl_cafile": str(pki.stranger_ca)})
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        handshake(kafka.ssl_context(foreign), pki.broker_context())
    ours = kafka.ssl_context(tls_settings(pki, security_protocol=SecurityProtocol.SSL))
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        handshake(ours, pki.broker_context(), name="elsewhere.test")


def test_tls_without_a_client_certificate_shows_none(pki: Pki) -> None:
    settings = KafkaSettings(security_protocol=SecurityProtocol.SSL, ssl_cafile=str(pki.ca))
    assert handshake(kafka.ssl_context(settings), pki.broker_context()) == "no client certificate"


def test_a_missing_client_key_fails_at_configuration_time(pki: Pki, tmp_path: Path) -> None:
    kafka_settings = KafkaSettings(
        security_protocol=SecurityProtocol.SSL,
        ssl_certfile=str(pki.client_cert),
        ssl_keyfile=str(tmp_path / "absent.pem"),
    )
    with pytest.raises(OSError, match=r"No such file|absent\.pem"):
        kafka.client_options(kafka_settings)


def test_the_sasl_password_shows_in_no_repr_str_or_dump_of_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CCPULSE_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CCPULSE_KAFKA__SASL_USERNAME", "ccpulse")
    monkeypatch.setenv("CCPULSE_KAFKA__SASL_PASSWORD", PASSWORD)
    settings = Settings()
    assert settings.kafka.sasl_password is not None
    assert settings.kafka.sasl_password.get_secret_value() == PASSWORD
    credentials = kafka.faust_broker_options(settings.kafka)["broker_credentials"]
    shown = [
        repr(settings),
        str(settings),
        repr(settings.kafka),
        f"{settings.kafka}",
        settings.model_dump_json(),
        str(settings.model_dump()),
        repr(credentials),
        str(credentials),
    ]
    for text in shown:
        assert PASSWORD not in text
    assert "ccpulse" in repr(credentials)
