"""Kafka client plumbing shared by the worker, the demo and the tests.

Turns ``KafkaSettings`` into the keyword arguments of aiokafka clients and of
``faust.App``: ``security_options`` is the one place that decides a client's protocol, TLS
context and SASL login, and every client ccpulse makes (Faust's, the admin clients, the
demo's and the replay's producers) takes them from it, so they cannot drift apart. Once
it has run, aiokafka's and Faust's log records show no message keys or values and no wire
request or response (at DEBUG both log every message sent, aiokafka every request too,
and a SASL PLAIN request carries the password).

It also creates the topics ccpulse needs with explicit partition counts, waits for a
broker to come up, and probes it while the worker runs (a metadata request with a short
timeout, backing off while it fails). ``install_fetcher_close_fix`` lets a consumer stop
while its broker is away (aiokafka's fetcher otherwise aborts its own close, and Faust
then waits forever for the consumer thread).

It deliberately does not change existing topics: a topic with another partition count is
an error to resolve by hand, never something to "fix" by adding partitions (that would
move keys between partitions and split table state). The log redaction hides bytes and
protocol structs only: topic names, broker addresses and the SASL user name still show.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import faust
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context
from aiokafka.protocol.struct import Struct

from processor.config import KafkaSettings, SaslMechanism, SecurityProtocol

_SSL_PROTOCOLS = {SecurityProtocol.SSL, SecurityProtocol.SASL_SSL}
_SASL_PROTOCOLS = {SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL}
# Faust's defaults; the heartbeat must also stay well inside the session timeout.
_MAX_HEARTBEAT_INTERVAL_S = 3.0
_MIN_REQUEST_TIMEOUT_S = 90.0
_MAX_REPLICATION_FACTOR = 3
_NO_ERROR = 0
_FIRST_RETRY_S = 0.5
_MAX_RETRY_S = 10.0
PROBE_TIMEOUT_S = 5.0
"""How long a probe of the cluster may take before the broker counts as unreachable."""
WATCH_INTERVAL_S = 2.0
"""Between two probes of a cluster that answers."""


class TopicMismatchError(RuntimeError):
    """An existing topic does not have the partition count ccpulse needs."""


def bootstrap_list(kafka: KafkaSettings) -> list[str]:
    return [server.strip() for server in kafka.bootstrap_servers.split(",") if server.strip()]


def security_options(kafka: KafkaSettings) -> dict[str, Any]:
    """The security keyword arguments of an aiokafka client: protocol, TLS, SASL login."""
    redact_client_logs()  # before any client made with these options can log
    options: dict[str, Any] = {"security_protocol": kafka.security_protocol.value}
    if kafka.security_protocol in _SSL_PROTOCOLS:
        options["ssl_context"] = ssl_context(kafka)
    if kafka.security_protocol in _SASL_PROTOCOLS:
        username, password = _sasl_login(kafka)
        options["sasl_mechanism"] = _sasl_mechanism(kafka).value
        options["sasl_plain_username"] = username
        options["sasl_plain_password"] = password
    return options


def client_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
    return {"bootstrap_servers": bootstrap_list(kafka), **security_options(kafka)}


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
    """``security_options`` as Faust's credentials, which Faust turns back into the same."""
    security = security_options(kafka)
    if "sasl_mechanism" in security:
        return faust.SASLCredentials(
            username=security["sasl_plain_username"],
            password=security["sasl_plain_password"],
            mechanism=security["sasl_mechanism"],
            # Faust derives SASL_SSL from the presence of a context.
            ssl_context=security.get("ssl_context"),
        )
    if "ssl_context" in security:
        return faust.SSLCredentials(security["ssl_context"])
    return None


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext:
    """Verifies the broker (system CAs unless ``ssl_cafile``); a client cert if given."""
    context: ssl.SSLContext = create_ssl_context(
        cafile=kafka.ssl_cafile, certfile=kafka.ssl_certfile, keyfile=kafka.ssl_keyfile
    )
    return context


