"""The committed Grafana dashboards are what the code generates, and every query is real.

Each series a board queries is one the worker exports (read from a real ``Metrics``
registry) or a recording rule of deploy/prometheus/rules/; each series the worker exports
is on some board, directly or through a rule; the rules read only exported series.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from processor import contracts, readme
from processor.contracts import stale, write
from processor.dashboards import DASHBOARDS, dashboard_files, generated_dashboards
from processor.dashboards.model import DATASOURCE, Row, Target, layout, stat, timeseries
from processor.metrics import Metrics
from processor.open_tickets import OpenTickets
from tests.promql import (
    alert_rules,
    equality_matchers,
    metric_names,
    recording_rules,
    series_read,
)

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "gauge": ("",),
}
# Prometheus's own series about each scrape; the worker cannot export it.
PROMETHEUS_SERIES = {"up"}
# Attached by Prometheus to every scraped sample, so never in the worker's registry.
TARGET_LABELS = {"job", "instance"}


def committed() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in board["panels"] if panel["type"] != "row"]


def exprs() -> Iterator[tuple[str, str, str]]:
    """``(dashboard uid, panel title, expr)`` of every committed query."""
    for uid, board in committed().items():
        for panel in panels(board):
            for target in panel["targets"]:
                yield uid, panel["title"], target["expr"]


@pytest.fixture(scope="module")
def exported() -> dict[str, frozenset[str]]:
    """Each metric family the worker registers and the series names it exposes."""
    registry = CollectorRegistry()
    Metrics(registry, OpenTickets(), lambda: 0.0, repeat_windows=("7d",))
    return {
        family.name: frozenset(family.name + s for s in SAMPLE_SUFFIXES[family.type])
        for family in registry.collect()
    }


@pytest.fixture(scope="module")
def label_values() -> dict[tuple[str, str], set[str]]:
    registry = CollectorRegistry()
    Metrics(registry, OpenTickets(), lambda: 0.0, repeat_windows=("7d",))
    values: dict[tuple[str, str], set[str]] = {}
    for family in registry.collect():
        for sample in family.samples:
            for label, value in sample.labels.items():
                values.setdefault((sample.name, label), set()).add(value)
    return values


@pytest.fixture(scope="module")
def recorded() -> dict[str, str]:
    rules = recording_rules()
    assert rules, "the boards query recording rules: deploy/prometheus/rules/ defines none"
    return rules


def test_the_promql_names_are_metrics_not_functions_labels_or_label_values() -> None:
    expr = (
        'histogram_quantile(0.9, sum by (le, channel) (rate(ccpulse_a_bucket{target="x_y",'
        ' channel=~"phone|email"}[5m]))) / on (channel) group_left () (sum(up{job="c"}) > 0)'
        " and channel:ccpulse_b:p90_5m offset 1h or vector(0) * 1e3"
    )
    assert metric_names(expr) == {"ccpulse_a_bucket", "up", "channel:ccpulse_b:p90_5m"}
    assert equality_matchers(expr) == [("ccpulse_a_bucket", "target", "x_y"), ("up", "job", "c")]
    rules = {"a:b:sum": "sum(c:d:max) + ccpulse_e", "c:d:max": "max(ccpulse_f)"}
    assert series_read("a:b:sum / ccpulse_g_total", rules) == {
        "ccpulse_e",
        "ccpulse_f",
        "ccpulse_g_total",
    }


def test_committed_dashboards_are_exactly_what_the_code_generates() -> None:
    expected = dashboard_files()
    assert generated_dashboards() == set(expected), "run `make schemas`"
    for path, text in expected.items():
        assert path.read_bytes() == text.encode(), f"{path.name}: run `make schemas`"


def test_each_dashboard_is_sorted_two_space_json_ending_in_a_newline() -> None:
    for text in dashboard_files().values():
        assert (
            text
            == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )


def test_the_check_names_a_dashboard_edited_by_hand_missing_or_no_longer_generated(
    tmp_path: Path,
) -> None:
    schemas, boards = tmp_path / "schemas", tmp_path / "dashboards"
    write(schemas, boards)
    edited = boards / "ccpulse-operations.json"
    edited.write_text(edited.read_text().replace('"Open tickets"', '"Open"'))
    (boards / "ccpulse-sla.json").unlink()
    (boards / "ccpulse-old.json").write_text("{}\n")

    assert sorted((path.name, why) for path, why in stale(schemas, boards)) == [
        ("ccpulse-old.json", "is no longer generated"),
        ("ccpulse-operations.json", "differs from the code"),
        ("ccpulse-sla.json", "is missing"),
    ]
    assert len(write(schemas, boards)) == 3
    assert stale(schemas, boards) == []


def test_the_check_command_fails_and_names_the_edited_dashboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    schemas, boards = tmp_path / "schemas", tmp_path / "deploy" / "grafana" / "dashboards"
    write(schemas, boards)
    monkeypatch.setattr(contracts, "SCHEMAS", schemas)
    monkeypatch.setattr(contracts, "DASHBOARDS", boards)
    # The README has its own test; here only the generated files may decide the outcome.
    monkeypatch.setattr(readme, "main", lambda argv: 0)
    assert contracts.main(["check"]) == 0

    path = boards / "ccpulse-sla.json"
    path.write_text(path.read_text().replace('"refresh": "1m"', '"refresh": "5s"'))
    assert contracts.main(["check"]) == 1
    assert "deploy/grafana/dashboards/ccpulse-sla.json differs from the code" in (
        capsys.readouterr().err
    )


def test_the_four_boards_have_their_uids_schema_version_and_no_variables() -> None:
    boards = committed()
    assert {uid: board["title"] for uid, board in boards.items()} == {
        "ccpulse-operations": "ccpulse — Operations wall board",
        "ccpulse-sla": "ccpulse — SLA",
        "ccpulse-processor": "ccpulse — Processor health",
        "ccpulse-voice": "ccpulse — Voice of the customer",
    }
    for uid, board in boards.items():
        assert board["uid"] == uid
        assert board["schemaVersion"] == 39
        assert board["templating"] == {"list": []}


def test_every_panel_has_a_title_a_query_and_a_place_within_the_grid() -> None:
    for uid, board in committed().items():
        for panel in panels(board):
            where = f"{uid}: {panel['title']!r}"
            assert panel["title"].strip(), uid
            assert panel["datasource"] == DATASOURCE, where
            assert panel["targets"], where
            for target in panel["targets"]:
                assert target["expr"].strip(), where
                assert target["datasource"] == DATASOURCE, where
            assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), where
            grid = panel["gridPos"]
            assert min(grid["x"], grid["y"]) >= 0, where
            assert min(grid["w"], grid["h"]) >= 1, where
            assert grid["x"] + grid["w"] <= 24, where


def test_panel_ids_are_unique_and_no_two_panels_overlap() -> None:
    for uid, board in committed().items():
        ids = [panel["id"] for panel in board["panels"]]
        assert len(set(ids)) == len(ids), uid
        cells: dict[tuple[int, int], str] = {}
        for panel in board["panels"]:
            grid = panel["gridPos"]
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    other = cells.setdefault((x, y), panel["title"])
                    assert other == panel["title"], f"{uid}: {other!r} / {panel['title']!r}"


def test_panels_fill_a_line_and_wrap_under_its_tallest_panel() -> None:
    wide = timeseries("wide", Target("up", "up"), width=12, height=8)
    short = stat("short", Target("up", "up"), width=8, height=4)
    placed = layout((Row("one", (wide, short, short)), Row("two", (short,))))
    assert [(p["title"], p["gridPos"]) for p in placed] == [
        ("one", {"h": 1, "w": 24, "x": 0, "y": 0}),
        ("wide", {"h": 8, "w": 12, "x": 0, "y": 1}),
        ("short", {"h": 4, "w": 8, "x": 12, "y": 1}),
        ("short", {"h": 4, "w": 8, "x": 0, "y": 9}),
        ("two", {"h": 1, "w": 24, "x": 0, "y": 13}),
        ("short", {"h": 4, "w": 8, "x": 0, "y": 14}),
    ]
    assert [p["id"] for p in placed] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="does not fit"):
        stat("too wide", Target("up", "up"), width=25)


def test_no_query_needs_grafana_to_run() -> None:
    for uid, title, expr in exprs():
        assert "$" not in expr, f"{uid}: {title!r} uses a Grafana variable: {expr}"


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed")
    rules = [{"record": f"dashboard:query:{n}", "expr": e} for n, (_, _, e) in enumerate(exprs())]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], check=False, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_series_a_dashboard_queries_is_exported_or_recorded(
    exported: dict[str, frozenset[str]], recorded: dict[str, str]
) -> None:
    known = set().union(*exported.values()) | set(recorded) | PROMETHEUS_SERIES
    unknown = {
        (uid, title, name) for uid, title, expr in exprs() for name in metric_names(expr) - known
    }
    assert not unknown


def test_every_recording_rule_a_dashboard_queries_is_defined(recorded: dict[str, str]) -> None:
    used = {name for _, _, expr in exprs() for name in metric_names(expr) if ":" in name}
    assert used, "the boards are meant to read the recording rules"
    assert used - set(recorded) == set()


def test_label_values_a_dashboard_matches_on_are_ones_the_worker_exports(
    label_values: dict[tuple[str, str], set[str]],
) -> None:
    matched = [
        (uid, name, label, value)
        for uid, _, expr in exprs()
        for name, label, value in equality_matchers(expr)
        if label not in TARGET_LABELS and name.startswith("ccpulse_")
    ]
    assert matched, "the boards filter some series by label"
    wrong = [m for m in matched if m[3] not in label_values.get((m[1], m[2]), set())]
    assert not wrong


def test_every_exported_ccpulse_series_is_shown_on_a_dashboard(
    exported: dict[str, frozenset[str]], recorded: dict[str, str]
) -> None:
    shown = set().union(*(series_read(expr, recorded) for _, _, expr in exprs()))
    hidden = sorted(
        family
        for family, series in exported.items()
        if family.startswith("ccpulse_") and not series & shown
    )
    assert hidden == []


def test_every_recording_rule_is_read_by_a_dashboard_or_an_alert(
    recorded: dict[str, str],
) -> None:
    """A rule nothing reads, directly or through another rule, is evaluated for nobody."""
    pending = [name for _, _, expr in exprs() for name in metric_names(expr)]
    pending += [name for expr in alert_rules().values() for name in metric_names(expr)]
    read: set[str] = set()
    while pending:
        name = pending.pop()
        if name in recorded and name not in read:
            read.add(name)
            pending.extend(metric_names(recorded[name]))
    assert sorted(set(recorded) - read) == []


def test_every_series_the_recording_and_alert_rules_read_is_exported(
    exported: dict[str, frozenset[str]], recorded: dict[str, str]
) -> None:
    known = set().union(*exported.values()) | PROMETHEUS_SERIES
    rules = {**recorded, **alert_rules()}
    unknown = {
        (rule, name)
        for rule, expr in rules.items()
        for name in metric_names(expr) - set(recorded) - known
    }
    assert not unknown


def test_grafana_provisions_the_boards_from_the_directory_compose_mounts() -> None:
    datasource = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    [prometheus] = datasource["datasources"]
    assert {k: prometheus[k] for k in ("name", "uid", "type", "url", "isDefault")} == {
        "name": "Prometheus",
        "uid": DATASOURCE["uid"],
        "type": DATASOURCE["type"],
        "url": "http://prometheus:9090",
        "isDefault": True,
    }
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "ccpulse.yml").read_text())
    [files] = provider["providers"]
    assert (files["type"], files["folder"]) == ("file", "ccpulse")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["grafana"]["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == files["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
