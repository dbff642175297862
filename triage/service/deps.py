"""Dependencies as ``Annotated`` aliases, so a route says what it needs in its
signature and a test swaps one thing in one place (``app.dependency_overrides``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from triage.exceptions import Forbidden, ModelUnavailable
from triage.service import auth
from triage.service.auth import ApiKey, Role
from triage.service.champions import Champions
from triage.service.models import LoadedModel, ModelSource
from triage.service.scoring import Scorer
from triage.service.store import Store
from triage.settings import Settings

__all__ = [
    "AdminDep",
    "AuditorDep",
    "ChampionsDep",
    "IngestDep",
    "LoadedDep",
    "ModelReaderDep",
    "ModelsDep",
    "OptionalScorerDep",
    "ReviewerDep",
    "ScorerDep",
    "SettingsDep",
    "StoreDep",
]

MESSAGE_NO_MODEL = "no champion model is loaded: promote one, then POST /admin/reload"

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key from `triage keys create`."
)


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_loaded(request: Request) -> LoadedModel:
    loaded: LoadedModel = request.app.state.loaded
    return loaded


def get_models(request: Request) -> ModelSource:
    models: ModelSource = request.app.state.models
    return models


def get_champions(request: Request) -> Champions:
    champions: Champions = request.app.state.champions
    return champions


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LoadedDep = Annotated[LoadedModel, Depends(get_loaded)]
ModelsDep = Annotated[ModelSource, Depends(get_models)]
ChampionsDep = Annotated[Champions, Depends(get_champions)]


def get_optional_scorer(loaded: LoadedDep) -> Scorer | None:
    return loaded.get()[1]


def get_scorer(scorer: Annotated[Scorer | None, Depends(get_optional_scorer)]) -> Scorer:
    if scorer is None:
        raise ModelUnavailable(MESSAGE_NO_MODEL)
    return scorer


OptionalScorerDep = Annotated[Scorer | None, Depends(get_optional_scorer)]
ScorerDep = Annotated[Scorer, Depends(get_scorer)]


def get_api_key(
    store: StoreDep, presented: Annotated[str | None, Security(_api_key_header)]
) -> ApiKey:
    with store.read_session() as session:  # no write lock to check a key
        return auth.authenticate(session, presented)


def require(*roles: Role) -> Callable[[ApiKey], ApiKey]:
    """A dependency admitting keys with one of ``roles`` (roles never imply others)."""
    allowed = frozenset(roles)
    names = " or ".join(sorted(r.value for r in allowed))

    def check(key: Annotated[ApiKey, Depends(get_api_key)]) -> ApiKey:
        if key.role not in allowed:
            raise Forbidden(f"this route needs a key with role {names}")
        return key

    return check


IngestDep = Annotated[ApiKey, Depends(require(Role.INGEST))]
ReviewerDep = Annotated[ApiKey, Depends(require(Role.REVIEWER))]
AuditorDep = Annotated[ApiKey, Depends(require(Role.AUDITOR))]
AdminDep = Annotated[ApiKey, Depends(require(Role.ADMIN))]
ModelReaderDep = Annotated[ApiKey, Depends(require(Role.REVIEWER, Role.AUDITOR))]
