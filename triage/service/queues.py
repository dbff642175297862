"""The hub's queues as a spec (``models/queues.yaml``, docs/architecture.md §10): each
team works its own queue, ranked by its own registered model, holding the incidents
it is there for, up to its daily capacity. A spec rather than code, so a force adds a
team without a release."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from triage.config import read_yaml_model
from triage.exceptions import NotFoundError
from triage.paths import spec_path

__all__ = [
    "DEFAULT_QUEUE_SPEC",
    "LOWER_RISK_GRADES",
    "QUEUE_NAME",
    "Holds",
    "QueueDef",
    "QueueSpec",
    "load_queue_spec",
]

DEFAULT_QUEUE_SPEC = "models/queues.yaml"
#: the DASH grades of a lower-risk incident, which early intervention exists for
LOWER_RISK_GRADES = ("standard", "not_completed")
QUEUE_NAME = r"^[a-z][a-z0-9_]{0,63}$"


class Holds(StrEnum):
    """Which of the day's incidents a queue holds."""

    ALL = "all"
    LOWER_RISK = "lower_risk"


class QueueDef(BaseModel):
    """One team's queue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=QUEUE_NAME)
    title: str = Field(min_length=1, max_length=200)
    team: str = Field(min_length=1, max_length=200)
    #: the registered model that ranks it (named after its label); its @champion is served
    model: str = Field(min_length=1, max_length=100)
    holds: Holds = Holds.ALL
    #: the team's daily capacity; None: the service's TRIAGE_CAPACITY
    capacity: int | None = Field(default=None, ge=1, le=100_000)
    #: whether children being present is shown beside every incident
    children_first: bool = False

    @property
    def grades(self) -> tuple[str, ...] | None:
        """The DASH grades the queue holds (None: every grade)."""
        return LOWER_RISK_GRADES if self.holds is Holds.LOWER_RISK else None

    def capacity_or(self, default: int) -> int:
        return default if self.capacity is None else self.capacity


class QueueSpec(BaseModel):
    """The queues the service serves; the first is the default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queues: tuple[QueueDef, ...] = Field(min_length=1)

    @field_validator("queues")
    @classmethod
    def _unique_names(cls, queues: tuple[QueueDef, ...]) -> tuple[QueueDef, ...]:
        names = [q.name for q in queues]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"queue names must be unique; repeated: {', '.join(twice)}")
        return queues

    @property
    def default(self) -> QueueDef:
        return self.queues[0]

    @property
    def models(self) -> tuple[str, ...]:
        """Every model a queue names, once each, the default queue's first."""
        return tuple(dict.fromkeys(q.model for q in self.queues))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(q.name for q in self.queues)

    def get(self, name: str) -> QueueDef:
        """The queue called ``name`` (``NotFoundError`` naming the queues there are)."""
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise NotFoundError(f"no queue {name!r}; the queues are: {', '.join(self.names)}")

    def with_model(self, name: str, model: str) -> QueueSpec:
        """This spec with queue ``name`` ranked by ``model`` instead."""
        chosen = self.get(name)
        swapped = chosen.model_copy(update={"model": model})
        return QueueSpec(queues=tuple(swapped if q is chosen else q for q in self.queues))


def load_queue_spec(path: str | Path | None = None) -> QueueSpec:
    """The queue spec at ``path`` (default: the shipped ``models/queues.yaml``); a
    ``ConfigError`` names the file and every field that is wrong."""
    file = spec_path(path if path is not None else DEFAULT_QUEUE_SPEC)
    return read_yaml_model(file, QueueSpec, "queue spec")[0]
