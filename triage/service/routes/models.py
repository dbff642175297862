"""The served model (``reviewer`` or ``auditor``), any version's report
(``auditor``), and reloading the champion after a promotion (``admin``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from triage.exceptions import BundleIntegrityError, ModelUnavailable
from triage.service.deps import (
    AdminDep,
    AuditorDep,
    ChampionsDep,
    LoadedDep,
    ModelReaderDep,
    ModelsDep,
    StoreDep,
)
from triage.service.errors import responses
from triage.service.models import ModelInfo
from triage.service.schemas import MAX_INT, ModelOut, ModelReportOut, ReloadOut

router = APIRouter(tags=["models"])


def _model_out(info: ModelInfo, model_version: str) -> dict[str, object]:
    return {
        "model_version": model_version,
        "name": info.name,
        "version": info.version,
        "created": info.created,
        "aliases": list(info.aliases),
        "metrics": dict(info.metrics),
    }


@router.get("/model", response_model=ModelOut, responses=responses(401, 403, 503))
def get_model(key: ModelReaderDep, loaded: LoadedDep) -> ModelOut:
    """The champion being served: its version and validation metrics."""
    info, scorer = loaded.get()
    if info is None or scorer is None:
        raise ModelUnavailable("no champion model is loaded")
    return ModelOut.model_validate(_model_out(info, scorer.model_version))


@router.get(
    "/models/{version}/report",
    response_model=ModelReportOut,
    responses=responses(401, 403, 404, 422),
)
def get_report(
    version: Annotated[int, Path(ge=1, le=MAX_INT)], key: AuditorDep, models: ModelsDep
) -> ModelReportOut:
    """A version's metrics, its report files and its model card."""
    report = models.report(version)
    body = _model_out(report.info, report.info.model_version)
    return ModelReportOut.model_validate(
        {**body, "files": list(report.files), "model_card": report.model_card}
    )


@router.post("/admin/reload", response_model=ReloadOut, responses=responses(401, 403, 409))
def post_reload(key: AdminDep, store: StoreDep, champions: ChampionsDep) -> ReloadOut:
    """Serve the registry's current ``@champion`` of every queue's model (after a
    promotion or rollback); the answer names the default queue's.

    The caller cannot choose a version: promotion goes through the registry's gates.
    Promotions since the last look and each reload go to the audit log. A refused
    champion (409) leaves its queues as they were; the other models are reloaded."""
    done = champions.load_all(store, key_id=key.key_id, action="model.reload")
    refused = [r.refused for r in done if r.refused]
    if refused:
        raise BundleIntegrityError("; ".join(refused))
    default = champions.spec.default.model
    mine = next((r for r in done if r.model == default), None)
    previous, current = (None, None) if mine is None else (mine.previous, mine.current)
    return ReloadOut(model_version=current, previous=previous, changed=previous != current)
