"""``GET /health``: open, says whether a model is loaded and the store answers."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from triage.service.deps import LoadedDep, StoreDep
from triage.service.errors import responses
from triage.service.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, responses=responses())
def health(store: StoreDep, loaded: LoadedDep) -> HealthOut:
    """Liveness and readiness: the store answers a query; which model is served."""
    with store.session() as session:
        session.execute(text("SELECT 1"))
    scorer = loaded.get()[1]
    return HealthOut(status="ok", model_version=None if scorer is None else scorer.model_version)
