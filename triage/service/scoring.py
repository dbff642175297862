"""What the service needs of a model: a :class:`Scorer` turns incidents plus their
stored history into a probability, a band and the reasons behind each score.

:class:`BundleScorer` is the real one: the same :func:`~triage.features.build.build_features`
as training (no training/serving skew), a verified model bundle, and per-incident
reasons from LightGBM's contributions. :class:`StubScorer` is a public test double
(as ``httpx.MockTransport`` is): deterministic, history-aware, no model needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from triage.config import FeatureSetSpec
from triage.contract.names import Extract
from triage.evaluation.explain import Reason
from triage.features.build import FeatureMatrix, build_features

__all__ = [
    "Band",
    "Bands",
    "BundleScorer",
    "Explainer",
    "Reason",
    "Score",
    "Scorer",
    "StubScorer",
    "bundle_explainer",
    "load_bundle_scorer",
]


#: up to this many rows, the booster runs on the calling thread alone
_FEW_ROWS = 64


class Band(StrEnum):
    """A coarse reading of the probability, beside (never instead of) the DASH grade."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class Bands:
    """Probability thresholds of the bands (a model bundle may carry its own)."""

    medium: float = 0.10
    high: float = 0.30

    def of(self, probability: float) -> Band:
        if probability >= self.high:
            return Band.HIGH
        return Band.MEDIUM if probability >= self.medium else Band.LOW


@dataclass(frozen=True)
class Score:
    incident_id: str
    probability: float
    band: Band
    reasons: tuple[Reason, ...]
    model_version: str


@runtime_checkable
class Scorer(Protocol):
    """Scores ``incidents`` (contract columns, normalised) against ``history`` (an
    extract holding at least every record of their people; it may hold them too)."""

    @property
    def model_version(self) -> str: ...

    def score(self, incidents: pd.DataFrame, history: Extract) -> list[Score]: ...


#: reasons for each row of a feature matrix, given the model's probabilities
Explainer = Callable[[FeatureMatrix], Sequence[Sequence[Reason]]]


class BundleScorer:
    """A loaded model bundle behind the :class:`Scorer` protocol."""

    def __init__(
        self,
        bundle: Any,
        *,
        model_version: str,
        spec: FeatureSetSpec | None = None,
        explain: Explainer | None = None,
        bands: Bands | None = None,
    ) -> None:
        self._bundle = bundle
        self._version = model_version
        self._spec = spec
        self._explain = explain
        self._bands = bands or Bands()

    @property
    def model_version(self) -> str:
        return self._version

    def score(self, incidents: pd.DataFrame, history: Extract) -> list[Score]:
        if incidents.empty:
            return []
        matrix = build_features(history, incidents, self._spec, threads=1)
        threads = 1 if len(incidents) <= _FEW_ROWS else None
        proba = np.asarray(self._bundle.predict_proba(matrix.X, threads=threads), dtype=np.float64)
        if proba.ndim == 2:
            proba = proba[:, -1]
        reasons = self._explain(matrix) if self._explain else [()] * len(proba)
        ids = matrix.ids["incident_id"].astype(str).tolist()
        return [
            Score(i, float(p), self._bands.of(float(p)), tuple(r), self._version)
            for i, p, r in zip(ids, proba, reasons, strict=True)
        ]


def bundle_explainer(model: Any, top: int = 3) -> Explainer:
    """Reasons from the model's exact contributions (TreeSHAP for LightGBM, linear
    for logistic), worded from the feature catalogue
    (:func:`triage.evaluation.explain.explain_incidents`)."""
    from triage.evaluation.explain import explain_incidents

    def explain(matrix: FeatureMatrix) -> list[list[Reason]]:
        threads = 1 if len(matrix.X) <= _FEW_ROWS else None
        found = explain_incidents(model, matrix.X, matrix.catalogue, top=top, threads=threads)
        return [list(e.reasons) for e in found]

    return explain


def load_bundle_scorer(
    folder: Path, model_version: str, *, top_reasons: int = 3, manifest_sha256: str | None = None
) -> BundleScorer:
    """Load the bundle in ``folder`` (every file's hash verified, and the manifest's own
    when ``manifest_sha256`` is given; nothing pickled) with its feature spec."""
    from triage.models.bundle import ModelBundle

    bundle = ModelBundle.load(folder, manifest_sha256=manifest_sha256)
    return BundleScorer(
        bundle,
        model_version=model_version,
        spec=bundle.feature_spec,
        explain=bundle_explainer(bundle, top_reasons),
    )


@dataclass
class StubScorer:
    """A deterministic stand-in model: risk rises with injury, strangulation, a weapon
    and the victim's earlier incidents in ``history`` (strictly before, as §5)."""

    model_version: str = "stub/1"
    bands: Bands = field(default_factory=Bands)
    calls: int = 0

    def score(self, incidents: pd.DataFrame, history: Extract) -> list[Score]:
        self.calls += 1
        past = history.incidents[["victim_id", "reported_at"]]
        out = []
        for row in incidents.itertuples(index=False):
            before = past[(past["victim_id"] == row.victim_id)]
            prior = int((before["reported_at"] < row.reported_at).sum())
            terms = {
                "injury": 1.5 * bool(row.injury),
                "strangulation": 2.0 * bool(row.strangulation),
                "weapon": 0.5 * bool(row.weapon),
                "victim_prior_incidents": 0.4 * prior,
            }
            p = 1.0 / (1.0 + math.exp(-(-3.0 + sum(terms.values()))))
            reasons = tuple(
                Reason(name, _STUB_TEXT[name].format(n=prior), round(value, 4))
                for name, value in sorted(terms.items(), key=lambda kv: -kv[1])
                if value > 0
            )
            out.append(
                Score(str(row.incident_id), p, self.bands.of(p), reasons, self.model_version)
            )
        return out


_STUB_TEXT = {
    "injury": "the victim was injured",
    "strangulation": "strangulation was reported",
    "weapon": "a weapon was used",
    "victim_prior_incidents": "the victim had {n} earlier incident(s)",
}
