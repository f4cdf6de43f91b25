"""The worker's HTTP endpoint: /metrics, /healthz and /readyz on one port.

``serve`` starts a threaded HTTP server on a daemon thread. /metrics is prometheus_client's
own handler on the worker's registry (content negotiation, gzip, ``name[]`` filters);
/healthz (liveness) and /readyz (readiness) answer 200 or 503 with a one-line plain-text
reason taken from a ``HealthBoard``. Any other path is 404.

It deliberately serves nothing else (no TLS, no authentication, no Faust web views):
bind it to a private address, as the compose stack and the image do.
"""

from __future__ import annotations

import socket
import threading
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import urlparse

from prometheus_client import CollectorRegistry, MetricsHandler

from processor.shell.health import HealthBoard, Verdict

METRICS, LIVENESS, READINESS = "/metrics", "/healthz", "/readyz"


class _Handler(MetricsHandler):
    board: ClassVar[HealthBoard]

    def do_GET(self) -> None:  # noqa: N802 - http.server calls it by that name
        path = urlparse(self.path).path
        if path == METRICS:
            super().do_GET()
        elif path == LIVENESS:
            self._answer(self.board.liveness())
        elif path == READINESS:
            self._answer(self.board.readiness())
        else:
            self._reply(HTTPStatus.NOT_FOUND, f"no such endpoint: {path}")

    def _answer(self, verdict: Verdict) -> None:
        status = HTTPStatus.OK if verdict.ok else HTTPStatus.SERVICE_UNAVAILABLE
        self._reply(status, verdict.reason)

    def _reply(self, status: HTTPStatus, text: str) -> None:
        body = f"{text}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def serve(host: str, port: int, registry: CollectorRegistry, board: HealthBoard) -> _Server:
    """Serve on ``host:port`` (0: a free port, see ``server_port``) until the process ends."""
    handler = type("Handler", (_Handler,), {"registry": registry, "board": board})
    family, address = _best_family(host, port)
    server_class = type("Server", (_Server,), {"address_family": family})
    server: _Server = server_class((address, port), handler)
    threading.Thread(target=server.serve_forever, name="ccpulse-http", daemon=True).start()
    return server


def _best_family(host: str, port: int) -> tuple[socket.AddressFamily, str]:
    # An IPv6 bind address needs an IPv6 socket; HTTPServer would default to IPv4.
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return family, str(address[0])
