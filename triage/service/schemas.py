"""Request and response bodies (separate models; every response that shows a score
carries ``model_version``). Incident rows come in as JSON objects keyed by the data
contract's column names and are checked by the contract itself, not here, so a bad
row is reported like ``triage validate`` reports it."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, WithJsonSchema, model_validator

from triage.contract.names import DASH_QUESTIONS, INCIDENT_COLUMNS, PEOPLE_COLUMNS
from triage.contract.text import has_visible_text
from triage.service.schemas_case import (
    AlertOut,
    ChronologyEntryOut,
    DashAnswerOut,
    DashGroupOut,
    OrderOut,
)
from triage.service.scoring import Band

__all__ = [
    "MAX_BATCH",
    "MAX_INT",
    "MESSAGE_OVERRIDE_NEEDS_NOTE",
    "REASON_PATTERN",
    "STORABLE_TEXT",
    "AlertOut",
    "AuditEntryOut",
    "AuditPage",
    "ChainCheckOut",
    "ChronologyEntryOut",
    "DashAnswerOut",
    "DashGroupOut",
    "Decision",
    "ErrorBody",
    "HealthOut",
    "HistoryOut",
    "IncidentBatch",
    "IncidentOut",
    "IngestOut",
    "ModelOut",
    "ModelReportOut",
    "OrderOut",
    "ProblemOut",
    "QueueInfoOut",
    "QueueItemOut",
    "QueueOut",
    "ReasonOut",
    "ReloadOut",
    "ReviewIn",
    "ReviewOut",
    "Scalar",
    "ScoreOut",
    "Text",
]

MAX_BATCH = 50_000
#: the largest number an Integer column holds on every backend (audit seq, versions)
MAX_INT = 2**31 - 1
#: text every store can hold: PostgreSQL refuses NUL (lone surrogates, which JSON's
#: ``\ud800`` escapes decode to, are refused as not Unicode)
STORABLE_TEXT = r"^[^\u0000]*$"
Text = Annotated[str, Field(pattern=STORABLE_TEXT)]
Scalar = Text | bool | int | float | None
#: a row's schema says its column names are text as well (``propertyNames``)
Row = Annotated[
    dict[Text, Scalar],
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"pattern": STORABLE_TEXT},
            "additionalProperties": TypeAdapter(Scalar).json_schema(),
        }
    ),
]

_INCIDENT_EXAMPLE: dict[str, Scalar] = {
    "incident_id": "inc-0001",
    "reported_at": "2024-03-01T09:00:00Z",
    "occurred_at": "2024-03-01T08:15:00Z",
    "victim_id": "p-17",
    "perpetrator_id": "p-18",
    "relationship": "ex_partner",
    "incident_type": "stalking",
    "injury": False,
    "weapon": False,
    "strangulation": False,
    "children_present": True,
    "substance_misuse": False,
    "dash_grade": "medium",
    **dict.fromkeys(DASH_QUESTIONS),
    "deprivation_decile": 3,
}
_PERSON_EXAMPLE: dict[str, Scalar] = {
    "person_id": "p-17",
    "sex": "female",
    "birth_year": 1990,
    "ethnicity": "white",
}

_BATCH_EXAMPLE: dict[str, Any] = {
    "examples": [{"incidents": [_INCIDENT_EXAMPLE], "people": [_PERSON_EXAMPLE]}]
}


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentBatch(BaseModel):
    """A batch of incidents and the people they name (people already stored may be
    left out); optionally protective orders. Columns as the data contract
    (docs/architecture.md §3)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_BATCH_EXAMPLE,
    )

    incidents: list[Row] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Rows keyed by "
        + ", ".join(INCIDENT_COLUMNS[:13])
        + ", dash_q01..dash_q27, deprivation_decile.",
    )
    people: list[Row] = Field(
        default_factory=list,
        max_length=2 * MAX_BATCH,
        description="Rows keyed by " + ", ".join(PEOPLE_COLUMNS) + ".",
    )
    orders: list[Row] | None = Field(
        default=None,
        max_length=MAX_BATCH,
        description="Optional rows keyed by person_id, order_type, start_at, end_at.",
    )


class ProblemOut(_Out):
    table: str
    column: str | None
    row: int | None = Field(description="0-based position of the row in its list, or null")
    value: str | None
    rule: str


class ErrorBody(_Out):
    """Every error: a stable code, a message, and where useful the problems found,
    the conflicting ids, or an error id to quote to the operators."""

    error: str
    message: str
    problems: list[ProblemOut] | None = None
    conflicts: dict[str, list[str]] | None = None
    error_id: str | None = None


class HealthOut(_Out):
    status: str
    model_version: str | None
    #: each queue's served model version (null: that queue is not served)
    queues: dict[str, str | None]


class IngestOut(_Out):
    received: int
    stored: list[str]
    unchanged: list[str]
    people_stored: int
    orders_stored: int
    scored: int
    model_version: str | None


class ReasonOut(_Out):
    feature: str
    text: str
    contribution: float


