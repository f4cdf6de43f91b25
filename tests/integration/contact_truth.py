"""What ccpulse must report for a ``contact_scenario`` stream, from its plans alone.

Plain arithmetic on the plans, written without ``processor.core`` so that the reference
shares no code with what it checks: tickets, resolutions, reopens and first responses per
channel and priority, the backlog, the first-response SLA audit ids under ``POLICIES`` (no
calendar, no pauses: breached iff the first answer came after the target or never, warned
iff after half of it, met iff answered in time), repeat flags and FCR verdicts, call and
survey counts. It deliberately says nothing about what depends on arrival order (see
``SUMMED_OVER``) or on when a scrape happens.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any, Protocol, TypedDict

from tests.integration.contact_scenario import (
    FCR_WINDOW,
    POLICY_VERSION,
    SHORT_ABANDON_S,
    TARGETS_S,
    WARN_SHARE,
    WINDOWS,
    Plan,
)


def predecessors(plans: dict[str, Plan]) -> dict[str, Plan]:
    """Ticket -> the same customer's ticket opened just before it."""
    by_customer: dict[str, list[Plan]] = defaultdict(list)
    for plan in plans.values():
        by_customer[plan.customer].append(plan)
    found = {}
    for own in by_customer.values():
        own.sort(key=lambda p: p.order)
        found.update({later.ticket: earlier for earlier, later in itertools.pairwise(own)})
    return found


def expected_repeats(plans: dict[str, Plan]) -> dict[str, tuple[str, float, str, frozenset[str]]]:
    """Ticket -> (repeat_of, gap seconds, previous channel, windows) for repeat contacts."""
    found = {}
    for ticket, previous in predecessors(plans).items():
        gap = plans[ticket].opened - previous.opened
        windows = frozenset(label for label, length in WINDOWS if gap <= length)
        if windows:
            found[ticket] = (previous.ticket, gap.total_seconds(), previous.channel, windows)
    return found


def expected_fcr(plans: dict[str, Plan]) -> dict[str, bool]:
    """Resolved ticket -> FCR: no reopen, and the customer opened nothing after it before
    the window after its (latest) resolution closed."""
    later: dict[str, list[Plan]] = defaultdict(list)
    for plan in plans.values():
        later[plan.customer].append(plan)
    verdicts = {}
    for plan in plans.values():
        if plan.resolved is None:
            continue
        closes = plan.resolved + FCR_WINDOW
        came_back = any(
            other.order > plan.order and other.opened <= closes for other in later[plan.customer]
        )
        verdicts[plan.ticket] = plan.reopens == 0 and not came_back
    return verdicts


def first_response_audit(plan: Plan) -> dict[str, str]:
    """Kind -> id of the ticket's first-response audit events once every deadline passed:
    applied; a warning past half the target and a breach past it unless the timer stopped
    (the answer, or an end without one) first; met when answered in time."""
    base = f"{plan.ticket}/first_response/0"
    target = timedelta(seconds=TARGETS_S[plan.channel])
    found = {"applied": f"{base}/applied/{plan.channel}@{POLICY_VERSION}"}
    ended = plan.closed if plan.resolved is not None or plan.abandoned else None
    stop = min((m for m in (plan.response, ended) if m is not None), default=None)
    if stop is None or stop > plan.opened + target * WARN_SHARE:
        found["warning"] = f"{base}/warning/{WARN_SHARE:g}"
    if stop is None or stop > plan.opened + target:
        found["breached"] = f"{base}/breached"
    elif stop == plan.response:
        found["met"] = f"{base}/met"
    return found


def expected_sla_ids(plans: dict[str, Plan]) -> set[str]:
    return {sla_id for plan in plans.values() for sla_id in first_response_audit(plan).values()}


def expected_snapshot(
    plan: Plan, repeat: tuple[str, float, str, frozenset[str]] | None, fcr: bool | None
) -> dict[str, Any]:
    """The snapshot fields the plan decides (times as datetimes, windows as a set)."""
    resolved_at = plan.resolved if plan.closed is not None else None
    resolved = resolved_at is not None
    status = {"phone": "abandoned" if plan.abandoned else "solved"}.get(plan.channel, "solved")
    return {
        "customer_id": plan.customer,
        "channel": plan.channel,
        "priority": plan.priority,
        "status": status if plan.closed is not None else None,
        "opened_at": plan.opened,
        "first_inbound_at": plan.opened,
        "first_response_at": plan.response,
        "first_response_seconds": (plan.response - plan.opened).total_seconds()
        if plan.response
        else None,
        "touches": plan.touches,
        "resolved_at": plan.resolved,
        "resolution_seconds": (resolved_at - plan.opened).total_seconds()
        if resolved_at is not None
        else None,
        "resolutions": plan.resolutions,
        "reopens": plan.reopens,
        "one_touch": (plan.touches == 1 and plan.reopens == 0) if resolved else None,
        "is_open": plan.is_open,
        "awaiting_first_response": plan.is_open and plan.response is None,
        "events": plan.events,
        "repeat_of": repeat[0] if repeat else None,
        "repeat_gap_seconds": repeat[1] if repeat else None,
        "repeat_previous_channel": repeat[2] if repeat else None,
        "repeat_windows": repeat[3] if repeat else frozenset(),
        "fcr": fcr,
    }


