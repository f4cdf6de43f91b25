"""``cc.social``: posts, mentions and direct messages, and replies to them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from processor.events.common import Envelope, Id


class _Social(Envelope):
    post_id: Id
    conversation_id: Id = Field(description="The thread; the ticket id if none is given.")
    network: Id = Field(description="e.g. x, facebook, instagram")
    channel: Literal["social"] = "social"


class SocialReceived(_Social):
    """A customer posted, mentioned or messaged the brand: an inbound contact."""

    type: Literal["social.received"]
    kind: Literal["post", "mention", "direct_message"] = "post"


class SocialReplied(_Social):
    """A reply to the customer. Only a human one is a response and a touch."""

    type: Literal["social.replied"]
    agent_id: Id | None = None
    automated: bool = False


SocialEvent = Annotated[SocialReceived | SocialReplied, Field(discriminator="type")]
