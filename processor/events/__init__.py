"""Event contracts of the six source topics.

Each source system writes one topic; each topic carries a closed set of event types
discriminated by ``type``. Readers are tolerant (unknown fields are ignored) but strict
where a wrong value would corrupt a metric: timestamps must carry a time zone, scores
must lie on their scale, ids must be non-empty.
"""

from processor.events.calls import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallEvent,
    CallOutbound,
    CallQueued,
    CallTransferred,
)
from processor.events.chats import ChatEnded, ChatEvent, ChatMessage, ChatStarted
from processor.events.common import Author, Channel, Envelope, Priority, TicketStatus
from processor.events.emails import EmailEvent, EmailReceived, EmailSent
from processor.events.social import SocialEvent, SocialReceived, SocialReplied
from processor.events.sources import (
    SOURCE_MODELS,
    SourceEvent,
    SourceKind,
    event_models,
    source_of,
    ticket_key,
)
from processor.events.surveys import (
    CesAnswered,
    CsatAnswered,
    NpsAnswered,
    SurveyEvent,
)
from processor.events.tickets import (
    TicketAssigned,
    TicketCommented,
    TicketCreated,
    TicketEvent,
    TicketPriorityChanged,
    TicketReasonSet,
    TicketStatusChanged,
)

__all__ = [
    "SOURCE_MODELS",
    "Author",
    "CallAbandoned",
    "CallAnswered",
    "CallEnded",
    "CallEvent",
    "CallOutbound",
    "CallQueued",
    "CallTransferred",
    "CesAnswered",
    "Channel",
    "ChatEnded",
    "ChatEvent",
    "ChatMessage",
    "ChatStarted",
    "CsatAnswered",
    "EmailEvent",
    "EmailReceived",
    "EmailSent",
    "Envelope",
    "NpsAnswered",
    "Priority",
    "SocialEvent",
    "SocialReceived",
    "SocialReplied",
    "SourceEvent",
    "SourceKind",
    "SurveyEvent",
    "TicketAssigned",
    "TicketCommented",
    "TicketCreated",
    "TicketEvent",
    "TicketPriorityChanged",
    "TicketReasonSet",
    "TicketStatus",
    "TicketStatusChanged",
    "event_models",
    "source_of",
    "ticket_key",
]
