"""The compose stack, checked the way Compose reads it, without a Docker engine.

``docker-compose.yml`` is interpolated as Compose does (``${VAR:-default}``, ``$$``), then
validated against the Compose Specification schema (tests/fixtures/compose). Everything
that ties the services together must agree with the code and with the files it names:
topics and partitions with ``processor.config``, mounted files with the repository,
Prometheus's scrape targets with the workers. The Dockerfile's user, health check and
build context are checked too. Nothing here starts a container.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from unittest import mock

import jsonschema  # type: ignore[import-untyped]  # no stubs installed (types-jsonschema)
import pytest
import yaml

from processor import cli
from processor.config import Settings
from processor.policies import load_policies
from processor.shell.worker import topics_to_create

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "tests" / "fixtures" / "compose" / "compose-spec.json"
DOCKERFILE = ROOT / "Dockerfile"
KAFKA_TOPICS = "/opt/kafka/bin/kafka-topics.sh"

# Compose's syntax: `$$` is a literal `$`; `${NAME}`, `${NAME:-default}`, `${NAME-default}`,
# `${NAME:?error}`, `${NAME?error}`, `${NAME:+other}`, `${NAME+other}` and bare `$NAME`.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.S)


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """``value`` with every variable replaced as Compose replaces it from ``env``.

    A variable with neither a value nor a default is an error rather than Compose's empty
    string with a warning: the stack must start from a fresh checkout with no ``.env``.
    """
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if isinstance(value, str):
        return _VARIABLE.sub(lambda match: _substitute(match, env), value)
    return value


def _substitute(match: re.Match[str], env: Mapping[str, str]) -> str:
    if match["escaped"]:
        return "$"
    if match["bare"]:
        return _lookup(match["bare"], env)
    braced = _BRACED.fullmatch(match["braced"])
    assert braced, f"not a Compose variable: {match[0]}"
    name, op, arg = braced["name"], braced["op"], braced["arg"]
    assert "$" not in (arg or ""), f"nested variables are not checked here: {match[0]}"
    value = env.get(name)
    is_set = value is not None and (value != "" or not (op or "").startswith(":"))
    if op in (":-", "-"):
        return value if is_set and value is not None else arg
    if op in (":?", "?"):
        assert is_set, f"{name}: {arg}"
        return str(value)
    if op in (":+", "+"):
        return arg if is_set else ""
    return _lookup(name, env)


def _lookup(name: str, env: Mapping[str, str]) -> str:
    assert name in env, f"${name} has no default in docker-compose.yml"
    return env[name]


def load_compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    loaded: dict[str, Any] = interpolate(raw, env or {})
    return loaded


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def test_the_interpolation_follows_compose() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET:-d} ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} $SET $$SET", env) == (
        "x d d  x $SET"
    )
    assert interpolate({"k": ["${SET:+y}", "${UNSET:+y}", 8]}, env) == {"k": ["y", "", 8]}
    with pytest.raises(AssertionError):
        interpolate("${UNSET}", env)


# --- reading services -----------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, arguments = stripped.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_exec_form(keyword: str) -> list[str]:
    """The last ``keyword`` instruction's JSON argument list (CMD, ENTRYPOINT)."""
    arguments = [args for key, args in dockerfile_instructions() if key == keyword][-1]
    parsed: list[str] = json.loads(arguments)
    return parsed


def is_built(service: Mapping[str, Any]) -> bool:
    return "build" in service


def command_of(service: Mapping[str, Any]) -> list[str]:
    command = service.get("command")
    if command is None:
        return dockerfile_exec_form("CMD") if is_built(service) else []
    return shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]


def workers(compose: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run ``ccpulse worker``."""
    return {
        name: service
        for name, service in compose["services"].items()
        if is_built(service) and command_of(service)[:1] == ["worker"]
    }


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """The container's environment as the strings the process sees."""
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: _env_string(value) for key, value in env.items()}


def _env_string(value: object) -> str:
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def settings_of(service: Mapping[str, Any]) -> Settings:
    with mock.patch.dict(os.environ, environment(service), clear=True):
        return Settings()


