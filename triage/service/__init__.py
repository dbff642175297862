"""The scoring service (docs/architecture.md §10): a FastAPI app over a SQLAlchemy store that
ingests incidents, scores them with the champion model, serves reviewers a ranked,
explained daily queue, and records every score shown in a hash-chained audit log.

    app = create_app(Settings.from_env())          # uvicorn runs it
    app = create_app(settings, scorer=StubScorer())  # tests: no registry needed
"""

from __future__ import annotations

from triage.service.app import create_app
from triage.service.auth import ApiKey, Role
from triage.service.models import LoadedModel, MlflowModels, ModelInfo, ModelSource, StaticModels
from triage.service.scoring import Band, Bands, BundleScorer, Score, Scorer, StubScorer
from triage.service.store import Store

__all__ = [
    "ApiKey",
    "Band",
    "Bands",
    "BundleScorer",
    "LoadedModel",
    "MlflowModels",
    "ModelInfo",
    "ModelSource",
    "Role",
    "Score",
    "Scorer",
    "StaticModels",
    "Store",
    "StubScorer",
    "create_app",
]
