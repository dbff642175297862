"""The auditor's model pages (docs/architecture.md §10): every version of every model
the queues serve, newest first; a version's page with its metrics against the
baselines, gates, fairness verdict and model card; its evaluation and fairness
reports (the very HTML the command line writes) in a sandboxed frame; its SHAP
summary in plain words; its JSON to download; and two versions compared.

A logged report is our own generated HTML, yet it is served as if it were not: from
its own address, with a policy that runs no script, loads nothing but its inline
images and styles, and sandboxes the document even when opened directly."""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from triage.exceptions import (
    ConfigError,
    ModelNotFoundError,
    NotFoundError,
    PageProblem,
    TriageError,
)
from triage.service.auth import ApiKey, Role
from triage.service.champions import Champions
from triage.service.model_views import METRICS, card_html, shap_rows, version_view
from triage.service.models import MlflowModels, ModelSource
from triage.service.pages_session import render, require_page
from triage.service.params import whole_number
from triage.service.schemas import MAX_INT

__all__ = ["DOCUMENTS", "DOWNLOADS", "MESSAGE_NO_RECORD", "RECORD", "router"]

logger = logging.getLogger(__name__)

AuditorPage = Annotated[ApiKey, Depends(require_page(Role.AUDITOR))]
router = APIRouter(include_in_schema=False)

#: the reports shown in a frame: (file, title)
DOCUMENTS = {
    "evaluation": ("evaluation.html", "Evaluation report"),
    "fairness": ("fairness.html", "Fairness report"),
}
#: the files an auditor may fetch, and how they are served
DOWNLOADS = {
    "evaluation.html": "text/html; charset=utf-8",
    "fairness.html": "text/html; charset=utf-8",
    "evaluation.json": "application/json",
    "fairness.json": "application/json",
    "shap_summary.json": "application/json",
    "shap_bar.png": "image/png",
    "shap_beeswarm.png": "image/png",
}
#: the version's transparency record, built from the registry on request
RECORD = {"transparency.html": "text/html; charset=utf-8", "transparency.json": "application/json"}
MESSAGE_NO_RECORD = (
    "A transparency record is built from the model registry, which this service does not read."
)
_SHAP = "shap_summary.json"
_FRAME_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)


def _champions(request: Request) -> Champions:
    champions: Champions = request.app.state.champions
    return champions


def _sources(request: Request) -> dict[str, ModelSource]:
    champions = _champions(request)
    out = {}
    for model in champions.spec.models:
        source = champions.source(model)
        if source is not None:
            out[model] = source
    return out


def _source(request: Request, name: str) -> ModelSource:
    source = _sources(request).get(name)
    if source is None:
        raise PageProblem(404, "The service serves no model of that name.")
    return source


def _base(name: str, version: int) -> str:
    """The address of a version's page (the queue's model name: the registry's)."""
    return f"/ui/models/{quote(name, safe='')}/{version}"


def _number(raw: str) -> int:
    number = whole_number(raw, 1, MAX_INT)  # as GET /models/{version}/report reads it
    if number is None:
        raise PageProblem(404, "There is no such model version.")
    return number


def _version(request: Request, name: str, raw: str) -> tuple[ModelSource, Any]:
    source = _source(request, name)
    number = _number(raw)
    try:
        return source, source.report(number)
    except (ModelNotFoundError, NotFoundError):
        raise PageProblem(404, f"{name} has no version {number}.") from None


@router.get("/models")
def models_page(request: Request, key: AuditorPage, version: str | None = None) -> Response:
    """Every version of every served model, newest first."""
    if version:
        number = whole_number(version, 1, MAX_INT)
        if number is None:
            raise PageProblem(422, "A model version is a whole number from 1.")
        default = _champions(request).spec.default.model
        return RedirectResponse(f"/ui/models/{default}/{number}", status_code=303)
    groups: list[dict[str, Any]] = []
    for name, source in _sources(request).items():
        try:
            found = source.versions()
        except TriageError as exc:
            logger.warning("could not list the versions of %s: %s", name, exc)
            groups.append({"name": name, "views": [], "problem": "the registry cannot be read"})
            continue
        served = _champions(request).loaded(name).get()[1]
        groups.append(
            {
                "name": name,
                "views": [version_view(info) for info in found],
                "served": None if served is None else served.model_version,
                "problem": None,
            }
        )
    return render(request, "models.html", {"groups": groups})