def published_ports(service: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of each published port (short syntax)."""
    published = []
    for port in service.get("ports", []):
        *address, host, container = str(port).split("/")[0].split(":")
        assert host, f"{port}: publish it on a fixed host port"
        published.append(("".join(address), int(host), int(container)))
    return published


def container_ports(service: Mapping[str, Any]) -> set[int]:
    exposed = {int(str(port).split("/")[0]) for port in service.get("expose", [])}
    return exposed | {target for _, _, target in published_ports(service)}


def volumes(service: Mapping[str, Any]) -> list[tuple[str, PurePosixPath, list[str]]]:
    """(source, container path, options) of each volume (short syntax)."""
    parsed = []
    for volume in service.get("volumes", []):
        assert isinstance(volume, str), f"{volume}: the checks read the short syntax"
        source, target, *options = volume.split(":")
        parsed.append((source, PurePosixPath(target), options))
    return parsed


def bind_mounts(service: Mapping[str, Any]) -> list[tuple[Path, PurePosixPath, bool]]:
    """(repository path, container path, read-only) of each bind mount."""
    return [
        (ROOT / source, target, "ro" in options)
        for source, target, options in volumes(service)
        if source.startswith((".", "/"))
    ]


def named_volumes(service: Mapping[str, Any]) -> dict[PurePosixPath, str]:
    """Container path -> named volume mounted there."""
    return {
        target: source
        for source, target, _ in volumes(service)
        if not source.startswith((".", "/"))
    }


def repo_path(service: Mapping[str, Any], container_path: str) -> Path | None:
    """The repository file a container sees at ``container_path``, if one is mounted there."""
    path = PurePosixPath(container_path)
    for source, target, _ in sorted(bind_mounts(service), key=lambda m: -len(m[1].parts)):
        if path == target or target in path.parents:
            return source.joinpath(*path.relative_to(target).parts).resolve()
    return None


def flag(service: Mapping[str, Any], name: str) -> str:
    values = [arg.split("=", 1)[1] for arg in command_of(service) if arg.startswith(f"{name}=")]
    assert len(values) == 1, f"{name}= given {len(values)} times"
    return values[0]


# --- the file as a whole --------------------------------------------------------------


def test_the_file_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(compose)
    ]
    assert errors == []


@pytest.mark.parametrize(
    ("service", "key", "value"),
    [
        ("kafka", "restart_policy", "always"),
        ("worker-1", "depends_on", {"topics": {"condition": "service_done"}}),
        ("kafka", "healthcheck", {"test": ["CMD", "true"], "interval": 10}),
    ],
)
def test_the_schema_rejects_what_compose_rejects(
    compose: dict[str, Any], service: str, key: str, value: object
) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    broken = json.loads(json.dumps(compose))
    broken["services"][service][key] = value
    errors = list(validator.iter_errors(broken))
    assert errors
    assert all(list(error.absolute_path)[:2] == ["services", service] for error in errors)


def test_every_named_volume_is_declared(compose: dict[str, Any]) -> None:
    used = {
        name for service in compose["services"].values() for name in named_volumes(service).values()
    }
    assert used
    assert used <= set(compose.get("volumes") or {})


EXACT_TAG = re.compile(r"^[a-z0-9][a-z0-9./_-]*:v?\d+\.\d+\.\d+(?:[-.+][A-Za-z0-9.-]+)?$")


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("grafana/grafana:11.6.3", True),
        ("prom/prometheus:v2.53.5", True),
        ("python:3.11.11-slim-bookworm", True),
        ("grafana/grafana:11", False),
        ("grafana/grafana:11.6", False),
        ("grafana/grafana:latest", False),
        ("grafana/grafana", False),
        ("python:3.11-slim", False),
    ],
)
def test_an_exact_version_is_three_numbers(image: str, pinned: bool) -> None:
    assert bool(EXACT_TAG.match(image)) is pinned


def test_every_image_is_pinned_to_an_exact_version(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert EXACT_TAG.match(service.get("image", "")), f"{name}: {service.get('image')}"
    base_images = [args.split()[0] for key, args in dockerfile_instructions() if key == "FROM"]
    assert base_images
    for image in base_images:
        assert EXACT_TAG.match(image), f"Dockerfile FROM {image}"


def test_built_images_carry_the_package_version(compose: dict[str, Any]) -> None:
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert version
    built = [service for service in compose["services"].values() if is_built(service)]
    assert built
    for service in built:
        assert service["image"] == f"ccpulse:{version[1]}"


def test_every_build_context_has_its_dockerfile(compose: dict[str, Any]) -> None:
    builds = [service["build"] for service in compose["services"].values() if is_built(service)]
    assert builds
    for build in builds:
        context, dockerfile = (
            (build, "Dockerfile")
            if isinstance(build, str)
            else (build.get("context", "."), build.get("dockerfile", "Dockerfile"))
        )
        assert (ROOT / context / dockerfile).is_file(), build


def test_every_mounted_repository_path_exists_and_is_read_only(compose: dict[str, Any]) -> None:
    mounts = [mount for service in compose["services"].values() for mount in bind_mounts(service)]
    assert mounts
    for source, target, read_only in mounts:
        assert source.exists(), f"{source.relative_to(ROOT)} (mounted at {target})"
        assert read_only, f"{target}: a container does not write into the repository"


def test_published_ports_are_distinct_and_local(compose: dict[str, Any]) -> None:
    published = [
        (address, port)
        for service in compose["services"].values()
        for address, port, _ in published_ports(service)
    ]
    ports = [port for _, port in published]
    assert len(ports) == len(set(ports)), ports
    assert {address for address, _ in published} == {"127.0.0.1"}


# --- Kafka and the topics -------------------------------------------------------------


def listeners(value: str) -> dict[str, tuple[str, int]]:
    parsed = {}
    for listener in value.split(","):
        name, address = listener.split("://")
        host, port = address.rsplit(":", 1)
        parsed[name] = (host, int(port))
    return parsed


def test_the_broker_is_a_kraft_node_with_an_internal_and_a_published_listener(
    compose: dict[str, Any],
) -> None:
    kafka = compose["services"]["kafka"]
    env = environment(kafka)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16
    bound = listeners(env["KAFKA_LISTENERS"])
    advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    assert advertised["INTERNAL"] == ("kafka", bound["INTERNAL"][1])
    assert advertised["EXTERNAL"] == ("localhost", bound["EXTERNAL"][1])
    assert (advertised["EXTERNAL"][1], bound["EXTERNAL"][1]) in {
        (host, target) for _, host, target in published_ports(kafka)
    }
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert (
        env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
        == f"{env['KAFKA_NODE_ID']}@kafka:{bound[controller][1]}"
    )
    assert "test" in kafka["healthcheck"]
    assert PurePosixPath(env["KAFKA_LOG_DIRS"]) in named_volumes(kafka)


def test_workers_share_one_group_and_use_the_internal_listener(compose: dict[str, Any]) -> None:
    found = workers(compose)
    assert len(found) >= 2
    internal = listeners(environment(compose["services"]["kafka"])["KAFKA_ADVERTISED_LISTENERS"])
    settings = {name: settings_of(service) for name, service in found.items()}
    assert len({s.app_id for s in settings.values()}) == 1
    for name, setting in settings.items():
        assert setting.kafka.bootstrap_servers == "{}:{}".format(*internal["INTERNAL"]), name
        assert setting.create_topics is False, name
        assert setting.metrics_host == "0.0.0.0", name
        assert setting.data_dir in found[name].get("tmpfs", []), name
        assert found[name]["restart"] in {"always", "unless-stopped", "on-failure"}, name


def test_each_worker_publishes_its_metrics_port(compose: dict[str, Any]) -> None:
    for name, service in workers(compose).items():
        targets = [target for _, _, target in published_ports(service)]
        assert targets == [settings_of(service).metrics_port], name


def run_topics_service(
    compose: Mapping[str, Any], tmp_path: Path, *, fail: bool = False
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """Run the topics service's script here, with a kafka-topics.sh that records its calls."""
    service = compose["services"]["topics"]
    script = command_of(service)
    assert any(KAFKA_TOPICS in arg for arg in script)
    calls = tmp_path / "calls"
    fake = tmp_path / "kafka-topics.sh"
    fake.write_text(
        '#!/bin/sh\nfor arg in "$@"; do printf "%s\\t" "$arg"; done >> "$CALLS"\n'
        f'echo >> "$CALLS"\nexit {1 if fail else 0}\n'
    )
    fake.chmod(0o755)
    env = {**environment(service), "CALLS": str(calls), "PATH": os.environ["PATH"]}
    argv = [*service["entrypoint"], *(arg.replace(KAFKA_TOPICS, str(fake)) for arg in script)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)
    lines = calls.read_text().splitlines() if calls.exists() else []
    return done, [line.rstrip("\t").split("\t") for line in lines]


def option(call: list[str], name: str) -> str:
    return call[call.index(name) + 1]


@pytest.mark.parametrize("env", [{}, {"CCPULSE_PARTITIONS": "12"}])
def test_the_topics_service_creates_the_workers_topics_with_their_partitions(
    env: dict[str, str], tmp_path: Path
) -> None:
    compose = load_compose(env)
    done, calls = run_topics_service(compose, tmp_path)
    assert done.returncode == 0, done.stderr
    for call in calls:
        assert {"--create", "--if-not-exists"} <= set(call)
        assert option(call, "--replication-factor") == "1"
    created = {option(call, "--topic"): int(option(call, "--partitions")) for call in calls}
    assert len(created) == len(calls)
    for name, service in workers(compose).items():
        settings = settings_of(service)
        assert created == topics_to_create(settings), name
        assert {option(call, "--bootstrap-server") for call in calls} == {
            settings.kafka.bootstrap_servers
        }
    if env:
        assert set(created.values()) == {int(env["CCPULSE_PARTITIONS"])}


def test_a_failed_topic_creation_fails_the_topics_service(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    done, calls = run_topics_service(compose, tmp_path, fail=True)
    assert done.returncode != 0
    assert len(calls) == 1


def test_ccpulse_services_start_only_once_the_topics_exist(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["topics"].get("restart", "no") == "no"
    built = {name: service for name, service in services.items() if is_built(service)}
    assert set(workers(compose)) < set(built)
    for name, service in built.items():
        condition = service["depends_on"]["topics"]["condition"]
        assert condition == "service_completed_successfully", name


def test_every_ccpulse_command_parses_with_the_cli(
    compose: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    built = {name: service for name, service in compose["services"].items() if is_built(service)}
    assert {command_of(service)[0] for service in built.values()} == {"worker", "traffic"}
    for name, service in built.items():
        # --help after the arguments: argparse checks them, then exits before running.
        with pytest.raises(SystemExit) as exit_:
            cli.main([*command_of(service), "--help"])
        assert exit_.value.code == 0, (name, capsys.readouterr().err)


def test_the_load_generator_is_an_opt_in_profile(compose: dict[str, Any]) -> None:
    loadgen = compose["services"]["loadgen"]
    assert loadgen["profiles"] == ["load"]
    command = command_of(loadgen)
    assert command[0] == "traffic"
    assert float(command[command.index("--rate") + 1]) > 0
    assert settings_of(loadgen).kafka.bootstrap_servers == "kafka:19092"
    assert settings_of(loadgen).create_topics is False
    assert "profiles" not in compose["services"]["worker-1"]


# --- files the services read ----------------------------------------------------------


def test_the_workers_sla_policy_file_is_a_mounted_valid_policy_file(
    compose: dict[str, Any],
) -> None:
    for name, service in workers(compose).items():
        policy_file = settings_of(service).sla.policy_file
        assert policy_file, name
        mounted = repo_path(service, policy_file)
        assert mounted == ROOT / "deploy" / "sla-policies.yaml", name
        assert load_policies(mounted).policy_for("email", "high", None) is not None


def test_prometheus_reads_the_repository_config_and_its_rules(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    config_file = repo_path(prometheus, flag(prometheus, "--config.file"))
    assert config_file == ROOT / "deploy" / "prometheus" / "prometheus.yml"
    config = yaml.safe_load(config_file.read_text())
    assert config["rule_files"]
    for pattern in config["rule_files"]:
        assert not Path(pattern).is_absolute(), pattern
        assert list(config_file.parent.glob(pattern)), pattern


def test_alertmanager_reads_the_repository_config(compose: dict[str, Any]) -> None:
    alertmanager = compose["services"]["alertmanager"]
    config_file = repo_path(alertmanager, flag(alertmanager, "--config.file"))
    assert config_file == ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
    assert yaml.safe_load(config_file.read_text())["route"]


def test_grafana_finds_its_provisioning_and_the_dashboards(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    provisioning = repo_path(grafana, "/etc/grafana/provisioning")
    assert provisioning == ROOT / "deploy" / "grafana" / "provisioning"
    providers = [
        provider
        for file in sorted((provisioning / "dashboards").glob("*.y*ml"))
        for provider in yaml.safe_load(file.read_text())["providers"]
    ]
    assert providers
    for provider in providers:
        dashboards = repo_path(grafana, provider["options"]["path"])
        assert dashboards is not None, provider["options"]["path"]
        assert list(dashboards.glob("*.json")), dashboards
    sources = [
        source
        for file in sorted((provisioning / "datasources").glob("*.y*ml"))
        for source in yaml.safe_load(file.read_text())["datasources"]
    ]
    assert sources
    for source in sources:
        url = re.fullmatch(r"https?://(?P<host>[^:/]+):(?P<port>\d+)/?", source["url"])
        assert url, source["url"]
        assert int(url["port"]) in container_ports(compose["services"][url["host"]]), url[0]


def scrape_targets(job: Mapping[str, Any]) -> list[str]:
    return [target for config in job["static_configs"] for target in config["targets"]]


def test_prometheus_scrapes_exactly_the_workers_at_their_metrics_port(
    compose: dict[str, Any],
) -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "ccpulse"]
    targets = scrape_targets(job)
    expected = [
        f"{name}:{settings_of(service).metrics_port}" for name, service in workers(compose).items()
    ]
    assert sorted(targets) == sorted(expected)
    for alertmanagers in config["alerting"]["alertmanagers"]:
        for target in scrape_targets(alertmanagers):
            host, port = target.rsplit(":", 1)
            assert int(port) in container_ports(compose["services"][host]), target
