"""The voice-of-the-customer board: survey scores and the reasons customers contact us.

Scores as ``processor.metrics.voice`` defines them — CSAT = positive / all answers, NPS =
100 × (promoters − detractors) / all, CES = mean effort score — read from the recording
rules of the ``ccpulse.voice`` group: over the last hour and day, per channel, and by
one- vs multi-touch and first vs repeat contact of the rated ticket, with the number of
answers they rest on. Contact reasons: the top reasons of the day, tickets per hour by
reason and by reason and channel, the share of a reason's tickets that are repeat
contacts, and the configured reasons against ``other``. The operations board shows the
day's CSAT and NPS and the top reasons from here (``CSAT_DAY``, ``NPS_DAY``,
``TOP_REASONS``).

It deliberately puts no hour-against-day comparison on a panel: such a query has data
only while a score drops or a reason spikes, which is what the alerts
(``CcpulseCsatDrop``, ``CcpulseNpsDrop``, ``CcpulseContactReasonSpike``) are for. Windows
are fixed (1 h, 1 d, in the titles), not the dashboard's range: each query must run as it
stands against Prometheus.
"""

from __future__ import annotations

from processor.dashboards.model import (
    Dashboard,
    Panel,
    Row,
    Target,
    Thresholds,
    Unit,
    bargauge,
    stat,
    timeseries,
)

RATIO = Unit.RATIO
CHANNEL = "{{channel}}"
TOUCHES_CONTACT = "{{touches}} touch, {{contact}} contact"
DAY = "24h"
CSAT_LEVELS = Thresholds("red", ((0.7, "orange"), (0.8, "green")))
NPS_LEVELS = Thresholds("red", ((0, "orange"), (30, "green")))
# Below this many tickets a day, one repeat contact moves a reason's share too much.
REPEAT_SHARE_MIN_TICKETS = 10


def answers(window: str) -> tuple[Target, ...]:
    """Answers per survey over ``window``."""
    return (
        Target(f"sum(increase(ccpulse_csat_answers_total[{window}]))", "CSAT"),
        Target(f"sum(increase(ccpulse_nps_answers_total[{window}]))", "NPS"),
        Target(f"sum(increase(ccpulse_ces_score_count[{window}]))", "CES"),
    )


CSAT_MEANS = "Positive answers over all CSAT answers, all channels."
NPS_MEANS = "Promoters minus detractors, as a share of all answers, times 100; all channels."


def _score(title: str, rule: str, unit: Unit, levels: Thresholds, means: str) -> Panel:
    return stat(
        title,
        Target(rule, title),
        unit=unit,
        thresholds=levels,
        description=means,
        no_value="no answers",
        width=4,
        height=5,
    )


CSAT_DAY = _score("CSAT (24 h)", ":ccpulse_csat:ratio_1d", RATIO, CSAT_LEVELS, CSAT_MEANS)
NPS_DAY = _score("NPS (24 h)", ":ccpulse_nps:score_1d", Unit.COUNT, NPS_LEVELS, NPS_MEANS)
TOP_REASONS = bargauge(
    "Top 10 contact reasons (24 h)",
    Target("topk(10, reason:ccpulse_contact_reasons:increase1d)", "{{reason}}"),
    description="Tickets per contact reason in the last day; `other` collects the reasons "
    "not configured in CCPULSE_REASONS.",
    time_from=DAY,
    width=8,
    height=10,
)

SCORES = Row(
    "Scores",
    (
        CSAT_DAY,
        _score("CSAT (1 h)", ":ccpulse_csat:ratio_1h", RATIO, CSAT_LEVELS, CSAT_MEANS),
        NPS_DAY,
        _score("NPS (1 h)", ":ccpulse_nps:score_1h", Unit.COUNT, NPS_LEVELS, NPS_MEANS),
        stat(
            "Customer effort (24 h)",
            Target(":ccpulse_ces:mean_1d", "CES"),
            description="Mean effort score on the configured CES scale: lower is easier.",
            no_value="no answers",
            width=4,
            height=5,
        ),
        stat("Survey answers (24 h)", *answers("1d"), width=4, height=5),
    ),
)

BY_CHANNEL = Row(
    "Scores by channel",
    (
        timeseries(
            "CSAT by channel (1 h)",
            Target("channel:ccpulse_csat:ratio_1h", CHANNEL),
            unit=RATIO,
            minimum=0,
            maximum=1,
            description="Positive answers over all CSAT answers in the last hour. "
            "CcpulseCsatDrop fires when this is 15 points below the channel's day.",
            width=12,
        ),
        timeseries(
            "CSAT by channel (1 d)",
            Target("channel:ccpulse_csat:ratio_1d", CHANNEL),
            unit=RATIO,
            minimum=0,
            maximum=1,
            description="Positive answers over all CSAT answers in the last day.",
            width=12,
        ),
        timeseries(
            "NPS, last hour and last day",
            Target(":ccpulse_nps:score_1h", "last hour"),
            Target(":ccpulse_nps:score_1d", "last day"),
            minimum=-100,
            maximum=100,
            description="Promoters minus detractors, as a share of all answers, times 100, "
            "over all channels. CcpulseNpsDrop fires when the hour is 20 points below the day.",
        ),
        timeseries(
            "NPS by channel (1 d)",
            Target("channel:ccpulse_nps:score_1d", CHANNEL),
            minimum=-100,
            maximum=100,
        ),
        timeseries(
            "Customer effort by channel (1 d)",
            Target("channel:ccpulse_ces:mean_1d", CHANNEL),
            description="Mean effort score on the configured CES scale: lower is easier.",
        ),
    ),
)

