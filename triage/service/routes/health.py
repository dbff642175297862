"""``GET /health``: open, says whether the store answers and which model serves each queue."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from triage.service.deps import ChampionsDep, LoadedDep, StoreDep
from triage.service.errors import responses
from triage.service.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, responses=responses())
def health(store: StoreDep, loaded: LoadedDep, champions: ChampionsDep) -> HealthOut:
    """Liveness and readiness: the store answers a query; the default queue's model
    and each queue's (null: that queue is not served)."""
    with store.session() as session:
        session.execute(text("SELECT 1"))
    scorer = loaded.get()[1]
    return HealthOut(
        status="ok",
        model_version=None if scorer is None else scorer.model_version,
        queues=champions.served(),
    )
