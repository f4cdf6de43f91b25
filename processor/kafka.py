"""Kafka client plumbing shared by the worker, the demo and the tests.

Turns ``KafkaSettings`` into the keyword arguments of aiokafka clients and of
``faust.App`` (one mapping of security settings for both, so they cannot drift apart),
creates the topics ccpulse needs with explicit partition counts, and waits for a broker
to come up.

It deliberately does not change existing topics: a topic with another partition count is
an error to resolve by hand, never something to "fix" by adding partitions (that would
move keys between partitions and split table state).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Collection, Mapping
from typing import Any

import faust
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context

from processor.config import KafkaSettings, SaslMechanism, SecurityProtocol

_SSL_PROTOCOLS = {SecurityProtocol.SSL, SecurityProtocol.SASL_SSL}
_SASL_PROTOCOLS = {SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL}
# Faust's defaults; the heartbeat must also stay well inside the session timeout.
_MAX_HEARTBEAT_INTERVAL_S = 3.0
_MIN_REQUEST_TIMEOUT_S = 90.0
_MAX_REPLICATION_FACTOR = 3
_NO_ERROR = 0


class TopicMismatchError(RuntimeError):
    """An existing topic does not have the partition count ccpulse needs."""


def bootstrap_list(kafka: KafkaSettings) -> list[str]:
    return [server.strip() for server in kafka.bootstrap_servers.split(",") if server.strip()]


def client_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_list(kafka),
        "security_protocol": kafka.security_protocol.value,
    }
    if kafka.security_protocol in _SSL_PROTOCOLS:
        options["ssl_context"] = ssl_context(kafka)
    if kafka.security_protocol in _SASL_PROTOCOLS:
        username, password = _sasl_login(kafka)
        options["sasl_mechanism"] = _sasl_mechanism(kafka).value
        options["sasl_plain_username"] = username
        options["sasl_plain_password"] = password
    return options


def faust_broker_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for ``faust.App``: brokers, credentials and group timeouts."""
    session_timeout = kafka.session_timeout_s
    options: dict[str, Any] = {
        "broker": [f"kafka://{server}" for server in bootstrap_list(kafka)],
        "broker_session_timeout": session_timeout,
        # A third of the session timeout lets two heartbeats go missing before the
        # broker evicts the member.
        "broker_heartbeat_interval": min(_MAX_HEARTBEAT_INTERVAL_S, session_timeout / 3),
        # Faust refuses a session timeout longer than the request timeout.
        "broker_request_timeout": max(_MIN_REQUEST_TIMEOUT_S, session_timeout),
    }
    credentials = faust_credentials(kafka)
    if credentials is not None:
        options["broker_credentials"] = credentials
    return options


def faust_credentials(kafka: KafkaSettings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    protocol = kafka.security_protocol
    if protocol in _SASL_PROTOCOLS:
        username, password = _sasl_login(kafka)
        return faust.SASLCredentials(
            username=username,
            password=password,
            mechanism=_sasl_mechanism(kafka).value,
            # Faust derives SASL_SSL from the presence of a context.
            ssl_context=ssl_context(kafka) if protocol in _SSL_PROTOCOLS else None,
        )
    if protocol is SecurityProtocol.SSL:
        return faust.SSLCredentials(ssl_context(kafka))
    return None


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext:
    """Verifies the broker (system CAs unless ``ssl_cafile``); a client cert if given."""
    context: ssl.SSLContext = create_ssl_context(
        cafile=kafka.ssl_cafile, certfile=kafka.ssl_certfile, keyfile=kafka.ssl_keyfile
    )
    return context


def _sasl_mechanism(kafka: KafkaSettings) -> SaslMechanism:
    return kafka.sasl_mechanism or SaslMechanism.PLAIN


def _sasl_login(kafka: KafkaSettings) -> tuple[str, str]:
    if kafka.sasl_username is None or kafka.sasl_password is None:
        raise ValueError(
            f"security_protocol {kafka.security_protocol.value} needs sasl_username "
            "and sasl_password"
        )
    return kafka.sasl_username, kafka.sasl_password.get_secret_value()


async def ensure_topics(
    kafka: KafkaSettings,
    topics: Mapping[str, int],
    *,
    compacted: Collection[str] = (),
    exact_partitions: bool = True,
) -> None:
    """Create the missing ``topics`` (name -> partitions); existing ones must match.

    Replication is ``min(3, brokers in the cluster)``. Topics in ``compacted`` get
    ``cleanup.policy=compact`` when created. Raises ``TopicMismatchError`` naming every
    existing topic whose partition count differs, unless ``exact_partitions`` is false
    (for topics that any partition count suits).
    """
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        existing = await _partition_counts(admin, list(topics))
        missing = {name: n for name, n in topics.items() if name not in existing}
        if missing:
            await _create(admin, missing, compacted)
            existing = await _partition_counts(admin, list(topics))
    finally:
        await admin.close()
    if exact_partitions:
        _check_partitions(topics, existing)


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    present = set(await admin.list_topics())
    wanted = [name for name in names if name in present]
    if not wanted:
        return {}
    described = await admin.describe_topics(wanted)
    return {topic["topic"]: len(topic["partitions"]) for topic in described}


async def _create(
    admin: AIOKafkaAdminClient, topics: Mapping[str, int], compacted: Collection[str]
) -> None:
    brokers = len((await admin.describe_cluster())["brokers"])
    replication = max(1, min(_MAX_REPLICATION_FACTOR, brokers))
    new_topics = [
        NewTopic(
            name,
            partitions,
            replication,
            topic_configs={"cleanup.policy": "compact"} if name in compacted else None,
        )
        for name, partitions in topics.items()
    ]
    response = await admin.create_topics(new_topics)
    for topic, code, *message in response.topic_errors:
        # Another process may have created it meanwhile; the partition check still runs.
        if code not in (_NO_ERROR, TopicAlreadyExistsError.errno):
            raise for_code(code)(f"cannot create topic {topic!r}: {message}")


def _check_partitions(wanted: Mapping[str, int], existing: Mapping[str, int]) -> None:
    problems = [
        f"{name!r} has {existing.get(name, 0)} partitions, ccpulse needs {count}"
        for name, count in wanted.items()
        if existing.get(name) != count
    ]
    if problems:
        raise TopicMismatchError(
            "topics do not match: " + "; ".join(problems) + " (recreate them or "
            "configure the partition count they have)"
        )


async def wait_for_broker(kafka: KafkaSettings, timeout_s: float, *, log: logging.Logger) -> None:
    """Return once the cluster answers a metadata request; retry with capped backoff.

    Raises ``TimeoutError`` after ``timeout_s`` with the last error seen.
    """
    options = client_options(kafka)  # a configuration error must not be retried
    deadline = time.monotonic() + timeout_s
    delay = 0.25
    while True:
        remaining = deadline - time.monotonic()
        try:
            await asyncio.wait_for(_probe(options), timeout=max(remaining, 0.1))
            return
        except Exception as error:  # any failure means "not reachable yet"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"Kafka at {kafka.bootstrap_servers} not reachable after {timeout_s:g} s: "
                    f"{error!r}"
                ) from error
            delay = min(delay * 2, 10.0, remaining)
            log.warning(
                "Kafka at %s not reachable yet (%r); retrying in %.1f s",
                kafka.bootstrap_servers,
                error,
                delay,
            )
            await asyncio.sleep(delay)


async def _probe(options: Mapping[str, Any]) -> None:
    admin = AIOKafkaAdminClient(**options, request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.describe_cluster()
    finally:
        await admin.close()
