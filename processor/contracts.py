"""The published contracts, generated from the code: JSON Schemas, examples, dashboards.

Writes ``schemas/<name>.schema.json`` for every entry of ``CONTRACTS`` (the six source
topics and the derived topics), ``schemas/examples/<source>.jsonl`` with one example
message per source event type, and the Grafana dashboards of ``processor.dashboards``
into ``deploy/grafana/dashboards/``. Output is JSON with sorted keys, 2-space indent and a
trailing newline, so regenerating from unchanged code is byte-identical and a diff in
review is a real contract change. ``check`` fails, naming the file, when a committed file
differs from the code, is missing, or is no longer generated; ``write`` makes them equal.
The README's generated reference sections are kept in step by the same two commands.

It deliberately publishes nothing (no schema registry, no versioning): the files
committed next to the code are the contract downstream teams build against.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from processor import readme
from processor.codec import RejectReason
from processor.config import TopicSettings
from processor.core import TicketMetrics
from processor.dashboards import DASHBOARDS, dashboard_files, generated_dashboards
from processor.events import SOURCE_MODELS, SourceKind, event_models
from processor.outputs import RepeatContactsMessage, SlaEventMessage

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_AT = "2026-03-02T09:14:05Z"
_ENVELOPE = {"occurred_at": _AT, "customer_id": "cust-48213"}


def _example(event_type: str, event_id: str, **fields: object) -> dict[str, object]:
    return {"type": event_type, "event_id": event_id, **_ENVELOPE, **fields}


# One customer's contacts, so the examples read as one story (ticket ZD-120934 spans email,
# phone and a survey); the README's worked snapshot is folded from these same messages.
EXAMPLES: dict[str, dict[str, object]] = {
    str(example["type"]): example
    for example in [
        _example("call.queued", "acd-91c2-1", call_id="call-7731", queue="billing"),
        _example("call.answered", "acd-91c2-2", call_id="call-7731", agent_id="agent-17"),
        _example("call.abandoned", "acd-91c3-2", call_id="call-7740"),
        _example("call.ended", "acd-91c2-3", call_id="call-7731"),
        _example("call.transferred", "acd-91c2-4", call_id="call-7731", to_queue="tech"),
        _example(
            "call.outbound",
            "acd-91d0-1",
            call_id="call-7802",
            agent_id="agent-17",
            ticket_id="ZD-120934",
        ),
        _example(
            "email.received",
            "mail-5d1e",
            message_id="<a1@example.com>",
            thread_id="thr-311",
            ticket_id="ZD-120934",
        ),
        _example(
            "email.sent",
            "mail-5d2f",
            message_id="<a2@support.example.com>",
            thread_id="thr-311",
            ticket_id="ZD-120934",
            agent_id="agent-17",
            automated=False,
        ),
        _example("chat.started", "chat-0a91-1", session_id="chs-2208"),
        _example("chat.message", "chat-0a91-2", session_id="chs-2208", author="agent"),
        _example("chat.ended", "chat-0a91-9", session_id="chs-2208"),
        _example(
            "social.received",
            "soc-77f1",
            post_id="1790233",
            conversation_id="conv-5521",
            network="x",
            kind="mention",
        ),
        _example(
            "social.replied",
            "soc-77f9",
            post_id="1790301",
            conversation_id="conv-5521",
            network="x",
            agent_id="agent-4",
        ),
        _example(
            "ticket.created",
            "zd-120934-1",
            ticket_id="ZD-120934",
            channel="email",
            priority="high",
            queue="billing",
            reason="refund",
        ),
        _example(
            "ticket.assigned",
            "zd-120934-2",
            ticket_id="ZD-120934",
            agent_id="agent-17",
            queue="billing",
        ),
        _example("ticket.status_changed", "zd-120934-3", ticket_id="ZD-120934", status="solved"),
        _example(
            "ticket.priority_changed", "zd-120934-4", ticket_id="ZD-120934", priority="urgent"
        ),
        _example("ticket.reason_set", "zd-120934-5", ticket_id="ZD-120934", reason="refund"),
        _example(
            "ticket.commented",
            "zd-120934-6",
            ticket_id="ZD-120934",
            author="agent",
            public=False,
            agent_id="agent-17",
        ),
        _example(
            "survey.csat_answered",
            "srv-1-1",
            survey_id="srv-1",
            ticket_id="ZD-120934",
            score=4,
            scale=5,
        ),
        _example("survey.nps_answered", "srv-2-1", survey_id="srv-2", score=9),
        _example("survey.ces_answered", "srv-3-1", survey_id="srv-3", score=2, scale=7),
    ]
}


class DeadLetter(BaseModel):
    """A message on the dead-letter topic: why, where from, and the original bytes."""

    reason: RejectReason = Field(description="Why the message was rejected (a closed set).")
    detail: str = Field(description="What was wrong, for a human.")
    topic: str = Field(description="Topic the original message was read from.")
    partition: int = Field(description="Partition of the original message.")
    offset: int = Field(description="Offset of the original message.")
    key: str | None = Field(description="The original key, base64; null when it had none.")
    original: str = Field(description="The original value, base64.")
    original_text: str | None = Field(
        description="The original value as text (first 2000 characters); null if not UTF-8."
    )


@dataclass(frozen=True, slots=True)
class Contract:
    """The message values of one topic: ``model`` is anything pydantic can adapt."""

    topic: str
    model: Any
    summary: str

    def json_schema(self) -> dict[str, Any]:
        adapter = self.model if isinstance(self.model, TypeAdapter) else TypeAdapter(self.model)
        schema: dict[str, Any] = adapter.json_schema(mode="validation")
        schema.update(
            {
                "$schema": _DIALECT,
                # A URN rather than a URL: the files are not served anywhere, yet validators
                # need an absolute base to resolve the "#/$defs/..." references against.
                "$id": f"urn:ccpulse:topic:{self.topic}",
                "title": f"{self.topic} message value",
                "description": f"{self.summary} Topic {self.topic} (default name; configurable).",
            }
        )
        return schema


_TOPICS = TopicSettings()

# Adding a topic's contract is one entry here; the file name is the key.
CONTRACTS: dict[str, Contract] = {
    **{
        kind.value: Contract(
            _TOPICS.source(kind),
            SOURCE_MODELS[kind],
            f"{TopicSettings.model_fields[kind.value].description} One JSON object per "
            "message, discriminated by `type`; unknown fields are ignored.",
        )
        for kind in SourceKind
    },
    "ticket-metrics": Contract(
        _TOPICS.ticket_metrics,
        TicketMetrics,
        "A ticket's metrics whenever they change, keyed by ticket id.",
    ),
    "deadletter": Contract(
        _TOPICS.deadletter,
        DeadLetter,
        "Rejected input with the reason and the original bytes.",
    ),
    "sla-events": Contract(
        _TOPICS.sla_events,
        SlaEventMessage,
        "The SLA audit trail of each ticket and target, keyed by ticket id.",
    ),
    "repeat-contacts": Contract(
        _TOPICS.repeat_contacts,
        RepeatContactsMessage,
        "Repeat contacts as they are found and FCR verdicts as their windows close, keyed "
        "by customer id and discriminated by `type`.",
    ),
}


def contract_files(root: Path = SCHEMAS) -> dict[Path, str]:
    """Every generated file under ``root`` and its exact content."""
    files = {
        root / f"{name}.schema.json": _dump(contract.json_schema())
        for name, contract in CONTRACTS.items()
    }
    for kind in SourceKind:
        lines = [json.dumps(EXAMPLES[t], sort_keys=True) for t in event_models(kind)]
        files[root / "examples" / f"{kind.value}.jsonl"] = "".join(f"{line}\n" for line in lines)
    return files


def _dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _generated_kinds(root: Path) -> set[Path]:
    """Files under ``root`` that only the generator may own, committed or not."""
    return set(root.glob("*.schema.json")) | set(root.glob("examples/*.jsonl"))


def generated_files(root: Path = SCHEMAS, dashboards: Path = DASHBOARDS) -> dict[Path, str]:
    """Every generated file, schemas under ``root`` and dashboards under ``dashboards``."""
    return {**contract_files(root), **dashboard_files(dashboards)}


def stale(root: Path = SCHEMAS, dashboards: Path = DASHBOARDS) -> list[tuple[Path, str]]:
    """Each file that is not what the code generates, with what is wrong with it."""
    expected = generated_files(root, dashboards)
    problems: list[tuple[Path, str]] = []
    for path, text in expected.items():
        if not path.exists():
            problems.append((path, "is missing"))
        # Bytes, not read_text(): universal newlines would hide a CRLF checkout.
        elif path.read_bytes() != text.encode():
            problems.append((path, "differs from the code"))
    owned = _generated_kinds(root) | generated_dashboards(dashboards)
    problems += [(p, "is no longer generated") for p in sorted(owned - set(expected))]
    return problems


def write(root: Path = SCHEMAS, dashboards: Path = DASHBOARDS) -> list[Path]:
    """Make the generated files what the code generates; the paths changed."""
    expected = generated_files(root, dashboards)
    changed: list[Path] = []
    for path, _why in stale(root, dashboards):
        if path in expected:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(expected[path].encode())
        else:
            path.unlink()
        changed.append(path)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m processor.contracts",
        description="Generate (write) or verify (check) schemas/, the Grafana dashboards "
        "and the README reference.",
    )
    parser.add_argument("command", nargs="?", choices=("write", "check"), default="check")
    command: str = parser.parse_args(argv).command
    if command == "write":
        for path in write(SCHEMAS, DASHBOARDS):
            print(f"{'wrote' if path.exists() else 'removed'} {_shown(path)}")
        return readme.main(["write"])
    problems = stale(SCHEMAS, DASHBOARDS)
    for path, why in problems:
        print(f"{_shown(path)} {why}: run `make schemas`", file=sys.stderr)
    # The README is checked even when a schema is stale, so one run names every stale file.
    readme_stale = readme.main(["check"])
    return 1 if problems or readme_stale else 0


def _shown(path: Path) -> str:
    """The path from the checkout's root (``DASHBOARDS`` is ``<root>/deploy/grafana/...``)."""
    for root in (SCHEMAS.parent, DASHBOARDS.parents[2]):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
