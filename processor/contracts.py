"""The published contracts, generated from the code: JSON Schemas and example messages.

``schemas/<source>.schema.json`` for each source topic, ``schemas/ticket-metrics.schema.json``
and ``schemas/deadletter.schema.json`` for the derived topics, and
``schemas/examples/<source>.jsonl`` with one example message per event type. Files are
written with sorted keys so regeneration is byte-identical; ``check`` fails when the
committed files differ from the code. The README's reference sections are kept in step
by the same command.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from processor.core import TicketMetrics
from processor.events import SOURCE_MODELS, SourceKind, event_models

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
_AT = "2026-03-02T09:14:05Z"
_ENVELOPE = {"occurred_at": _AT, "customer_id": "cust-48213"}


def _example(event_type: str, event_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": event_type, "event_id": event_id, **_ENVELOPE, **fields}


EXAMPLES: dict[str, dict[str, Any]] = {
    example["type"]: example
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

    reason: str
    detail: str
    topic: str
    partition: int
    offset: int
    key: str | None
    original: str
    original_text: str | None


def _schema(adapter: TypeAdapter[Any], title: str, description: str) -> dict[str, Any]:
    schema = adapter.json_schema(mode="validation")
    schema.update(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": title,
            "description": description,
        }
    )
    return schema


def contract_files() -> dict[Path, str]:
    """Every generated file and its exact content."""
    files: dict[Path, str] = {}
    for kind in SourceKind:
        schema = _schema(
            TypeAdapter(SOURCE_MODELS[kind]),
            f"{kind.value} source events",
            f"Events of the {kind.value} source topic (default cc.{kind.value}).",
        )
        files[SCHEMAS / f"{kind.value}.schema.json"] = _dump(schema)
        lines = [json.dumps(EXAMPLES[t], sort_keys=True) for t in event_models(kind)]
        files[SCHEMAS / "examples" / f"{kind.value}.jsonl"] = "\n".join(lines) + "\n"
    files[SCHEMAS / "ticket-metrics.schema.json"] = _dump(
        _schema(
            TypeAdapter(TicketMetrics),
            "ticket metrics snapshot",
            "Value of cc.ticket-metrics, keyed by ticket id.",
        )
    )
    files[SCHEMAS / "deadletter.schema.json"] = _dump(
        _schema(TypeAdapter(DeadLetter), "dead letter", "Value of cc.deadletter.")
    )
    return files


def _dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    from processor import readme

    command = (list(argv) if argv is not None else sys.argv[1:] or ["check"])[0]
    stale = [
        path
        for path, text in contract_files().items()
        if not path.exists() or path.read_text() != text
    ]
    if command == "write":
        for path in stale:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(contract_files()[path])
        return readme.main(["write"])
    for path in stale:
        print(f"{path.relative_to(SCHEMAS.parent)} is stale: run `make schemas`", file=sys.stderr)
    return 1 if stale or readme.main(["check"]) else 0


if __name__ == "__main__":
    sys.exit(main())
