"""The customer-voice row of the operations board: survey scores and contact reasons.

Scores over the last day, computed from the answer counters as ``processor.metrics.voice``
defines them: CSAT = positive / all answers, NPS = 100 × (promoters − detractors) / all,
CES = mean effort score; per channel, and CSAT by one- vs multi-touch and first vs repeat
contact. Tickets per contact reason are counted minus those that moved away from it.

It deliberately queries the raw counters (no recording rule aggregates them) and shows a
day, not the dashboard's range: survey answers arrive slowly, and each query must run as
it stands against Prometheus.
"""

from __future__ import annotations

from processor.dashboards.model import Row, Target, Unit, bargauge, timeseries

DAY = "1d"


def share(counter: str, matcher: str, by: str) -> str:
    """The share of ``counter``'s increase over a day that ``matcher`` selects, ``by`` labels."""
    part = f"sum by ({by}) (increase({counter}{{{matcher}}}[{DAY}]))"
    return f"{part} / (sum by ({by}) (increase({counter}[{DAY}])) > 0)"


def tickets_per_reason(contact: str = "") -> str:
    """Tickets counted under each reason over a day, less those that left it again."""
    matcher = f'{{contact="{contact}"}}' if contact else ""
    return " - ".join(
        f"sum by (reason) (increase(ccpulse_contact_reasons{kind}_total{matcher}[{DAY}]))"
        for kind in ("", "_moved_away")
    )


def _nps(by: str) -> str:
    answers = "ccpulse_nps_answers_total"
    return (
        f'100 * (sum by ({by}) (increase({answers}{{group="promoter"}}[{DAY}]))'
        f' - sum by ({by}) (increase({answers}{{group="detractor"}}[{DAY}])))'
        f" / (sum by ({by}) (increase({answers}[{DAY}])) > 0)"
    )


VOICE = Row(
    "Customer voice (1 d)",
    (
        timeseries(
            "CSAT by channel",
            Target(
                share("ccpulse_csat_answers_total", 'answer="positive"', "channel"), "{{channel}}"
            ),
            unit=Unit.RATIO,
            minimum=0,
            maximum=1,
            description="Positive answers over all CSAT answers in the last day.",
        ),
        timeseries(
            "NPS by channel",
            Target(_nps("channel"), "{{channel}}"),
            minimum=-100,
            maximum=100,
            description="Promoters minus detractors, as a share of all answers, times 100.",
        ),
        timeseries(
            "Customer effort by channel",
            Target(
                f"sum by (channel) (increase(ccpulse_ces_score_sum[{DAY}]))"
                f" / (sum by (channel) (increase(ccpulse_ces_score_count[{DAY}])) > 0)",
                "{{channel}}",
            ),
            description="Mean effort score on the configured CES scale (lower is easier).",
        ),
        bargauge(
            "CSAT by touches and contact",
            Target(
                share("ccpulse_csat_answers_total", 'answer="positive"', "touches, contact"),
                "{{touches}} touch, {{contact}} contact",
            ),
            unit=Unit.RATIO,
            minimum=0,
            maximum=1,
            time_from="24h",
        ),
        bargauge(
            "Tickets by contact reason",
            Target(tickets_per_reason(), "{{reason}}"),
            time_from="24h",
        ),
        bargauge(
            "Repeat contacts by contact reason",
            Target(tickets_per_reason("repeat"), "{{reason}}"),
            time_from="24h",
            description="Tickets that were a repeat contact, by the reason they were opened for.",
        ),
    ),
)
