"""``ccpulse replay`` from the command line: outputs, options and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from processor.cli import main
from tests.unit.test_replay_engine import HISTORY, POLICIES, event, write

ROOT = Path(__file__).resolve().parents[2]

LATE_ANSWER = [
    event("chat.started", 0, "c1", session_id="s1"),
    event("chat.started", 100, "c2", session_id="s2"),
    event("chat.message", 40, "c1", session_id="s1", author="agent"),  # 60 s late in the file
]


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    path = tmp_path / "sla.yaml"
    path.write_text(POLICIES)
    return path


def lines_of(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(path.read_text())
        for sample in family.samples
    }


def test_outputs_are_one_json_lines_file_per_derived_topic_and_the_metrics(
    tmp_path: Path, policies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = write(tmp_path / "history.jsonl", [*HISTORY, b"oops"])
    out = tmp_path / "out"
    assert main(["replay", str(history), "--out", str(out), "--sla-policies", str(policies)]) == 0
    files = sorted(path.name for path in out.iterdir())
    assert files == [
        "cc.deadletter.jsonl",
        "cc.repeat-contacts.jsonl",
        "cc.sla-events.jsonl",
        "cc.ticket-metrics.jsonl",
        "metrics.prom",
    ]
    snapshots = lines_of(out / "cc.ticket-metrics.jsonl")
    assert {line["key"] for line in snapshots} == {"s1", "s2", "call-1"}
    assert all(line["value"]["ticket_id"] == line["key"] for line in snapshots)  # type: ignore[index]
    [letter] = lines_of(out / "cc.deadletter.jsonl")
    assert letter["key"] is None
    assert letter["value"]["offset"] == len(HISTORY) + 1  # type: ignore[index]
    metrics = samples(out / "metrics.prom")
    chat = (("channel", "chat"), ("priority", "normal"))
    assert metrics["ccpulse_tickets_created_total", chat] == 2
    breach = (*chat, ("target", "first_response"))
    assert metrics["ccpulse_sla_breaches_total", tuple(sorted(breach))] == 1
    rejected = (("reason", "invalid_json"), ("source", "unknown"))
    assert metrics["ccpulse_events_rejected_total", rejected] == 1
    account = capsys.readouterr().err
    assert "replayed 8 lines: 7 events, 1 dead-lettered (invalid_json 1)" in account


def test_without_broker_or_out_the_outputs_go_to_ccpulse_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = write(tmp_path / "history.jsonl", HISTORY)
    monkeypatch.chdir(tmp_path)
    assert main(["replay", str(history)]) == 0
    assert (tmp_path / "ccpulse-replay" / "metrics.prom").is_file()
    assert (tmp_path / "ccpulse-replay" / "cc.ticket-metrics.jsonl").stat().st_size > 0


def breaches(out: Path) -> list[str]:
    return [
        line["value"]["ticket_id"]  # type: ignore[index]
        for line in lines_of(out / "cc.sla-events.jsonl")
        if line["value"]["kind"] == "breached"  # type: ignore[index]
    ]


def test_lateness_lets_a_late_line_count_before_its_deadline(
    tmp_path: Path, policies: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CCPULSE_BATCH_SIZE", "1")  # one batch would hide the order
    history = write(tmp_path / "history.jsonl", LATE_ANSWER)
    args = ["replay", str(history), "--sla-policies", str(policies)]
    assert main([*args, "--out", str(tmp_path / "strict")]) == 0
    assert main([*args, "--out", str(tmp_path / "late"), "--lateness", "1m"]) == 0
    assert breaches(tmp_path / "strict") == ["s1"]
    assert breaches(tmp_path / "late") == []


def test_until_advances_the_clock_past_the_last_event(tmp_path: Path) -> None:
    history = write(tmp_path / "history.jsonl", HISTORY)
    out = tmp_path / "out"
    assert main(["replay", str(history), "--out", str(out), "--until", "2026-03-09T12:00:00Z"]) == 0
    verdicts = {
        line["value"]["ticket_id"]: line["value"]["fcr"]  # type: ignore[index]
        for line in lines_of(out / "cc.repeat-contacts.jsonl")
        if line["value"]["type"] == "fcr_verdict"  # type: ignore[index]
    }
    assert verdicts == {"s1": False, "call-1": True}  # the default 7-day window closed


def test_the_report_is_printed_as_markdown_or_written_as_csv(
    tmp_path: Path, policies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = write(tmp_path / "history.jsonl", HISTORY)
    base = ["replay", str(history), "--out", str(tmp_path / "out"), "--sla-policies", str(policies)]
    assert main([*base, "--report"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# Replay report")
    assert "| first_response | 2 | 1 | 66.7 % (2/3) |" in printed
    report = tmp_path / "report.csv"
    assert main([*base, "--report", str(report)]) == 0
    assert capsys.readouterr().out == ""
    assert "sla,first_response,met,2" in report.read_text().splitlines()


def test_a_missing_file_or_a_bad_policy_file_exits_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["replay", str(tmp_path / "nowhere.jsonl")]) == 2
    assert "nowhere.jsonl: no such file" in capsys.readouterr().err
    history = write(tmp_path / "history.jsonl", HISTORY)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        'version: "1"\npolicies:\n  - name: x\n    targets: {first_response: 5 minutes}\n'
    )
    assert main(["replay", str(history), "--sla-policies", str(bad)]) == 2
    assert (
        "bad.yaml:4: policies.0.targets.first_response: not a duration" in capsys.readouterr().err
    )
    assert not (tmp_path / "ccpulse-replay").exists()


@pytest.mark.parametrize(
    "option",
    [["--until", "2026-03-09T12:00:00"], ["--lateness", "soon"], ["--report", "r.pdf"]],
)
def test_unusable_options_stop_with_usage(
    tmp_path: Path, option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    history = write(tmp_path / "history.jsonl", HISTORY)
    with pytest.raises(SystemExit) as stopped:
        main(["replay", str(history), *option])
    assert stopped.value.code == 2
    assert option[0] in capsys.readouterr().err


def test_the_readme_shows_what_its_replay_example_prints(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("The example above prints:\n\n````markdown\n", 1)[1].split("\n````", 1)[0]
    env = {
        **os.environ,
        "CCPULSE_REPEAT__WINDOWS": '["24h","7d"]',
        "CCPULSE_REPEAT__FCR_WINDOW": "24h",
    }
    command = [sys.executable, "-m", "processor", "replay", "examples/contact-center-day.jsonl"]
    options = ["--sla-policies", "deploy/sla-policies.yaml", "--lateness", "5m"]
    until = ["--until", "2026-03-03T20:00:00Z", "--out", str(tmp_path), "--report"]
    printed = subprocess.run(
        [*command, *options, *until], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert printed.strip() == shown.strip()
