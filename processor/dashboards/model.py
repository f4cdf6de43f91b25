"""A small typed model of Grafana's dashboard JSON, rendered deterministically.

Frozen values — ``Dashboard``, ``Row``, ``Panel``, ``Target``, ``Thresholds`` — become the
JSON Grafana provisions from files (schema version 39): every query on the one Prometheus
datasource (uid ``prometheus``), panels laid out left to right on Grafana's 24-column
grid and wrapped under the tallest panel of the line, rows and panels numbered in order,
query ``refId``s lettered in order. ``Dashboard.render`` is a pure function of the values
(sorted keys, 2-space indent, trailing newline), so regenerating unchanged code gives the
same bytes.

It deliberately models only what ccpulse's boards use: no template variables or Grafana
interval macros (each query is plain PromQL that Prometheus's HTTP API runs as it stands),
no other datasource, links, overrides, transformations, library panels or alerting. It is
not a general SDK.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypedDict, Unpack

SCHEMA_VERSION = 39
GRID_WIDTH = 24
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}


class Kind(StrEnum):
    TIMESERIES = "timeseries"
    STAT = "stat"
    GAUGE = "gauge"
    BARGAUGE = "bargauge"


class Unit(StrEnum):
    """Grafana unit ids."""

    SECONDS = "s"
    RATIO = "percentunit"
    COUNT = "short"
    BYTES = "bytes"


@dataclass(frozen=True, slots=True)
class Target:
    expr: str
    legend: str

    def __post_init__(self) -> None:
        if not self.expr.strip():
            raise ValueError("a target needs a PromQL expression")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """``base`` colours everything below the first step; each step colours from its value up."""

    base: str = "green"
    steps: tuple[tuple[float, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        steps: list[tuple[float | None, str]] = [(None, self.base), *self.steps]
        return {
            "mode": "absolute",
            "steps": [{"color": color, "value": value} for value, color in steps],
        }


class Options(TypedDict, total=False):
    """What a panel may set beyond its kind, title and queries."""

    unit: Unit
    description: str
    width: int
    height: int
    thresholds: Thresholds
    minimum: float
    maximum: float
    stacked: bool
    no_value: str
    time_from: str


@dataclass(frozen=True, slots=True)
class Panel:
    """One visualisation. Gauges and bar gauges show the latest value (instant queries)."""

    kind: Kind
    title: str
    targets: tuple[Target, ...]
    unit: Unit = Unit.COUNT
    description: str = ""
    width: int = 8
    height: int = 8
    thresholds: Thresholds = field(default_factory=Thresholds)
    minimum: float | None = None
    maximum: float | None = None
    stacked: bool = False
    no_value: str | None = None
    time_from: str | None = None
    """A fixed window shown in the panel header, for totals whose query has that window."""

    def __post_init__(self) -> None:
        if not self.title or not self.targets:
            raise ValueError("a panel needs a title and at least one query")
        if not 1 <= self.width <= GRID_WIDTH or self.height < 1:
            raise ValueError(f"{self.title}: {self.width}x{self.height} does not fit the grid")
        if len(self.targets) > len(string.ascii_uppercase):
            raise ValueError(f"{self.title}: too many queries")

    def to_json(self, panel_id: int, grid: dict[str, int]) -> dict[str, Any]:
        instant = self.kind in (Kind.GAUGE, Kind.BARGAUGE)
        panel: dict[str, Any] = {
            "datasource": DATASOURCE,
            "description": self.description,
            "fieldConfig": {"defaults": self._defaults(), "overrides": []},
            "gridPos": grid,
            "id": panel_id,
            "options": _OPTIONS[self.kind](self),
            "targets": [
                {
                    "datasource": DATASOURCE,
                    "editorMode": "code",
                    "expr": target.expr,
                    "instant": instant,
                    "legendFormat": target.legend,
                    "range": not instant,
                    "refId": ref,
                }
                for ref, target in zip(string.ascii_uppercase, self.targets, strict=False)
            ],
            "title": self.title,
            "type": self.kind.value,
        }
        if self.time_from is not None:
            panel.update({"timeFrom": self.time_from, "hideTimeOverride": False})
        return panel

    def _defaults(self) -> dict[str, Any]:
        series = self.kind is Kind.TIMESERIES
        defaults: dict[str, Any] = {
            "color": {"mode": "palette-classic" if series else "thresholds"},
            "thresholds": self.thresholds.to_json(),
            "unit": self.unit.value,
        }
        optional = {"min": self.minimum, "max": self.maximum, "noValue": self.no_value}
        defaults.update({key: value for key, value in optional.items() if value is not None})
        if series:
            defaults["custom"] = {
                "drawStyle": "line",
                "fillOpacity": 30 if self.stacked else 10,
                "lineWidth": 1,
                "showPoints": "never",
                "spanNulls": False,
                "stacking": {"group": "A", "mode": "normal" if self.stacked else "none"},
                # A threshold on a time series is a line worth seeing (e.g. an alert level).
                "thresholdsStyle": {"mode": "line" if self.thresholds.steps else "off"},
            }
        return defaults


_LATEST = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def _timeseries_options(panel: Panel) -> dict[str, Any]:
    return {
        "legend": {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }


def _stat_options(panel: Panel) -> dict[str, Any]:
    return {
        "colorMode": "background" if panel.thresholds.steps else "value",
        "graphMode": "area",
        "justifyMode": "auto",
        "orientation": "auto",
        "reduceOptions": _LATEST,
        "textMode": "auto",
    }


def _gauge_options(panel: Panel) -> dict[str, Any]:
    return {
        "orientation": "auto",
        "reduceOptions": _LATEST,
        "showThresholdLabels": False,
        "showThresholdMarkers": True,
    }


def _bargauge_options(panel: Panel) -> dict[str, Any]:
    return {
        "displayMode": "gradient",
        "orientation": "horizontal",
        "reduceOptions": _LATEST,
        "showUnfilled": True,
        "valueMode": "color",
    }


_OPTIONS = {
    Kind.TIMESERIES: _timeseries_options,
    Kind.STAT: _stat_options,
    Kind.GAUGE: _gauge_options,
    Kind.BARGAUGE: _bargauge_options,
}


def timeseries(title: str, *targets: Target, **options: Unpack[Options]) -> Panel:
    return Panel(Kind.TIMESERIES, title, targets, **options)


def stat(title: str, *targets: Target, **options: Unpack[Options]) -> Panel:
    return Panel(Kind.STAT, title, targets, **options)


def gauge(title: str, *targets: Target, **options: Unpack[Options]) -> Panel:
    return Panel(Kind.GAUGE, title, targets, **options)


def bargauge(title: str, *targets: Target, **options: Unpack[Options]) -> Panel:
    return Panel(Kind.BARGAUGE, title, targets, **options)


@dataclass(frozen=True, slots=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True, slots=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    time_from: str = "now-6h"
    refresh: str = "30s"

    @property
    def panels(self) -> tuple[Panel, ...]:
        return tuple(panel for row in self.rows for panel in row.panels)

    def to_json(self) -> dict[str, Any]:
        return {
            "annotations": {"list": [_ALERT_ANNOTATIONS]},
            "description": self.description,
            # Provisioned from code: an edit in the UI could not be saved back anyway.
            "editable": False,
            "fiscalYearStartMonth": 0,
            "graphTooltip": 1,
            "id": None,
            "links": [],
            "liveNow": False,
            "panels": layout(self.rows),
            "refresh": self.refresh,
            "schemaVersion": SCHEMA_VERSION,
            "tags": ["ccpulse"],
            "templating": {"list": []},
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "timezone": "browser",
            "title": self.title,
            "uid": self.uid,
            "version": 1,
            "weekStart": "",
        }

    def render(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


_ALERT_ANNOTATIONS = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}


def layout(rows: tuple[Row, ...]) -> list[dict[str, Any]]:
    """Rows one under the other; in a row, panels fill a line and wrap under its tallest."""
    placed: list[dict[str, Any]] = []
    y = 0
    for row in rows:
        placed.append(
            {
                "collapsed": False,
                "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
                "id": len(placed) + 1,
                "panels": [],
                "title": row.title,
                "type": "row",
            }
        )
        y, x, line_height = y + 1, 0, 0
        for panel in row.panels:
            if x + panel.width > GRID_WIDTH:
                y, x, line_height = y + line_height, 0, 0
            grid = {"h": panel.height, "w": panel.width, "x": x, "y": y}
            placed.append(panel.to_json(len(placed) + 1, grid))
            x, line_height = x + panel.width, max(line_height, panel.height)
        y += line_height
    return placed