class QueueItemOut(_Out):
    rank: int
    incident_id: str
    probability: float
    band: Band
    dash_grade: str
    reasons: list[ReasonOut]
    review_status: str
    within_capacity: bool
    incident_type: str = Field(description="The incident's type (the harm table's).")
    reported_at: datetime = Field(description="When the incident was reported (UTC).")
    children_present: bool = Field(description="Children were present at the incident.")
    alerts: list[AlertOut] = Field(description="The incident's course-of-conduct alerts.")


class QueueOut(_Out):
    """The day's incidents by descending probability. Scores support the reviewer's
    judgement, never replace it: the DASH grade stands beside each."""

    date: date
    queue: str
    model_version: str
    capacity: int
    items: list[QueueItemOut]


class QueueInfoOut(_Out):
    """A team's queue: its model's served version (null: no champion) and capacity."""

    name: str
    title: str
    model_version: str | None
    capacity: int


class Decision(StrEnum):
    """What the hub decided for an incident."""

    REFER_MARAC = "refer_marac"
    SAFEGUARDING_ACTION = "safeguarding_action"
    MONITOR = "monitor"
    NO_FURTHER_ACTION = "no_further_action"


#: what ``str.strip`` removes and what cannot be seen (controls, zero-width and
#: bidirectional characters), spelled out because ``\s`` means something else in each
#: regex engine (Python's, the schema's ECMA-262, a client's); the validator also
#: refuses the invisible characters beyond the BMP (``contract.text``)
_BLANK = (
    r"\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a"
    r"\u2028\u2029\u202f\u205f\u3000"
    r"\u0000-\u0008\u000e-\u001b\u007f-\u0084\u0086-\u009f\u00ad\u0600-\u0605\u061c"
    r"\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    r"\u2066-\u206f\ufeff\ufff9-\ufffb"
)
#: a reason must hold something visible, not only blanks or invisible characters
REASON_PATTERN = f"[^{_BLANK}]"
MESSAGE_OVERRIDE_NEEDS_NOTE = (
    "an override_band needs a note giving the reason in visible text (not only blanks "
    "or invisible characters)"
)

#: the rule of ``ReviewIn._override_has_reason``, in the schema so clients see it
_OVERRIDE_NEEDS_NOTE: dict[str, Any] = {
    "if": {
        "required": ["override_band"],
        "properties": {"override_band": {"not": {"type": "null"}}},
    },
    "then": {
        "required": ["note"],
        "properties": {"note": {"type": "string", "pattern": REASON_PATTERN}},
    },
}


class ReviewIn(BaseModel):
    """A decision; overriding the model's band needs a note saying why."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_OVERRIDE_NEEDS_NOTE)

    decision: Decision
    override_band: Band | None = None
    note: str | None = Field(default=None, max_length=4000, pattern=STORABLE_TEXT)

    @model_validator(mode="after")
    def _override_has_reason(self) -> ReviewIn:
        if self.override_band is not None and not has_visible_text(self.note):
            raise ValueError(MESSAGE_OVERRIDE_NEEDS_NOTE)
        return self


class ReviewOut(_Out):
    id: int
    incident_id: str
    decision: str
    override_band: str | None
    has_note: bool
    model_version: str | None
    key_id: str
    decided_at: datetime


class ScoreOut(_Out):
    model_version: str
    probability: float
    band: Band
    reasons: list[ReasonOut]
    scored_at: datetime


class HistoryOut(_Out):
    victim_prior_incidents: int
    perpetrator_prior_incidents: int
    pair_prior_incidents: int
    days_since_victim_last_incident: float | None


class IncidentOut(_Out):
    incident_id: str
    reported_at: datetime
    incident_type: str
    relationship: str
    dash_grade: str
    flags: dict[str, bool]
    perpetrator_known: bool
    history: HistoryOut
    score: ScoreOut | None
    reviews: list[ReviewOut]
    children_present: bool
    victim_age: int | None = Field(description="Age in calendar years at the incident.")
    perpetrator_age: int | None = Field(description="Null also when not identified.")
    dash: list[DashGroupOut] = Field(description="The DASH answers by section of the form.")
    chronology: list[ChronologyEntryOut] = Field(
        description="Earlier records (reported strictly before this incident) of its "
        "victim, perpetrator and pair, newest first; at most the newest 200."
    )
    chronology_total: int = Field(description="How many earlier records there are in all.")
    orders: list[OrderOut] = Field(
        description="Orders started before the incident, newest first, active or past."
    )
    alerts: list[AlertOut] = Field(
        description="Course-of-conduct alerts, each with its evidence (earlier incident ids)."
    )


class ModelOut(_Out):
    model_version: str
    name: str
    version: int
    created: datetime
    aliases: list[str]
    metrics: dict[str, float]


class ModelReportOut(ModelOut):
    files: list[str]
    model_card: str | None


class ReloadOut(_Out):
    model_version: str | None
    previous: str | None
    changed: bool


class AuditEntryOut(_Out):
    seq: int
    at: str
    key_id: str
    action: str
    incident_ids: list[str]
    model_version: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(_Out):
    items: list[AuditEntryOut]
    next_after: int | None


class ChainCheckOut(_Out):
    ok: bool
    rows: int
    head: str
    broken_at: int | None
    reason: str | None
    notes: list[str] = []
