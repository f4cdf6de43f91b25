"""The SLA board: compliance, breaches and warnings, and the targets running now.

Per channel, priority and SLA target (first response, next response, resolution):
compliance over the last hour, breach and warning rates, targets at risk and overdue, the
time to the next breach, overdue first responses per priority, and met-versus-breached
totals over the last 24 hours. Channel and target breakdowns read the recording rules;
per-priority ones query the raw series, which no rule aggregates that way.

It deliberately says nothing about which policy applied to a ticket or about single
tickets (that is the ``cc.sla-events`` audit trail), and the 24-hour totals are a fixed
window (shown in the panel header), not the dashboard's time range: each query must run
as it stands against Prometheus, without Grafana's macros.
"""

from __future__ import annotations

from processor.core.sla import Target as SlaTarget
from processor.dashboards.model import (
    Dashboard,
    Panel,
    Row,
    Target,
    Thresholds,
    Unit,
    bargauge,
    timeseries,
)

RATIO = Unit.RATIO
DAY = "24h"


def _compliance(target: SlaTarget) -> Panel:
    name = target.value.replace("_", " ").capitalize()
    return timeseries(
        f"{name} compliance by channel (1 h)",
        Target(
            f'channel_target:ccpulse_sla_compliance:ratio_1h{{target="{target}"}}', "{{channel}}"
        ),
        unit=RATIO,
        minimum=0,
        maximum=1,
        description="Targets met over targets met or breached in the last hour.",
    )


def _label(name: str) -> str:
    return "{{" + name + "}}"


def _per_hour(title: str, label: str, rate: str) -> Panel:
    return timeseries(title, Target(f"3600 * sum by ({label}) ({rate})", _label(label)))


def _totals(label: str) -> Panel:
    return bargauge(
        f"Met and breached by {label} (24 h)",
        Target(f"sum by ({label}) (increase(ccpulse_sla_met_total[1d]))", f"{_label(label)} met"),
        Target(
            f"sum by ({label}) (increase(ccpulse_sla_breaches_total[1d]))",
            f"{_label(label)} breached",
        ),
        time_from=DAY,
    )


COMPLIANCE = Row("Compliance", tuple(_compliance(target) for target in SlaTarget))

BREACH_RULE = "channel_target:ccpulse_sla_breaches:rate5m"
BREACHES = Row(
    "Breaches and warnings",
    (
        _per_hour("Breaches per hour by channel", "channel", BREACH_RULE),
        _per_hour(
            "Breaches per hour by priority", "priority", "rate(ccpulse_sla_breaches_total[5m])"
        ),
        _per_hour("Breaches per hour by target", "target", BREACH_RULE),
        _per_hour(
            "Warnings per hour by channel", "channel", "rate(ccpulse_sla_warnings_total[5m])"
        ),
        _per_hour(
            "Warnings per hour by priority", "priority", "rate(ccpulse_sla_warnings_total[5m])"
        ),
        _per_hour("Warnings per hour by target", "target", "rate(ccpulse_sla_warnings_total[5m])"),
    ),
)

RUNNING = Row(
    "Running targets",
    (
        timeseries(
            "At risk by target",
            Target(
                "sum by (target) (channel_target:ccpulse_sla_tickets_at_risk:sum)", "{{target}}"
            ),
            stacked=True,
            description="Running targets past their first warning and not yet breached.",
        ),
        timeseries(
            "Overdue by target",
            Target(
                "sum by (target) (channel_target:ccpulse_sla_tickets_overdue:sum)", "{{target}}"
            ),
            stacked=True,
            description="Running targets past their deadline: breached and still not met.",
        ),
        timeseries(
            "Seconds to next breach by channel",
            Target("channel:ccpulse_sla_seconds_to_next_breach:min", "{{channel}}"),
            unit=Unit.SECONDS,
            description="A channel with no running target has no line.",
        ),
        bargauge(
            "First response overdue by priority",
            Target(
                'sum by (priority) (ccpulse_sla_tickets_overdue{target="first_response"})',
                "{{priority}}",
            ),
            thresholds=Thresholds("green", ((1, "red"),)),
            description="Tickets still waiting for a first response past its deadline.",
        ),
        bargauge(
            "At risk by channel",
            Target(
                "sum by (channel) (channel_target:ccpulse_sla_tickets_at_risk:sum)", "{{channel}}"
            ),
            thresholds=Thresholds("green", ((1, "orange"),)),
        ),
        bargauge(
            "Overdue by channel",
            Target(
                "sum by (channel) (channel_target:ccpulse_sla_tickets_overdue:sum)", "{{channel}}"
            ),
            thresholds=Thresholds("green", ((1, "red"),)),
        ),
    ),
)

DAILY = Row(
    "Last 24 hours",
    (
        _totals("target"),
        _totals("channel"),
        bargauge(
            "Compliance by target (24 h)",
            Target(
                "sum by (target) (increase(ccpulse_sla_met_total[1d]))"
                " / (sum by (target) (increase(ccpulse_sla_met_total[1d]))"
                " + sum by (target) (increase(ccpulse_sla_breaches_total[1d])) > 0)",
                "{{target}}",
            ),
            unit=RATIO,
            minimum=0,
            maximum=1,
            thresholds=Thresholds("red", ((0.8, "orange"), (0.9, "green"))),
            time_from=DAY,
        ),
    ),
)

FIRST_RESPONSE = Row(
    "First response by channel and priority",
    (
        bargauge(
            "First response time p50 (5 m)",
            Target(
                "channel_priority:ccpulse_first_response_seconds:p50_5m", "{{channel}} {{priority}}"
            ),
            unit=Unit.SECONDS,
            width=12,
            height=12,
        ),
        bargauge(
            "First response time p90 (5 m)",
            Target(
                "channel_priority:ccpulse_first_response_seconds:p90_5m", "{{channel}} {{priority}}"
            ),
            unit=Unit.SECONDS,
            width=12,
            height=12,
        ),
    ),
)

SLA = Dashboard(
    uid="ccpulse-sla",
    title="ccpulse — SLA",
    description="SLA compliance, breaches and warnings per channel, priority and target; "
    "targets at risk and overdue now.",
    rows=(COMPLIANCE, BREACHES, RUNNING, DAILY, FIRST_RESPONSE),
    time_from="now-24h",
    refresh="1m",
)
