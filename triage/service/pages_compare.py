"""The auditor's compare page, ``/ui/compare?model=&a=&b=`` (docs/architecture.md §10):
what ``triage compare`` prints, read from the registry by
:func:`triage.registry.compare.compare`: metric changes with their intervals, fairness
flags raised, cleared or no longer judged, whether the data differ, and how far the
two versions' daily queues agree."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from triage.exceptions import ModelNotFoundError, PageProblem
from triage.registry.compare import Comparison, MetricDelta, compare
from triage.service.auth import ApiKey, Role
from triage.service.champions import Champions
from triage.service.models import MlflowModels
from triage.service.pages_session import render, require_page
from triage.service.params import whole_number
from triage.service.schemas import MAX_INT

__all__ = ["router", "shown_delta"]

AuditorPage = Annotated[ApiKey, Depends(require_page(Role.AUDITOR))]
router = APIRouter(include_in_schema=False)

MESSAGE_NO_REGISTRY = "Versions can be compared only when the service reads the model registry."


def _fmt(value: float, percent: bool, sign: bool = False) -> str:
    if not math.isfinite(value):
        return "not logged"
    if percent:
        return f"{value * 100:+.1f} pp" if sign else f"{value:.1%}"
    return f"{value:+.4f}" if sign else f"{value:.4f}"


def shown_delta(m: MetricDelta) -> dict[str, str]:
    """A metric change as a reader sees it (percentage points for shares)."""
    interval = "no interval"
    if math.isfinite(m.low) and math.isfinite(m.high):
        interval = f"{_fmt(m.low, m.percent, True)} to {_fmt(m.high, m.percent, True)}"
    return {
        "title": m.title,
        "before": _fmt(m.before, m.percent),
        "after": _fmt(m.after, m.percent),
        "delta": _fmt(m.delta, m.percent, True),
        "interval": interval,
    }


def _version(raw: str | None, what: str) -> int | None:
    if raw is None or raw == "":
        return None
    number = whole_number(raw, 1, MAX_INT)
    if number is None:
        raise PageProblem(422, f"Version '{what}' must be a whole number from 1.")
    return number


@router.get("/compare")
async def compare_page(
    request: Request,
    key: AuditorPage,
    model: str | None = None,
    a: str | None = None,
    b: str | None = None,
) -> Response:
    """Two versions of one model side by side; without both, a form to choose them."""
    champions: Champions = request.app.state.champions
    name = model or champions.spec.default.model
    source = champions.source(name) if name in champions.spec.models else None
    if source is None:
        raise PageProblem(404, "The service serves no model of that name.")
    before, after = _version(a, "a"), _version(b, "b")
    versions = await run_in_threadpool(source.versions)
    result: Comparison | None = None
    if before is not None and after is not None:
        if not isinstance(source, MlflowModels):
            raise PageProblem(404, MESSAGE_NO_REGISTRY)
        if before == after:
            raise PageProblem(422, "Choose two different versions to compare.")
        try:
            result = await run_in_threadpool(compare, source.registry(), name, before, after)
        except ModelNotFoundError:
            raise PageProblem(404, f"{name} has no such version.") from None
    context = {
        "name": name,
        "models": list(champions.spec.models),
        "versions": [v.version for v in versions],
        "a": before,
        "b": after,
        "result": result,
        "metrics": [] if result is None else [shown_delta(m) for m in result.metrics],
    }
    return render(request, "compare.html", context)
