"""The harm-weight table (docs/architecture.md §4): which incident types exist, how much harm each
carries and which count as serious. Loaded from ``features/harm_weights.yaml`` so a
force can substitute the official table without touching code."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from triage.config import read_yaml_model
from triage.exceptions import ConfigError
from triage.paths import spec_path

__all__ = ["HarmType", "HarmWeights", "load_harm_weights"]

DEFAULT_HARM_WEIGHTS = "features/harm_weights.yaml"


class HarmType(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weight: float = Field(ge=0)
    serious: bool
    crime: bool = True


class _HarmFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = "unspecified"
    types: dict[str, HarmType] = Field(min_length=1)


@dataclass(frozen=True)
class HarmWeights:
    """Validated harm table; ``sha256`` identifies the exact file used."""

    types: dict[str, HarmType]
    source: str
    sha256: str

    @property
    def names(self) -> list[str]:
        return list(self.types)

    @property
    def serious_types(self) -> frozenset[str]:
        return frozenset(k for k, v in self.types.items() if v.serious)

    @property
    def non_crime_types(self) -> frozenset[str]:
        return frozenset(k for k, v in self.types.items() if not v.crime)

    def weight(self, incident_type: str) -> float:
        try:
            return self.types[incident_type].weight
        except KeyError:
            raise ConfigError(
                f"incident_type {incident_type!r} is not in the harm-weight table"
            ) from None


_CACHE: dict[tuple[str, str], HarmWeights] = {}
_CACHE_LOCK = threading.Lock()


def load_harm_weights(path: str | Path | None = None) -> HarmWeights:
    """Load and validate the harm table (default: the shipped illustrative one).

    Parsed tables are kept per file and content hash, so a service that asks on
    every request reads a few bytes rather than parsing YAML again; an edited file
    has another hash and is parsed afresh."""
    file = Path(path) if path is not None else spec_path(DEFAULT_HARM_WEIGHTS)
    try:
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
    except OSError:
        digest = ""  # read_yaml_model says what is wrong with the file
    key = (str(file), digest)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    parsed, raw_bytes = read_yaml_model(file, _HarmFile, "harm-weight table")
    weights = HarmWeights(
        types=dict(parsed.types),
        source=parsed.source,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
    )
    if weights.sha256 == digest:  # the file did not change between the two reads
        with _CACHE_LOCK:
            _CACHE[key] = weights
    return weights