@router.get("/models/{version}")
def default_model_page(request: Request, version: str, key: AuditorPage) -> Response:
    """A version of the default queue's model (the address the API's report uses)."""
    return model_page(request, _champions(request).spec.default.model, version, key)


@router.get("/models/{name}/{version}")
def model_page(request: Request, name: str, version: str, key: AuditorPage) -> Response:
    """A version's data, metrics against the baselines, gates, verdict and card."""
    source, report = _version(request, name, version)
    context = {
        "view": version_view(report.info),
        "base": _base(name, report.info.version),
        "model": name,
        "transparency": isinstance(source, MlflowModels),
        "metric_titles": list(METRICS.values()),
        "files": [f for f in report.files if f in DOWNLOADS],
        "documents": {d: t for d, (f, t) in DOCUMENTS.items() if f in report.files},
        "shap": _SHAP in report.files,
        "card": None if report.model_card is None else card_html(report.model_card),
    }
    return render(request, "model_report.html", context)


@router.get("/models/{name}/{version}/shap")
def shap_page(request: Request, name: str, version: str, key: AuditorPage) -> Response:
    """Which features moved the scores most, named in words, with the logged plots."""
    source, report = _version(request, name, version)
    if _SHAP not in report.files:
        raise PageProblem(404, "This version has no SHAP summary.")
    rows, about = shap_rows(source.report_file(report.info.version, _SHAP))
    plots = [f for f in ("shap_bar.png", "shap_beeswarm.png") if f in report.files]
    context = {
        "view": version_view(report.info),
        "base": _base(name, report.info.version),
        "rows": rows,
        "about": about,
        "plots": plots,
    }
    return render(request, "model_shap.html", context)


def _record(source: ModelSource, name: str, version: int, file: str) -> bytes:
    """What ``triage transparency`` writes for the version, with the force's own
    fields from ``evaluation/transparency.yaml`` (missing ones marked, never made up)."""
    if not isinstance(source, MlflowModels):
        raise PageProblem(404, MESSAGE_NO_RECORD)
    from triage.registry.transparency import load_force_info, record_json, transparency_record
    from triage.registry.transparency_html import render_html

    try:
        record = transparency_record(source.registry(), name, version, load_force_info())
    except ConfigError as exc:
        message = f"The force's transparency information cannot be read: {exc}"
        raise PageProblem(503, message) from None
    except (ModelNotFoundError, NotFoundError):
        raise PageProblem(404, f"{name} v{version} logged too little for a record.") from None
    text = render_html(record) if file.endswith(".html") else record_json(record)
    return text.encode("utf-8")


@router.get("/models/{name}/{version}/files/{file}")
def model_file(request: Request, name: str, version: str, file: str, key: AuditorPage) -> Response:
    """A logged report file: HTML sandboxed for a frame, JSON as a download."""
    source, report = _version(request, name, version)
    if file in RECORD:
        body, media = _record(source, name, report.info.version, file), RECORD[file]
    elif file in DOWNLOADS and file in report.files:
        body, media = source.report_file(report.info.version, file), DOWNLOADS[file]
    else:
        raise PageProblem(404, "This version has no such report file.")
    response = Response(body, media_type=media)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if media.startswith("text/html"):
        response.headers["Content-Security-Policy"] = _FRAME_POLICY
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    else:
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        stem = f"{report.info.name}-v{report.info.version}-{file}"
        if media == "application/json":
            response.headers["Content-Disposition"] = f'attachment; filename="{stem}"'
    return response


@router.get("/models/{name}/{version}/{document}")
def document_page(
    request: Request, name: str, version: str, document: str, key: AuditorPage
) -> Response:
    """The evaluation or fairness report as the command line wrote it, in a frame."""
    if document not in DOCUMENTS and document != "transparency":
        raise PageProblem(404, "There is no such report.")
    source, report = _version(request, name, version)
    if document == "transparency":
        if not isinstance(source, MlflowModels):
            raise PageProblem(404, MESSAGE_NO_RECORD)
        file, title = "transparency.html", "Transparency record"
    else:
        file, title = DOCUMENTS[document]
    if document in DOCUMENTS and file not in report.files:
        raise PageProblem(404, f"This version has no {title.lower()}.")
    context = {
        "view": version_view(report.info),
        "base": _base(name, report.info.version),
        "title": title,
        "file": file,
    }
    response = render(request, "model_document.html", context)
    policy = response.headers["Content-Security-Policy"]
    response.headers["Content-Security-Policy"] = policy.replace(
        "default-src 'none';", "default-src 'none'; frame-src 'self';"
    )
    return response
