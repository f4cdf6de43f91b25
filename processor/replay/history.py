"""What the report needs from a replay's published outputs, kept as they flow past.

Only the last snapshot per ticket is kept (as bytes, parsed once at the end), and of SLA
events, repeat contacts and FCR verdicts only the fields the report reads, so memory
grows with the number of tickets, not with the number of messages. It keeps nothing it
does not report and writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from processor.config import Settings
from processor.replay.report import Report, VoiceCounts, summarize

_SLA_FIELDS = ("event_id", "kind", "target")
_REPEAT_FIELDS = ("type", "ticket_id", "channel", "windows", "fcr")


class History:
    def __init__(self, settings: Settings) -> None:
        topics = settings.topics
        self.ticket_metrics = topics.ticket_metrics
        self.sla_events = topics.sla_events
        self.repeat_contacts = topics.repeat_contacts
        self.windows = settings.repeat.windows
        self.snapshots: dict[bytes, bytes] = {}
        self.sla: dict[str, dict[str, Any]] = {}
        self.repeats: dict[tuple[str, str], dict[str, Any]] = {}

    def __call__(self, topic: str, key: bytes | None, value: bytes) -> None:
        if topic == self.ticket_metrics and key is not None:
            self.snapshots[key] = value
        elif topic == self.sla_events:
            event = orjson.loads(value)
            self.sla[event["event_id"]] = {name: event[name] for name in _SLA_FIELDS}
        elif topic == self.repeat_contacts:
            message = orjson.loads(value)
            kept = {name: message.get(name) for name in _REPEAT_FIELDS}
            self.repeats[message["type"], message["ticket_id"]] = kept

    def report(self, voice: VoiceCounts, until: datetime | None = None) -> Report:
        return summarize(
            (orjson.loads(value) for value in self.snapshots.values()),
            self.sla.values(),
            self.repeats.values(),
            voice,
            windows=self.windows,
            until=until,
        )
