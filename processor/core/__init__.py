"""The pure core: every number ccpulse reports is decided here.

No I/O, no clock, no framework (enforced by ``processor/core/ruff.toml``). The shell feeds
events in and turns the returned effects into metrics and derived messages.
"""

from processor.core.effects import (
    CallCompleted,
    DuplicateIgnored,
    Effect,
    FirstResponded,
    FirstResponseCorrected,
    ReasonCounted,
    ReasonKey,
    Reopened,
    Resolved,
    SurveyAnswered,
    TicketOpened,
)
from processor.core.facts import Fact, FactKind, facts_of
from processor.core.ticket import TicketState, Transition, derive, fold, fold_all
from processor.core.ticket_metrics import TicketMetrics

__all__ = [
    "CallCompleted",
    "DuplicateIgnored",
    "Effect",
    "Fact",
    "FactKind",
    "FirstResponded",
    "FirstResponseCorrected",
    "ReasonCounted",
    "ReasonKey",
    "Reopened",
    "Resolved",
    "SurveyAnswered",
    "TicketMetrics",
    "TicketOpened",
    "TicketState",
    "Transition",
    "derive",
    "facts_of",
    "fold",
    "fold_all",
]
