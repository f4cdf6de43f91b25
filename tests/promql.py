"""The metric names PromQL expressions read, and the rules of deploy/prometheus/rules/.

Small on purpose: regular expressions over identifiers, not a PromQL parser. String
literals go first (so a label value such as ``"first_response"`` is never taken for a
name), then label matchers, ``by (...)``-style label lists and range selectors; what is
left that is an identifier, not a keyword and not followed by ``(`` is a metric name.
Syntax is promtool's business; this only ties names to what the code exports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

RULES = Path(__file__).resolve().parents[1] / "deploy" / "prometheus" / "rules"

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_COMMENT = re.compile(r"#[^\n]*")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_RANGE = re.compile(r"\[[^\[\]]*\]")
# Not inside a longer token (`5m`, `0.9`), and not a function call.
_NAME = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*(?![\w:])(?!\s*\()")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan"}
)
_SELECTOR = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)\s*\{([^{}]*)\}")
_EQUALS = re.compile(r'([A-Za-z_]\w*)\s*=(?![=~])\s*"((?:[^"\\]|\\.)*)"')


def metric_names(expr: str) -> set[str]:
    """Every metric (or recording rule) name ``expr`` selects."""
    bare = _COMMENT.sub(" ", _STRING.sub('""', expr))
    for pattern in (_MATCHERS, _LABEL_LIST, _RANGE):
        bare = pattern.sub(" ", bare)
    return {name for name in _NAME.findall(bare) if name.lower() not in _KEYWORDS}


def equality_matchers(expr: str) -> list[tuple[str, str, str]]:
    """``(metric, label, value)`` for each ``metric{label="value"}`` matcher in ``expr``."""
    return [
        (name, label, value)
        for name, body in _SELECTOR.findall(expr)
        for label, value in _EQUALS.findall(body)
    ]


def _rules(directory: Path) -> Iterable[dict[str, Any]]:
    for path in sorted(directory.glob("*.yml")):
        loaded = yaml.safe_load(path.read_text()) or {}
        for group in loaded.get("groups", []):
            yield from group.get("rules", [])


def recording_rules(directory: Path = RULES) -> dict[str, str]:
    """Each recording rule's name and expression."""
    return {rule["record"]: rule["expr"] for rule in _rules(directory) if "record" in rule}


def alert_rules(directory: Path = RULES) -> dict[str, str]:
    """Each alert's name and expression."""
    return {rule["alert"]: rule["expr"] for rule in _rules(directory) if "alert" in rule}


def series_read(expr: str, recorded: Mapping[str, str]) -> set[str]:
    """The raw series ``expr`` reads, through any recording rules it uses."""
    seen: set[str] = set()
    raw: set[str] = set()
    pending = list(metric_names(expr))
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in recorded:
            pending.extend(metric_names(recorded[name]))
        else:
            raw.add(name)
    return raw
