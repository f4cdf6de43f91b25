"""The ccpulse image, checked without a Docker engine: its user, its health check, and a
build context that holds what the Dockerfile copies and no local state."""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import PurePosixPath
from typing import Any

import pytest

from tests.unit.test_compose import ROOT, dockerfile_instructions, is_built, load_compose, workers


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def test_the_image_runs_as_an_unprivileged_user(compose: dict[str, Any]) -> None:
    instructions = dockerfile_instructions()
    users = [args for key, args in instructions if key == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    runs = " ".join(args for key, args in instructions if key == "RUN")
    assert re.search(rf"useradd [^&]*\b{re.escape(users[-1])}\b", runs)
    for name, service in compose["services"].items():
        if is_built(service):
            assert service.get("user", users[-1]) == users[-1], name


@pytest.fixture
def metrics_server() -> Iterator[int]:
    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/metrics" else 404)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


def healthcheck_argv() -> list[str]:
    (arguments,) = [args for key, args in dockerfile_instructions() if key == "HEALTHCHECK"]
    argv: list[str] = json.loads(arguments[arguments.index("CMD") + len("CMD") :])
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


def test_the_image_health_check_probes_the_metrics_port(metrics_server: int) -> None:
    def probe(port: int) -> int:
        env = {"CCPULSE_METRICS_PORT": str(port), "PATH": os.environ["PATH"]}
        return subprocess.run(healthcheck_argv(), env=env, timeout=30, check=False).returncode

    assert probe(metrics_server) == 0
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        assert probe(closed.getsockname()[1]) != 0


def test_services_serving_no_metrics_turn_the_image_health_check_off(
    compose: dict[str, Any],
) -> None:
    for name, service in compose["services"].items():
        if is_built(service) and name not in workers(compose):
            assert service["healthcheck"] == {"disable": True}, name


def glob_regex(glob: str) -> str:
    """A .dockerignore pattern as a regular expression (Go's filepath.Match plus ``**``)."""
    regex, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif glob[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif glob[i] == "?":
            regex, i = regex + "[^/]", i + 1
        elif glob[i] == "[" and "]" in glob[i:]:
            end = glob.index("]", i)
            regex, i = regex + "[" + glob[i + 1 : end].replace("!", "^", 1) + "]", end + 1
        else:
            regex, i = regex + re.escape(glob[i]), i + 1
    return regex


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the build context (the last match decides)."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = glob_regex(pattern.removeprefix("!").strip("/"))
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def test_the_build_context_holds_what_the_image_copies_and_no_local_state() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [
        source
        for key, args in dockerfile_instructions()
        if key == "COPY" and "--from" not in args
        for source in args.split()[:-1]
    ]
    assert copied
    for source in copied:
        files = [ROOT / source] if (ROOT / source).is_file() else (ROOT / source).rglob("*")
        for file in files:
            relative = file.relative_to(ROOT).as_posix()
            if file.is_file() and not fnmatch(relative, "*.py[co]"):
                assert not ignored(relative, patterns), relative
    for local in [
        ".venv/bin/python",
        ".git/HEAD",
        ".ccpulse/worker.log",
        ".env",
        "tests/unit/test_compose.py",
        "processor/__pycache__/cli.cpython-311.pyc",
        "processor/stale.pyc",
    ]:
        assert ignored(local, patterns), local
