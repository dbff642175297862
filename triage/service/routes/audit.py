"""The audit log (``auditor``): read it page by page, and verify its hash chain."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from triage.service import audit_log
from triage.service.deps import AuditorDep, StoreDep
from triage.service.errors import responses
from triage.service.schemas import MAX_INT, AuditPage, ChainCheckOut

router = APIRouter(tags=["audit"])


@router.get("/audit-log", response_model=AuditPage, responses=responses(401, 403, 422))
def get_audit_log(
    key: AuditorDep,
    store: StoreDep,
    after: Annotated[int, Query(ge=0, le=MAX_INT, description="Entries with seq above this.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Who saw which score when: entries oldest first; ``next_after`` pages on."""
    with store.session() as session:
        found = audit_log.entries(session, after=after, limit=limit)
    items = [
        {**asdict(e), "incident_ids": list(e.incident_ids), "detail": dict(e.detail)} for e in found
    ]
    next_after = found[-1].seq if len(found) == limit else None
    return AuditPage.model_validate({"items": items, "next_after": next_after})


@router.get("/audit-log/verify", response_model=ChainCheckOut, responses=responses(401, 403))
def verify_audit_log(key: AuditorDep, store: StoreDep) -> ChainCheckOut:
    """Recompute the hash chain; ``broken_at`` is the first row that does not follow."""
    return ChainCheckOut.model_validate(asdict(store.verify_audit_log()))