TOUCHES = Row(
    "One touch or many, first contact or repeat",
    (
        bargauge(
            "CSAT by touches and contact (24 h)",
            Target("touches_contact:ccpulse_csat:ratio_1d", TOUCHES_CONTACT),
            unit=RATIO,
            minimum=0,
            maximum=1,
            thresholds=CSAT_LEVELS,
            description="By the agent touches the rated ticket had when the answer came "
            "(none yet, one, multi) and whether it was a repeat contact; unknown: a survey on "
            "a ticket ccpulse has not seen.",
            time_from=DAY,
            width=12,
            height=10,
        ),
        bargauge(
            "NPS by touches and contact (24 h)",
            Target("touches_contact:ccpulse_nps:score_1d", TOUCHES_CONTACT),
            minimum=-100,
            maximum=100,
            thresholds=NPS_LEVELS,
            time_from=DAY,
            width=12,
            height=10,
        ),
    ),
)

ANSWERS = Row(
    "Answers",
    (
        timeseries(
            "Survey answers per hour",
            *answers("1h"),
            description="The scores of an hour rest on these: CcpulseCsatDrop needs 20 CSAT "
            "answers on a channel, CcpulseNpsDrop 30 NPS answers in the hour.",
            width=12,
        ),
        timeseries(
            "CSAT answers per hour by channel",
            Target("sum by (channel) (increase(ccpulse_csat_answers_total[1h]))", CHANNEL),
            width=12,
        ),
    ),
)

REASONS = Row(
    "Contact reasons",
    (
        TOP_REASONS,
        timeseries(
            "Tickets per hour by contact reason (top 10)",
            Target("topk(10, reason:ccpulse_contact_reasons:increase1h)", "{{reason}}"),
            description="Tickets counted under a reason in the last hour, less those that "
            "moved to another reason. CcpulseContactReasonSpike fires above 3 times a "
            "reason's hourly average of the day.",
            width=16,
            height=10,
        ),
        timeseries(
            "Tickets per hour by contact reason and channel (top 10)",
            Target(
                "topk(10, reason_channel:ccpulse_contact_reasons:increase1h)",
                "{{reason}} on {{channel}}",
            ),
            width=12,
        ),
        timeseries(
            "Tickets per hour: configured reasons and other",
            Target(
                'sum(reason:ccpulse_contact_reasons:increase1h{reason!="other"})',
                "configured reasons",
            ),
            Target('reason:ccpulse_contact_reasons:increase1h{reason="other"}', "other"),
            stacked=True,
            description="other: a reason not configured in CCPULSE_REASONS. When it grows, "
            "customers contact us about something the list does not name.",
            width=12,
        ),
    ),
)

REPEATS = Row(
    "Reasons that bring customers back",
    (
        bargauge(
            "Repeat-contact share by contact reason (24 h)",
            Target(
                "topk(10, reason:ccpulse_repeat_contacts:ratio_1d"
                " and on (reason)"
                f" reason:ccpulse_contact_reasons:increase1d >= {REPEAT_SHARE_MIN_TICKETS})",
                "{{reason}}",
            ),
            unit=RATIO,
            minimum=0,
            maximum=1,
            description="The share of a reason's tickets in the last day that were repeat "
            "contacts (the customer had another ticket within the repeat window): the ten "
            f"highest among reasons with at least {REPEAT_SHARE_MIN_TICKETS} tickets.",
            time_from=DAY,
            width=12,
            height=10,
        ),
        bargauge(
            "Repeat contacts by contact reason (24 h)",
            Target(
                "topk(10, reason:ccpulse_repeat_contacts:ratio_1d"
                " * reason:ccpulse_contact_reasons:increase1d)",
                "{{reason}}",
            ),
            description="Tickets that were a repeat contact, by the reason they were opened for.",
            time_from=DAY,
            width=12,
            height=10,
        ),
    ),
)

VOICE = Dashboard(
    uid="ccpulse-voice",
    title="ccpulse — Voice of the customer",
    description="CSAT, NPS and customer effort per channel, by touches and first or repeat "
    "contact; contact reasons, and the reasons that bring customers back.",
    rows=(SCORES, BY_CHANNEL, TOUCHES, ANSWERS, REASONS, REPEATS),
    time_from="now-24h",
    refresh="1m",
)
