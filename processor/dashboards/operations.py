"""The operations wall board: how the contact center is doing right now, per channel.

For a screen on the floor: backlog and who is waiting, first-response and resolution
times, the SLA state, quality (repeat contacts, FCR, one-touch, reopens, touches), the
day's CSAT and NPS with the top contact reasons, and the phone queue. Per-channel panels
read the recording rules; the figures no rule covers (reopens, touches, speed of answer,
call volume) query the raw series.

It deliberately shows no per-priority or per-target breakdown (the SLA board has those),
no survey breakdown (the voice-of-the-customer board, ``voice``) and nothing about the
processor itself (the processor health board).
"""

from __future__ import annotations

from dataclasses import replace

from processor.dashboards.model import (
    Dashboard,
    Row,
    Target,
    Thresholds,
    Unit,
    bargauge,
    gauge,
    stat,
    timeseries,
)
from processor.dashboards.voice import CSAT_DAY, NPS_DAY, TOP_REASONS

S, RATIO = Unit.SECONDS, Unit.RATIO
CHANNEL = "{{channel}}"
# Red when the next breach is under 5 minutes away, amber under 15.
BREACH_SOON = Thresholds("red", ((300, "orange"), (900, "green")))


def quantile(q: float, histogram: str, window: str) -> str:
    """The quantile over all label values, only while the window saw observations."""
    return (
        f"histogram_quantile({q}, sum by (le) (rate({histogram}_bucket[{window}])))"
        f" and on () (sum(rate({histogram}_count[{window}])) > 0)"
    )


def mean(histogram: str, window: str) -> str:
    return f"sum(rate({histogram}_sum[{window}])) / (sum(rate({histogram}_count[{window}])) > 0)"


NOW = Row(
    "Right now",
    (
        stat(
            "Open tickets",
            Target("sum(channel:ccpulse_tickets_open:sum)", "open"),
            width=4,
            height=5,
        ),
        stat(
            "Awaiting first response",
            Target("sum(channel:ccpulse_tickets_awaiting_first_response:sum)", "awaiting"),
            width=4,
            height=5,
        ),
        stat(
            "Oldest waiting",
            Target("max(channel:ccpulse_oldest_awaiting_first_response_seconds:max)", "oldest"),
            unit=S,
            description="Age of the oldest open ticket that has had no human response yet.",
            width=4,
            height=5,
        ),
        stat(
            "SLA targets at risk",
            Target("sum(channel_target:ccpulse_sla_tickets_at_risk:sum)", "at risk"),
            description="Running targets past their first warning and not yet breached.",
            thresholds=Thresholds("green", ((1, "orange"),)),
            width=4,
            height=5,
        ),
        stat(
            "SLA targets overdue",
            Target("sum(channel_target:ccpulse_sla_tickets_overdue:sum)", "overdue"),
            description="Running targets past their deadline: breached and still not met.",
            thresholds=Thresholds("green", ((1, "red"),)),
            width=4,
            height=5,
        ),
        stat(
            "Next SLA breach in",
            Target("min(channel:ccpulse_sla_seconds_to_next_breach:min)", "next breach"),
            unit=S,
            thresholds=BREACH_SOON,
            no_value="nothing running",
            width=4,
            height=5,
        ),
    ),
)

FIRST_RESPONSE = Row(
    "First response",
    (
        timeseries(
            "First response time p90 by channel (5 m)",
            Target("channel:ccpulse_first_response_seconds:p90_5m", CHANNEL),
            unit=S,
        ),
        timeseries(
            "First response time p50 by channel (5 m)",
            Target("channel:ccpulse_first_response_seconds:p50_5m", CHANNEL),
            unit=S,
        ),
        timeseries(
            "Awaiting first response by channel",
            Target("channel:ccpulse_tickets_awaiting_first_response:sum", CHANNEL),
            stacked=True,
        ),
    ),
)

BACKLOG = Row(
    "Backlog and volume",
    (
        timeseries(
            "Open tickets by channel",
            Target("channel:ccpulse_tickets_open:sum", CHANNEL),
            stacked=True,
        ),
        bargauge(
            "Oldest waiting by channel",
            Target("channel:ccpulse_oldest_awaiting_first_response_seconds:max", CHANNEL),
            unit=S,
            description="0 when nothing on the channel awaits a first response.",
        ),
        timeseries(
            "Tickets created and resolved per minute",
            Target("60 * channel:ccpulse_tickets_created:rate5m", "{{channel}} created"),
            Target("60 * channel:ccpulse_tickets_resolved:rate5m", "{{channel}} resolved"),
        ),
    ),
)

