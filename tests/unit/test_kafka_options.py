"""Kafka settings become the same brokers and security for aiokafka clients and for Faust."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr

from processor.config import KafkaSettings, SaslMechanism, SecurityProtocol
from processor.kafka import client_options, faust_broker_options

SECURITY_KEYS = ("security_protocol", "sasl_mechanism", "sasl_plain_username")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and its key, usable as CA bundle and client cert."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=ccpulse-test-ca"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def faust_security(kafka: KafkaSettings) -> dict[str, Any]:
    """What Faust hands its own aiokafka clients for these settings."""
    credentials = faust_broker_options(kafka).get("broker_credentials")
    return dict(credentials_to_aiokafka_auth(credentials))


def test_plaintext_lists_every_broker_and_adds_no_credentials() -> None:
    kafka = KafkaSettings(bootstrap_servers="k1:9092, k2:9093")
    assert client_options(kafka) == {
        "bootstrap_servers": ["k1:9092", "k2:9093"],
        "security_protocol": "PLAINTEXT",
    }
    options = faust_broker_options(kafka)
    assert options["broker"] == ["kafka://k1:9092", "kafka://k2:9093"]
    assert "broker_credentials" not in options
    assert faust.App("t", **options).conf.broker_credentials is None


def test_faust_heartbeats_three_times_per_session_timeout_at_most_every_3_s() -> None:
    short = faust_broker_options(KafkaSettings(session_timeout_s=6))
    assert (short["broker_session_timeout"], short["broker_heartbeat_interval"]) == (6, 2)
    long = faust_broker_options(KafkaSettings(session_timeout_s=45))
    assert long["broker_heartbeat_interval"] == 3


def test_faust_accepts_a_session_timeout_longer_than_its_default_request_timeout() -> None:
    options = faust_broker_options(KafkaSettings(session_timeout_s=120))
    assert options["broker_request_timeout"] >= 120
    conf = faust.App("t", **options).conf
    assert conf.broker_session_timeout <= conf.broker_request_timeout


def test_sasl_plain_sends_the_login_without_tls() -> None:
    kafka = KafkaSettings(
        security_protocol=SecurityProtocol.SASL_PLAINTEXT,
        sasl_mechanism=SaslMechanism.PLAIN,
        sasl_username="svc",
        sasl_password=SecretStr("pw"),
    )
    options = client_options(kafka)
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == "PLAIN"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("svc", "pw")
    assert "ssl_context" not in options
    assert faust_security(kafka) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "svc",
        "sasl_plain_password": "pw",
        "ssl_context": None,
    }


def test_sasl_without_a_mechanism_means_plain() -> None:
    kafka = KafkaSettings(
        security_protocol=SecurityProtocol.SASL_PLAINTEXT,
        sasl_username="svc",
        sasl_password=SecretStr("pw"),
    )
    assert client_options(kafka)["sasl_mechanism"] == "PLAIN"
    assert faust_security(kafka)["sasl_mechanism"] == "PLAIN"


def test_scram_over_tls_verifies_the_broker_with_the_given_ca(
    certificate: tuple[Path, Path],
) -> None:
    cafile, _ = certificate
    kafka = KafkaSettings(
        security_protocol=SecurityProtocol.SASL_SSL,
        sasl_mechanism=SaslMechanism.SCRAM_SHA_512,
        sasl_username="svc",
        sasl_password=SecretStr("pw"),
        ssl_cafile=str(cafile),
    )
    for options in (client_options(kafka), faust_security(kafka)):
        assert options["security_protocol"] == "SASL_SSL"
        assert options["sasl_mechanism"] == "SCRAM-SHA-512"
        assert options["sasl_plain_username"] == "svc"
        assert_verifies_with(options["ssl_context"], "ccpulse-test-ca")


def test_sasl_without_a_password_is_refused_naming_the_missing_setting() -> None:
    kafka = KafkaSettings(security_protocol=SecurityProtocol.SASL_SSL, sasl_username="svc")
    with pytest.raises(ValueError, match="sasl_password"):
        client_options(kafka)
    with pytest.raises(ValueError, match="sasl_password"):
        faust_broker_options(kafka)


def test_ssl_with_client_certificate_maps_to_faust_ssl_credentials(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    kafka = KafkaSettings(
        security_protocol=SecurityProtocol.SSL,
        ssl_cafile=str(cert),
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
    )
    options = client_options(kafka)
    assert options["security_protocol"] == "SSL"
    assert not any(key in options for key in SECURITY_KEYS[1:])
    assert_verifies_with(options["ssl_context"], "ccpulse-test-ca")
    credentials = faust_broker_options(kafka)["broker_credentials"]
    assert isinstance(credentials, faust.SSLCredentials)
    assert faust_security(kafka)["security_protocol"] == "SSL"
    assert_verifies_with(credentials.context, "ccpulse-test-ca")


def test_a_missing_client_key_fails_at_configuration_time(
    certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, _ = certificate
    kafka = KafkaSettings(
        security_protocol=SecurityProtocol.SSL,
        ssl_certfile=str(cert),
        ssl_keyfile=str(tmp_path / "absent.pem"),
    )
    with pytest.raises(OSError, match=r"No such file|absent\.pem"):
        client_options(kafka)


def assert_verifies_with(context: ssl.SSLContext, ca_common_name: str) -> None:
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    subjects = [str(ca["subject"]) for ca in context.get_ca_certs()]
    assert any(f"('commonName', '{ca_common_name}')" in subject for subject in subjects)