SNAPSHOT_FIELDS = tuple(expected_snapshot(Plan("", "", "phone", datetime(2026, 1, 1)), None, None))


def expected_snapshots(plans: dict[str, Plan], *, verdicts: bool) -> dict[str, dict[str, Any]]:
    """Every ticket's expected snapshot; ``verdicts``: FCR windows have all closed."""
    repeats, fcr = expected_repeats(plans), expected_fcr(plans) if verdicts else {}
    return {
        ticket: expected_snapshot(plan, repeats.get(ticket), fcr.get(ticket))
        for ticket, plan in plans.items()
    }


def published_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot from ``cc.ticket-metrics`` in the form of ``expected_snapshot``."""
    found = {name: snapshot.get(name) for name in SNAPSHOT_FIELDS}
    for name in ("opened_at", "first_inbound_at", "first_response_at", "resolved_at"):
        if (stamp := found[name]) is not None:
            found[name] = datetime.fromisoformat(stamp)
    found["repeat_windows"] = frozenset(found["repeat_windows"] or ())
    return found


Key = tuple[str, tuple[tuple[str, str], ...]]


class TicketLabels(TypedDict):
    """The labels every per-ticket counter has."""

    channel: str
    priority: str


class AddSample(Protocol):
    """Adds ``amount`` to the counter sample ``name`` with ``labels``."""

    def __call__(self, name: str, amount: int = 1, **labels: str) -> None: ...


def expected_counters(plans: dict[str, Plan], *, verdicts: bool) -> Counter[Key]:
    """Counter samples (name, sorted labels) -> value, for the counters the plan decides."""
    found: Counter[Key] = Counter()

    def add(name: str, amount: int = 1, **labels: str) -> None:
        found[(name, tuple(sorted(labels.items())))] += amount

    kinds = {"warning": "warnings", "breached": "breaches", "met": "met"}
    for plan in plans.values():
        labels: TicketLabels = {"channel": plan.channel, "priority": plan.priority}
        add("ccpulse_tickets_created_total", **labels)
        add("ccpulse_tickets_resolved_total", plan.resolutions, **labels)
        add("ccpulse_ticket_reopens_total", plan.reopens, **labels)
        if plan.response is not None:
            add("ccpulse_first_response_seconds_count", **labels)
        add("ccpulse_one_touch_resolutions_total", plan.one_touch_resolutions, **labels)
        for kind in first_response_audit(plan).keys() & kinds.keys():
            add(f"ccpulse_sla_{kinds[kind]}_total", target="first_response", **labels)
        if plan.call_wait_s is not None:
            _call(add, plan.call_wait_s, answered=not plan.abandoned)
        for kind, score in plan.surveys:
            _survey(add, plan.channel, kind, score)
    for ticket, (_, _, _, windows) in expected_repeats(plans).items():
        for window in windows:
            add("ccpulse_repeat_contacts_total", window=window, channel=plans[ticket].channel)
    for ticket, fcr in (expected_fcr(plans) if verdicts else {}).items():
        verdict = "positive" if fcr else "negative"
        add("ccpulse_fcr_verdicts_total", channel=plans[ticket].channel, verdict=verdict)
    return found


def _call(add: AddSample, wait_s: float, *, answered: bool) -> None:
    if answered:
        add("ccpulse_calls_answered_total")
        add(
            "ccpulse_call_service_level_calls_total", result="within" if wait_s <= 20 else "outside"
        )
    else:
        add("ccpulse_calls_abandoned_total", short="true" if wait_s < SHORT_ABANDON_S else "false")
        if wait_s >= SHORT_ABANDON_S:
            add("ccpulse_call_service_level_calls_total", result="outside")


def _survey(add: AddSample, channel: str, kind: str, score: int) -> None:
    if kind == "csat":
        answer = "positive" if score >= 4 else "not_positive"
        add("ccpulse_csat_answers_total", channel=channel, answer=answer)
    elif kind == "nps":
        group = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        add("ccpulse_nps_answers_total", channel=channel, group=group)
    else:
        add("ccpulse_ces_score_count", channel=channel)


SUMMED_OVER = {
    "ccpulse_repeat_contacts_total": ("previous_channel",),
    "ccpulse_csat_answers_total": ("touches", "contact"),
    "ccpulse_nps_answers_total": ("touches", "contact"),
    "ccpulse_ces_score_count": ("touches", "contact"),
}
"""Labels that depend on what had arrived when a value was counted (the repeat flag and
touches a survey answer found, the previous ticket known when a window was first
counted): compared summed over."""


def comparable(samples: dict[Key, float]) -> Counter[Key]:
    """Scraped samples of the counters ``expected_counters`` knows, in its label sets."""
    names = {
        "ccpulse_tickets_created_total",
        "ccpulse_tickets_resolved_total",
        "ccpulse_ticket_reopens_total",
        "ccpulse_first_response_seconds_count",
        "ccpulse_one_touch_resolutions_total",
        "ccpulse_sla_warnings_total",
        "ccpulse_sla_breaches_total",
        "ccpulse_sla_met_total",
        "ccpulse_calls_answered_total",
        "ccpulse_call_service_level_calls_total",
        "ccpulse_calls_abandoned_total",
        "ccpulse_fcr_verdicts_total",
        *SUMMED_OVER,
    }
    found: Counter[Key] = Counter()
    for (name, labels), value in samples.items():
        if name in names and value:
            dropped = SUMMED_OVER.get(name, ())
            found[(name, tuple(pair for pair in labels if pair[0] not in dropped))] += _count(value)
    return found


def _count(value: float) -> int:
    """A counter sample as the whole number it is (the exposition format has only floats)."""
    count = int(value)
    assert count == value, f"a counter sample that is not a whole number: {value}"
    return count


GAUGES = (
    "ccpulse_tickets_open",
    "ccpulse_tickets_awaiting_first_response",
    "ccpulse_sla_tickets_at_risk",
    "ccpulse_sla_tickets_overdue",
)


def expected_gauges(plans: dict[str, Plan], *, deadlines_passed: bool) -> Counter[Key]:
    """Backlog gauges (non-zero samples) once every ticket's events are in. With
    ``deadlines_passed`` every first-response timer still running is overdue and none is
    merely at risk."""
    found: Counter[Key] = Counter()
    for plan in plans.values():
        if not plan.is_open:
            continue
        labels = (("channel", plan.channel), ("priority", plan.priority))
        found[("ccpulse_tickets_open", labels)] += 1
        if plan.response is None:
            found[("ccpulse_tickets_awaiting_first_response", labels)] += 1
            if deadlines_passed:
                found[("ccpulse_sla_tickets_overdue", (*labels, ("target", "first_response")))] += 1
    return found


def gauges(samples: dict[Key, float]) -> Counter[Key]:
    """The non-zero samples of ``GAUGES`` in scrapes (summed, when several are given)."""
    return Counter({key: value for key, value in samples.items() if key[0] in GAUGES and value})


Published = list[tuple[float, dict[str, Any]]]


def check_outputs(
    plans: dict[str, Plan], snapshots: Published, sla_events: Published, repeats: Published
) -> None:
    """Assert that the derived topics say what the plans do: the last snapshot of every
    ticket, the set of SLA audit ids, each ticket's last repeat flag, every FCR verdict."""
    latest = {m["ticket_id"]: published_snapshot(m) for _, m in snapshots}
    expected = expected_snapshots(plans, verdicts=True)
    wrong = sorted(t for t in expected.keys() | latest.keys() if latest.get(t) != expected.get(t))
    if wrong:
        got, want = latest.get(wrong[0]) or {}, expected.get(wrong[0]) or {}
        fields = {f: (got.get(f), want.get(f)) for f in want.keys() | got.keys()}
        example = {f: pair for f, pair in fields.items() if pair[0] != pair[1]}
        raise AssertionError(f"{len(wrong)} snapshots differ, e.g. {wrong[0]}: {example}")
    ids = {m["event_id"] for _, m in sla_events}
    expected_ids = expected_sla_ids(plans)
    missing, unexpected = sorted(expected_ids - ids), sorted(ids - expected_ids)
    assert (missing, unexpected) == ([], []), f"SLA ids missing {missing[:5]}, {unexpected[:5]}"
    flags = {
        m["ticket_id"]: (
            m["repeat_of"],
            m["gap_seconds"],
            m["previous_channel"],
            frozenset(m["windows"]),
        )
        for _, m in repeats
        if m["type"] == "repeat_contact"
    }
    assert flags == expected_repeats(plans)
    verdicts = {m["ticket_id"]: m["fcr"] for _, m in repeats if m["type"] == "fcr_verdict"}
    assert verdicts == expected_fcr(plans)
