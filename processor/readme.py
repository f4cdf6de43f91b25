"""Keeps the reference sections of README.md generated from the code.

The configuration table is rendered from the ``Settings`` model, the topic reference
from the event models and their examples, so the documentation cannot drift from what
the worker reads and accepts. ``python -m processor.readme check`` fails on a stale
README; ``write`` regenerates it.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from processor.config import Settings
from processor.events import SourceKind, event_models

README = Path(__file__).resolve().parent.parent / "README.md"
_SECTION = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<name>[a-z]+) -->\n)(?:.*?\n)?(<!-- END GENERATED: (?P=name) -->)",
    re.DOTALL,
)


def config_reference() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]

    def walk(prefix: str, model: type[BaseModel], defaults: BaseModel) -> None:
        for name, field in model.model_fields.items():
            value = getattr(defaults, name)
            variable = f"{prefix}{name.upper()}"
            if isinstance(value, BaseModel):
                walk(f"{variable}__", type(value), value)
                continue
            if isinstance(value, tuple | list):
                value = json.dumps(list(value))
            shown = "" if value is None else f"`{getattr(value, 'value', value)}`"
            rows.append(f"| `{variable}` | {shown} | {field.description or ''} |")

    walk("CCPULSE_", Settings, Settings.model_construct(**_defaults()))
    return "\n".join(rows)


def _defaults() -> dict[str, Any]:
    return {
        name: field.get_default(call_default_factory=True)
        for name, field in Settings.model_fields.items()
    }


def topics_reference(examples: dict[str, dict[str, Any]]) -> str:
    parts: list[str] = []
    topics = Settings.model_construct(**_defaults()).topics
    for kind in SourceKind:
        models = event_models(kind)
        parts.append(f"### `{topics.source(kind)}` ({kind.value})\n")
        parts.append(f"Schema: `schemas/{kind.value}.schema.json`. Event types:\n")
        for event_type, model in models.items():
            fields = ", ".join(_field_names(model))
            parts.append(f"- `{event_type}` ({fields}) — {_first_line(model.__doc__)}")
        example = next((examples[t] for t in models if t in examples), None)
        if example is not None:
            parts.append("\nExample:\n\n```json\n" + json.dumps(example, indent=None) + "\n```")
        parts.append("")
    return "\n".join(parts).rstrip()


def _field_names(model: type[BaseModel]) -> list[str]:
    """The fields beyond the envelope and ``type``; optional ones marked with ``?``."""
    common = {"event_id", "occurred_at", "customer_id", "type"}
    return [
        f"`{name}`" if field.is_required() else f"`{name}?`"
        for name, field in model.model_fields.items()
        if name not in common and not (name == "ticket_id" and not field.is_required())
    ]


def _first_line(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def render(text: str, sections: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        body = sections.get(match.group("name"))
        if body is None:
            return match.group(0)
        return f"{match.group(1)}{body}\n{match.group(3)}"

    return _SECTION.sub(replace, text)


def snapshot_example(examples: dict[str, dict[str, Any]]) -> str:
    """The snapshot the example ticket's events give, as published on the output topic."""
    from processor.codec import decode_event, encode_snapshot
    from processor.core import fold_all

    story = [
        ("ticket.created", "2026-03-02T09:14:05Z"),
        ("email.received", "2026-03-02T09:14:05Z"),
        ("email.sent", "2026-03-02T10:02:45Z"),
        ("ticket.status_changed", "2026-03-02T16:40:00Z"),
    ]
    events = [
        decode_event(json.dumps({**examples[kind], "occurred_at": at}).encode())
        for kind, at in story
    ]
    snapshot = json.loads(encode_snapshot(fold_all(None, events).after))
    return "```json\n" + json.dumps(snapshot, indent=2) + "\n```"


def sections() -> dict[str, str]:
    from processor.contracts import EXAMPLES

    return {
        "config": config_reference(),
        "topics": topics_reference(EXAMPLES),
        "snapshot": snapshot_example(EXAMPLES),
    }


def main(argv: Sequence[str] | None = None) -> int:
    command = (list(argv) if argv is not None else sys.argv[1:] or ["check"])[0]
    current = README.read_text()
    fresh = render(current, sections())
    if command == "write":
        README.write_text(fresh)
        return 0
    if fresh != current:
        print("README.md reference sections are stale: run `make schemas`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
