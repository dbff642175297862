"""The FastAPI application factory. Nothing is built at import time: settings are
checked, and the store and model opened, when ``create_app`` is called and the
app starts (its lifespan)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from triage import __version__
from triage.service import auth
from triage.service.champions import Champions
from triage.service.errors import install_error_handlers
from triage.service.http_guards import install_guards
from triage.service.models import MlflowModels, ModelSource, StaticModels
from triage.service.pages import install_pages, is_page
from triage.service.pages_session import render
from triage.service.queues import QueueSpec, load_queue_spec
from triage.service.routes import ROUTERS
from triage.service.scoring import Scorer
from triage.service.store import Store, check_database_url, safe_url
from triage.settings import Settings

__all__ = ["SERVICE_KEY_ID", "check_settings", "create_app"]

logger = logging.getLogger(__name__)

#: the audit log's "who" for what the service does on its own (loading at start-up)
SERVICE_KEY_ID = "service"

_DESCRIPTION = (
    "A ranked, explained daily queue of domestic-abuse incidents for a MASH review. "
    "Scores support professional judgement; they never replace it: the DASH grade "
    "stands beside every score, and reviewers can override. Every route but /health "
    "needs an API key (X-API-Key) with the route's role."
)


def check_settings(settings: Settings) -> None:
    """Refuse settings the service must not start with (``ConfigError``): a store
    that forgets (in-memory SQLite), an unsupported backend, a retired MLflow store."""
    from triage.registry.tracking import ensure_local_store

    check_database_url(settings.database_url)
    ensure_local_store(settings)


def _start_models(store: Store, champions: Champions, scorer: Scorer | None, default: str) -> None:
    source = champions.source(default)
    if scorer is not None and source is not None:
        champions.set(default, source.champion(), scorer)
        return
    champions.load_all(store, key_id=SERVICE_KEY_ID, action="model.load")


def _sources(
    settings: Settings, spec: QueueSpec, models: ModelSource | Mapping[str, ModelSource] | None
) -> dict[str, ModelSource]:
    """Where each queue's model comes from, by model name: the registry by default; a
    single source given serves the default queue's model alone."""
    if models is None:
        return {m: MlflowModels(settings.tracking_uri, m) for m in spec.models}
    if isinstance(models, Mapping):
        return dict(models)
    return {spec.default.model: models}


def create_app(
    settings: Settings,
    *,
    scorer: Scorer | None = None,
    store: Store | None = None,
    models: ModelSource | Mapping[str, ModelSource] | None = None,
    model_name: str | None = None,
) -> FastAPI:
    """The scoring service. By default the store is ``settings.database_url`` and each
    queue of the queue spec (``settings.queues``) is ranked by the registry's
    ``@champion`` of its model; ``model_name`` ranks the default queue by another
    model. Tests pass doubles: ``models`` by model name, or one for the default queue."""
    check_settings(settings)
    spec = load_queue_spec(settings.queues)
    if model_name is not None:
        spec = spec.with_model(spec.default.name, model_name)
    default = spec.default.model
    if models is None and scorer is not None:
        models = StaticModels({1: scorer}, 1, name=scorer.model_version)
    sources = _sources(settings, spec, models)
    source = sources.get(default) or StaticModels({}, None, name=default)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = store is None
        st = store or Store(settings.database_url)
        await run_in_threadpool(st.create_schema)
        champions = Champions(spec, sources)
        await run_in_threadpool(_start_models, st, champions, scorer, default)
        app.state.settings, app.state.store = settings, st
        app.state.models, app.state.loaded = source, champions.loaded(default)
        app.state.champions = champions
        with st.session() as session:
            if not any(k.active for k in auth.list_keys(session)):
                logger.warning(
                    "no active API key: create one with `triage keys create --role ROLE`"
                )
        logger.info("store %s; serving %s", safe_url(st.url), _served(champions))
        try:
            yield
        finally:
            if own:
                st.dispose()

    app = FastAPI(
        title="mash-triage",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        # the schema only when asked for; never the docs pages, which load scripts from a CDN
        openapi_url="/openapi.json" if settings.api_docs else None,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_pages(app, settings)
    install_guards(app, settings, is_page, _refusal_page)  # last: outside everything else
    return app


def _refusal_page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", {"message": message}, status=status)


def _served(champions: Champions) -> str:
    served = champions.served().items()
    return ", ".join(f"queue {q}: {v or 'no model'}" for q, v in served)
