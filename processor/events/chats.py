"""``cc.chats``: web chat and SMS conversations. A session without ticket is its own ticket."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from processor.events.common import Author, Envelope, Id


class _Chat(Envelope):
    session_id: Id
    channel: Literal["chat", "sms"] = "chat"


class ChatStarted(_Chat):
    """The customer opened a conversation: an inbound contact."""

    type: Literal["chat.started"]


class ChatMessage(_Chat):
    """One message. Agent messages respond; a session in which an agent wrote is one touch."""

    type: Literal["chat.message"]
    author: Author
    internal: bool = Field(default=False, description="A whisper between agents.")


class ChatEnded(_Chat):
    """The conversation ended. A bare session (no ``ticket_id``) is resolved by it."""

    type: Literal["chat.ended"]


ChatEvent = Annotated[ChatStarted | ChatMessage | ChatEnded, Field(discriminator="type")]
