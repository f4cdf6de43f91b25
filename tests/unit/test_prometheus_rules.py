"""The Prometheus rules, their promtool unit tests, the runbook and the Alertmanager routes.

promtool (Debian's ``prometheus`` package) validates the configuration and the rule files
and runs the rule unit tests in ``deploy/prometheus/tests``. The rest is read as YAML and
Markdown: every alert is documented, linked to its runbook section, unit-tested before
and after its ``for:``, and routed by its severity; every recording rule is unit-tested
and named ``level:metric:operation``. Nothing here starts Prometheus.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
CONFIG = PROMETHEUS / "prometheus.yml"
RECORDING = PROMETHEUS / "rules" / "recording.yml"
ALERTS = PROMETHEUS / "rules" / "alerts.yml"
TESTS = sorted((PROMETHEUS / "tests").glob("*_test.yml"))
RUNBOOK = ROOT / "deploy" / "RUNBOOK.md"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
RUNBOOK_URL = "https://github.com/ccpulse/ccpulse/blob/main/deploy/RUNBOOK.md#"

# `:` alone is a level too: a ratio over everything (`:ccpulse_call_service_level:ratio_15m`).
RECORD_NAME = re.compile(
    r"[a-z][a-z_]*:ccpulse_[a-z0-9_]+:[a-z0-9_]+|:ccpulse_[a-z0-9_]+:[a-z0-9_]+"
)
ALERT_NAME = re.compile(r"Ccpulse[A-Z][A-Za-z]+")
DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
UNITS_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
MATCHER = re.compile(r'\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')
PENDING = re.compile(r'ALERTS\{alertname="(\w+)",alertstate="pending"\}')


def promtool(*args: str, cwd: Path) -> None:
    executable = shutil.which("promtool")
    if executable is None:
        pytest.fail(
            "promtool is not on the PATH: install Debian's `prometheus` package "
            "(apt install prometheus), which ships it"
        )
    result = subprocess.run(
        [executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, (
        f"promtool {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
    )


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def promtool_cases() -> Iterator[dict[str, Any]]:
    for path in TESTS:
        yield from load(path)["tests"]


def rules(path: Path) -> Iterator[dict[str, Any]]:
    for group in load(path)["groups"]:
        yield from group["rules"]


def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules(ALERTS)}


def records() -> list[str]:
    return [rule["record"] for rule in rules(RECORDING)]


def seconds(duration: str) -> float:
    parts = DURATION_PART.findall(duration)
    assert parts, f"not a duration: {duration!r}"
    assert "".join(n + unit for n, unit in parts) == duration, f"not a duration: {duration!r}"
    return sum(int(n) * UNITS_S[unit] for n, unit in parts)


def runbook_sections() -> list[str]:
    return re.findall(r"^## (Ccpulse\w*)\s*$", RUNBOOK.read_text(), flags=re.MULTILINE)


def test_prometheus_config_is_valid_and_its_rule_files_are_the_rules() -> None:
    promtool("check", "config", CONFIG.name, cwd=PROMETHEUS)
    patterns = load(CONFIG)["rule_files"]
    loaded = {path for pattern in patterns for path in CONFIG.parent.glob(pattern)}
    assert loaded == {RECORDING, ALERTS}


def test_prometheus_config_scrapes_the_workers_and_notifies_alertmanager() -> None:
    config = load(CONFIG)
    assert config["global"]["scrape_interval"] == "15s"
    assert config["global"]["evaluation_interval"] == "15s"
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "ccpulse"]
    targets = [target for static in job["static_configs"] for target in static["targets"]]
    assert targets == ["worker-1:9464", "worker-2:9464"]
    managers = config["alerting"]["alertmanagers"]
    assert [t for m in managers for s in m["static_configs"] for t in s["targets"]] == [
        "alertmanager:9093"
    ]


@pytest.mark.parametrize("rule_file", [RECORDING, ALERTS], ids=lambda path: path.name)
def test_rule_files_are_valid(rule_file: Path) -> None:
    promtool("check", "rules", str(rule_file.relative_to(ROOT)), cwd=ROOT)


def test_promtool_runs_the_recording_alert_and_voice_tests() -> None:
    assert {path.name for path in TESTS} >= {
        "recording_test.yml",
        "alerts_test.yml",
        "voice_test.yml",
    }


@pytest.mark.parametrize("tests", TESTS, ids=lambda path: path.name)
def test_promtool_unit_tests_pass(tests: Path) -> None:
    promtool("test", "rules", tests.name, cwd=tests.parent)


@pytest.mark.parametrize("tests", TESTS, ids=lambda path: path.name)
def test_unit_tests_load_the_rule_files_prometheus_runs(tests: Path) -> None:
    loaded = {(tests.parent / name).resolve() for name in load(tests)["rule_files"]}
    assert loaded <= {RECORDING, ALERTS}, f"{tests.name} tests rules Prometheus does not load"


def test_every_alert_has_a_severity_summary_description_and_runbook_url() -> None:
    for name, rule in alerts().items():
        assert rule.get("for"), f"{name} has no `for:`"
        assert rule.get("labels", {}).get("severity") in {"critical", "warning"}, name
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            assert annotations.get(key, "").strip(), f"{name} has no {key}"
        assert annotations["runbook_url"] == RUNBOOK_URL + name.lower(), name


def test_every_runbook_url_points_at_a_runbook_section() -> None:
    anchors = {section.lower() for section in runbook_sections()}
    for name, rule in alerts().items():
        anchor = rule["annotations"]["runbook_url"].removeprefix(RUNBOOK_URL)
        assert anchor in anchors, f"{name}: no `## {name}` in {RUNBOOK.name}"


def test_every_runbook_section_belongs_to_an_alert() -> None:
    sections = runbook_sections()
    assert len(sections) == len(set(sections)), "a runbook section appears twice"
    assert set(sections) == set(alerts())


def test_every_alert_is_tested_on_both_sides_of_its_for() -> None:
    """Before: no firing alert while ALERTS says pending. After: firing, later on."""
    before: dict[str, list[float]] = defaultdict(list)
    after: dict[str, list[float]] = defaultdict(list)
    for group in promtool_cases():
        pending = {
            (match[1], seconds(case["eval_time"]))
            for case in group.get("promql_expr_test", [])
            if (match := PENDING.fullmatch(case["expr"])) and case.get("exp_samples")
        }
        for case in group.get("alert_rule_test", []):
            at = seconds(case["eval_time"])
            if case.get("exp_alerts"):
                after[case["alertname"]].append(at)
            elif (case["alertname"], at) in pending:
                before[case["alertname"]].append(at)
    for name in alerts():
        assert before[name], f"{name}: no pending case with empty exp_alerts"
        assert after[name], f"{name}: no case with firing exp_alerts"
        assert min(before[name]) < max(after[name]), f"{name}: fires before it is pending"


def test_firing_cases_check_the_full_labels_and_annotations() -> None:
    rules_by_name = alerts()
    for group in promtool_cases():
        for case in group.get("alert_rule_test", []):
            rule = rules_by_name[case["alertname"]]
            for alert in case.get("exp_alerts") or []:
                assert alert["exp_labels"]["severity"] == rule["labels"]["severity"]
                assert set(alert["exp_annotations"]) == set(rule["annotations"])
                assert alert["exp_annotations"]["runbook_url"] == rule["annotations"]["runbook_url"]


def test_every_recording_rule_has_a_promql_expr_test() -> None:
    tested = {
        case["expr"].strip()
        for group in promtool_cases()
        for case in group.get("promql_expr_test", [])
        if case.get("exp_samples")
    }
    untested = [name for name in records() if name not in tested]
    assert not untested, f"recording rules without a promql_expr_test: {untested}"


def test_recording_rule_names_are_level_metric_operation() -> None:
    names = records()
    assert len(names) == len(set(names)), "a recording rule is defined twice"
    for name in names:
        assert RECORD_NAME.fullmatch(name), f"{name} is not level:ccpulse_metric:operation"


def test_alert_names_start_with_ccpulse() -> None:
    for name in alerts():
        assert ALERT_NAME.fullmatch(name), name


def test_first_response_overdue_keeps_the_condition_end_to_end_tests_rely_on() -> None:
    rule = alerts()["CcpulseFirstResponseOverdue"]
    assert " ".join(rule["expr"].split()) == (
        'sum by (channel, priority) (ccpulse_sla_tickets_overdue{target="first_response"}) > 0'
    )
    assert rule["for"] == "1m"


def matches(route: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Alertmanager's matching: a label an alert lacks has the empty value."""
    for matcher in route.get("matchers", []):
        parsed = MATCHER.fullmatch(matcher)
        assert parsed, f"not a matcher: {matcher!r}"
        name, op, value = parsed.groups()
        actual = labels.get(name, "")
        found = {
            "=": actual == value,
            "!=": actual != value,
            "=~": re.fullmatch(value, actual) is not None,
            "!~": re.fullmatch(value, actual) is None,
        }[op]
        if not found:
            return False
    equal = route.get("match", {})
    pattern = route.get("match_re", {})
    return all(labels.get(k, "") == v for k, v in equal.items()) and all(
        re.fullmatch(v, labels.get(k, "")) for k, v in pattern.items()
    )


def receiver_of(route: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """The receiver of the first matching route, depth first; a route inherits its parent's."""
    for child in route.get("routes", []):
        if matches(child, labels):
            return receiver_of(
                {**child, "receiver": child.get("receiver", route["receiver"])}, labels
            )
    return str(route["receiver"])


def test_alertmanager_routes_every_severity_the_alerts_use() -> None:
    """The default receiver takes anything, so each severity needs a route of its own."""
    config = load(ALERTMANAGER)
    root = config["route"]
    receivers = {receiver["name"] for receiver in config["receivers"]}
    assert root["receiver"] in receivers
    for name, rule in alerts().items():
        labels = {"alertname": name, **rule["labels"]}
        receiver = receiver_of(root, labels)
        assert receiver != root["receiver"], f"no route for severity {labels['severity']}"
        assert receiver in receivers, f"{name} goes to an undefined receiver {receiver}"
