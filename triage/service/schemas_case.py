"""Response bodies of a case as a reviewer reads it: the earlier records, orders, DASH
answers and course-of-conduct alerts of an incident (``triage.service.chronology``).
Kept beside :mod:`triage.service.schemas`, which re-exports them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AlertOut", "ChronologyEntryOut", "DashAnswerOut", "DashGroupOut", "OrderOut"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlertOut(_Out):
    """A course-of-conduct alert: a pattern across the records reported strictly
    before the incident (features/alerts.yaml)."""

    rule: str = Field(description="The rule's name in the alert spec.")
    title: str = Field(description="The rule's title, for a reader.")
    summary: str = Field(description="What was found, in plain words.")
    action: str = Field(description="The suggested action; it supports judgement only.")
    evidence: list[str] = Field(
        description="The earlier incident ids behind the alert, newest first."
    )


class ChronologyEntryOut(_Out):
    """An earlier record of the incident's victim, perpetrator or pair."""

    incident_id: str
    reported_at: datetime
    incident_type: str
    dash_grade: str
    relation: Literal["pair", "victim", "perpetrator"] = Field(
        description="pair: the same victim and perpetrator; victim: this victim with "
        "another or an unidentified perpetrator; perpetrator: this perpetrator with "
        "another victim."
    )
    flags: list[str] = Field(description="The incident flags that were true.")
    victim: str = Field(description="Who the victim was: 'this victim' or 'another victim N'.")
    perpetrator: str = Field(
        description="Who the perpetrator was: 'this perpetrator', 'another perpetrator N' "
        "or 'not identified'."
    )


class OrderOut(_Out):
    """A protective order started before the incident."""

    order_type: str
    start_at: datetime
    end_at: datetime | None = Field(description="Null for an open-ended order.")
    active: bool = Field(description="In force at the incident's report time.")
    named: str = Field(
        description="Whom it names: this victim, this perpetrator, or another "
        "perpetrator of this victim."
    )


class DashAnswerOut(_Out):
    question: str = Field(description="The contract's column, dash_q01..dash_q27.")
    text: str
    answer: bool | None = Field(description="Null: not answered.")


class DashGroupOut(_Out):
    """One section of the DASH form and its answers."""

    group: str
    title: str
    answers: list[DashAnswerOut]
