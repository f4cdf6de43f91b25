"""``cc.surveys``: CSAT, NPS and CES answers, linked to the ticket they rate when known."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from processor.events.common import Channel, Envelope, Id


class _Survey(Envelope):
    survey_id: Id
    channel: Channel | None = Field(default=None, description="Channel of the rated contact.")


class CsatAnswered(_Survey):
    """A customer-satisfaction answer on a 1..``scale`` scale."""

    type: Literal["survey.csat_answered"]
    score: int = Field(ge=1, le=10)
    scale: int = Field(default=5, ge=2, le=10, description="Highest score of the scale.")

    @model_validator(mode="after")
    def _score_on_scale(self) -> Self:
        if self.score > self.scale:
            raise ValueError(f"score {self.score} is above the scale's maximum {self.scale}")
        return self


class NpsAnswered(_Survey):
    """A net-promoter answer, 0..10."""

    type: Literal["survey.nps_answered"]
    score: int = Field(ge=0, le=10)


class CesAnswered(_Survey):
    """A customer-effort answer on a 1..``scale`` scale."""

    type: Literal["survey.ces_answered"]
    score: int = Field(ge=1, le=10)
    scale: int = Field(default=7, ge=2, le=10)

    @model_validator(mode="after")
    def _score_on_scale(self) -> Self:
        if self.score > self.scale:
            raise ValueError(f"score {self.score} is above the scale's maximum {self.scale}")
        return self


SurveyEvent = Annotated[CsatAnswered | NpsAnswered | CesAnswered, Field(discriminator="type")]