SLA = Row(
    "SLA",
    (
        timeseries(
            "SLA targets at risk and overdue",
            Target(
                "sum by (target) (channel_target:ccpulse_sla_tickets_at_risk:sum)",
                "{{target}} at risk",
            ),
            Target(
                "sum by (target) (channel_target:ccpulse_sla_tickets_overdue:sum)",
                "{{target}} overdue",
            ),
        ),
        timeseries(
            "SLA breaches per hour by target",
            Target(
                "3600 * sum by (target) (channel_target:ccpulse_sla_breaches:rate5m)",
                "{{target}}",
            ),
        ),
        bargauge(
            "Next SLA breach by channel",
            Target("channel:ccpulse_sla_seconds_to_next_breach:min", CHANNEL),
            unit=S,
            thresholds=BREACH_SOON,
            description="Channels with no running SLA target are not shown.",
        ),
    ),
)

QUALITY = Row(
    "Resolution and quality",
    (
        timeseries(
            "Resolution time p50 and p90 by channel (1 h)",
            Target("channel:ccpulse_resolution_seconds:p50_1h", "{{channel}} p50"),
            Target("channel:ccpulse_resolution_seconds:p90_1h", "{{channel}} p90"),
            unit=S,
        ),
        timeseries(
            "Repeat-contact rate by channel (1 h)",
            Target("channel_window:ccpulse_repeat_contacts:ratio_1h", "{{channel}} ({{window}})"),
            unit=RATIO,
            description="Repeat contacts among the tickets created on the channel, per window.",
        ),
        timeseries(
            "First-contact resolution rate by channel (1 d)",
            Target("channel:ccpulse_fcr:ratio_1d", CHANNEL),
            unit=RATIO,
            minimum=0,
            maximum=1,
        ),
        timeseries(
            "One-touch resolution rate by channel (1 h)",
            Target("channel:ccpulse_one_touch_resolutions:ratio_1h", CHANNEL),
            unit=RATIO,
            minimum=0,
            maximum=1,
        ),
        timeseries(
            "Reopens per resolution by channel (1 h)",
            Target(
                "sum by (channel) (increase(ccpulse_ticket_reopens_total[1h]))"
                " / (sum by (channel) (increase(ccpulse_tickets_resolved_total[1h])) > 0)",
                CHANNEL,
            ),
            unit=RATIO,
        ),
        timeseries(
            "Touches per resolution (1 h)",
            Target(mean("ccpulse_touches_per_resolution", "1h"), "mean"),
            Target(quantile(0.9, "ccpulse_touches_per_resolution", "1h"), "p90"),
        ),
    ),
)

# Tall enough to read across the floor, beside the ten reasons.
VOICE = Row(
    "Customer voice",
    (
        replace(CSAT_DAY, height=10),
        replace(NPS_DAY, height=10),
        replace(TOP_REASONS, width=16),
    ),
)

PHONE = Row(
    "Phone",
    (
        gauge(
            "Call service level (15 m)",
            Target(":ccpulse_call_service_level:ratio_15m", "service level"),
            unit=RATIO,
            minimum=0,
            maximum=1,
            thresholds=Thresholds("red", ((0.7, "orange"), (0.8, "green"))),
            description="Calls answered within the threshold over the calls that count.",
            width=4,
        ),
        gauge(
            "Abandonment (15 m)",
            Target(":ccpulse_call_abandonment:ratio_15m", "abandoned"),
            unit=RATIO,
            minimum=0,
            maximum=0.25,
            thresholds=Thresholds("green", ((0.05, "orange"), (0.1, "red"))),
            description="Abandoned calls (short abandons excluded) over answered + abandoned.",
            width=4,
        ),
        timeseries(
            "Speed of answer (5 m)",
            Target(quantile(0.5, "ccpulse_call_answer_seconds", "5m"), "p50"),
            Target(quantile(0.9, "ccpulse_call_answer_seconds", "5m"), "p90"),
            Target(mean("ccpulse_call_answer_seconds", "5m"), "mean"),
            unit=S,
        ),
        timeseries(
            "Calls per minute",
            Target("60 * sum(rate(ccpulse_calls_answered_total[5m]))", "answered"),
            Target('60 * sum(rate(ccpulse_calls_abandoned_total{short="false"}[5m]))', "abandoned"),
            Target(
                '60 * sum(rate(ccpulse_calls_abandoned_total{short="true"}[5m]))',
                "short abandons",
            ),
        ),
    ),
)

OPERATIONS = Dashboard(
    uid="ccpulse-operations",
    title="ccpulse — Operations wall board",
    description="Backlog, waiting customers, response and resolution times, SLA, quality, "
    "CSAT, NPS and top contact reasons, and the phone queue, per channel.",
    rows=(NOW, FIRST_RESPONSE, BACKLOG, SLA, QUALITY, VOICE, PHONE),
    time_from="now-6h",
    refresh="30s",
)