class _ClientLogRedaction(logging.Filter):
    """Replaces the bytes (keys, values, record batches) and protocol structs (whole
    requests and responses) in a client's log records by their size or type name."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(map(_carries_data, record.args)):
            record.args = tuple(_redacted(arg) for arg in record.args)
        return True


def _carries_data(value: object) -> bool:
    return isinstance(value, bytes | bytearray | memoryview | Struct)


def _redacted(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, Struct):
        return f"{type(value).__name__}(...)"
    return value


_REDACTION = _ClientLogRedaction()
# A logger's filters do not apply to its children's records: each logger gets it. These
# are the ones that log message data or whole requests; any other one already made is
# covered too.
_CLIENT_LOGGERS = (
    *("aiokafka", "aiokafka.conn", "aiokafka.client", "aiokafka.admin.client"),
    *("aiokafka.producer.producer", "aiokafka.producer.sender"),
    *("aiokafka.consumer.consumer", "aiokafka.consumer.fetcher"),
    *("aiokafka.consumer.group_coordinator", "faust.topics", "faust.transport.producer"),
    *("faust.transport.consumer", "faust.transport.drivers.aiokafka"),
)
_CLIENT_LIBRARIES = ("aiokafka.", "faust.")


def redact_client_logs() -> None:
    """Keep message data and wire dumps out of aiokafka's and Faust's log records
    (idempotent)."""
    made = [name for name in logging.root.manager.loggerDict if name.startswith(_CLIENT_LIBRARIES)]
    for name in {*_CLIENT_LOGGERS, *made}:
        logger = logging.getLogger(name)
        if _REDACTION not in logger.filters:
            logger.addFilter(_REDACTION)


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


def retry_delays(first_s: float = _FIRST_RETRY_S, cap_s: float = _MAX_RETRY_S) -> Iterator[float]:
    """Exponential backoff: ``first_s``, doubling up to ``cap_s`` (0.5, 1, 2, 4, 8, 10, 10...)."""
    delay = first_s
    while True:
        yield delay
        delay = min(delay * 2, cap_s)


def describe_error(error: BaseException) -> str:
    """A one-line reason for a failed probe (a timeout carries no message of its own)."""
    if isinstance(error, TimeoutError):
        return "no answer in time"
    if isinstance(error, KafkaConnectionError):  # its text lists every address tried
        return "connection failed"
    text, name = str(error), type(error).__name__
    if not text or text.startswith(name):  # aiokafka's errors name themselves
        return text or name
    return f"{name}: {text}"


async def cluster_topics(
    options: Mapping[str, Any], timeout_s: float = PROBE_TIMEOUT_S
) -> frozenset[str]:
    """The topic names the cluster reports; raises whatever keeps it from answering.

    A fresh client every time: after an outage the cluster may come back elsewhere, and a
    client holding stale connections and metadata is what a probe must not depend on.
    """

    async def ask() -> frozenset[str]:
        admin = AIOKafkaAdminClient(**options, request_timeout_ms=int(timeout_s * 1000))
        try:
            await admin.start()
            return frozenset(await admin.list_topics())
        finally:
            await admin.close()

    return await asyncio.wait_for(ask(), timeout=timeout_s)


async def wait_for_broker(kafka: KafkaSettings, timeout_s: float, *, log: logging.Logger) -> None:
    """Return once the cluster answers a metadata request; retry with capped backoff.

    Logs one line when the first attempt fails, not one per retry. Raises ``TimeoutError``
    after ``timeout_s`` with the last error seen.
    """
    options = client_options(kafka)  # a configuration error must not be retried
    deadline = time.monotonic() + timeout_s
    delays = retry_delays()
    waiting = False
    while True:
        remaining = deadline - time.monotonic()
        try:
            await cluster_topics(options, timeout_s=max(min(remaining, PROBE_TIMEOUT_S), 0.1))
            return
        except Exception as error:  # any failure means "not reachable yet"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"Kafka at {kafka.bootstrap_servers} not reachable after {timeout_s:g} s: "
                    f"{describe_error(error)}"
                ) from error
            if not waiting:
                waiting = True
                log.warning(
                    "waiting for the Kafka broker at %s (%s); retrying for up to %g s",
                    kafka.bootstrap_servers,
                    describe_error(error),
                    timeout_s,
                )
            await asyncio.sleep(min(next(delays), remaining))


async def watch_broker(
    kafka: KafkaSettings,
    *,
    answered: Callable[[frozenset[str]], None],
    unanswered: Callable[[str], None],
    interval_s: float = WATCH_INTERVAL_S,
) -> None:
    """Probe the cluster until cancelled and report every result.

    ``answered`` gets the topic names, ``unanswered`` the reason. Probes run every
    ``interval_s`` while the cluster answers and back off (``retry_delays``) while it does
    not, so an outage costs a connection attempt every few seconds, not a busy loop.
    """
    options = client_options(kafka)
    delays = retry_delays()
    while True:
        try:
            topics = await cluster_topics(options)
        except Exception as error:  # any failure means "not reachable"
            unanswered(describe_error(error))
            delay = next(delays)
        else:
            answered(topics)
            delays = retry_delays()
            delay = interval_s
        await asyncio.sleep(delay)


_FIXED = "__ccpulse_fetcher_close_fix__"


def install_fetcher_close_fix() -> None:
    """Make aiokafka's ``Fetcher.close()`` finish when fetches are retrying (idempotent).

    A fetch that failed for want of a broker sleeps before its retry; ``close()`` cancels
    it there and awaits it, and the ``CancelledError`` it gets back ends ``close()``
    itself: the consumer never finishes stopping, nor does a Faust worker asked to stop
    during an outage. Cancelling and reaping those fetches first leaves ``close()``
    nothing to trip on.
    """
    original = Fetcher.close
    if getattr(original, _FIXED, False):
        return

    @functools.wraps(original)
    async def close(fetcher: Fetcher) -> None:
        fetcher._closed = True  # no new fetches from here on
        fetcher._fetch_task.cancel()
        pending = list(fetcher._pending_tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        fetcher._pending_tasks.difference_update(pending)
        await original(fetcher)

    setattr(close, _FIXED, True)
    setattr(Fetcher, "close", close)  # noqa: B010 - patching a method
