"""The auditor's audit log pages: newest first, a page at a time, filtered by kind,
key, day range and incident, each entry in words with its incidents collapsed to a
count (docs/architecture.md §10). The model pages are in :mod:`pages_models`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from triage.exceptions import PageProblem
from triage.service import audit_log
from triage.service.audit_log import AuditEntry
from triage.service.audit_search import KINDS, AuditFilter, kind_of, search
from triage.service.auth import ApiKey, Role
from triage.service.deps import StoreDep
from triage.service.pages_compare import router as compare_router
from triage.service.pages_models import router as models_router
from triage.service.pages_session import render, require_page, when
from triage.service.params import day, whole_number
from triage.service.schemas import MAX_INT

__all__ = ["PAGE_SIZE", "describe", "router"]

PAGE_SIZE = 50
_MAX_TEXT = 128

AuditorPage = Annotated[ApiKey, Depends(require_page(Role.AUDITOR))]

router = APIRouter(prefix="/ui", include_in_schema=False)
router.include_router(models_router)
router.include_router(compare_router)

#: each action in words (an unknown action is shown as it is stored)
ACTIONS = {
    "ingest": "incidents sent in",
    "ingest.refused": "batch refused",
    "ingest.correction_requested": "correction requested",
    "queue.read": "queue read",
    "incident.read": "incident read",
    "review": "review recorded",
    "model.load": "model loaded at start",
    "model.reload": "model reloaded",
    "model.decision": "model promoted or rolled back",
    "model.refused": "model refused",
    "key.created": "key created",
    "key.revoked": "key revoked",
}


def _decision(d: Mapping[str, Any], version: str | None) -> str:
    verb = {"promote": "promoted", "rollback": "rolled back to"}.get(str(d.get("action")), "moved")
    previous = d.get("previous")
    before = f"v{previous}" if previous is not None else "none"
    text = f"{verb} {version or 'a version'} (champion before: {before})"
    if d.get("at"):
        text += f", decided {when(str(d['at']))} in the registry"
    if d.get("override_reason"):
        text += f"; failed gates overridden: {d['override_reason']}"
    return text


def _words(entry: AuditEntry) -> str:
    if entry.action == "model.decision":
        action = entry.detail.get("action")
        return {"promote": "model promoted", "rollback": "model rolled back"}.get(
            str(action), ACTIONS[entry.action]
        )
    return ACTIONS.get(entry.action, entry.action)


def describe(entry: AuditEntry) -> str:
    """What an entry's detail says, as a sentence (never a raw key: value dump)."""
    d = entry.detail
    if entry.action == "model.decision":
        return _decision(d, entry.model_version)
    if entry.action in ("key.created", "key.revoked"):
        verb = "created" if entry.action == "key.created" else "revoked"
        label = f", labelled {d['label']!r}" if d.get("label") else ""
        return f"{verb} key {d.get('key')} (role {d.get('role')}{label})"
    if entry.action in ("model.load", "model.reload"):
        return (
            f"serving {entry.model_version or 'no model'} (before: {d.get('previous') or 'none'})"
        )
    parts = []
    for name, value in sorted(d.items()):
        if isinstance(value, list | dict):
            value = f"{len(value)} item{'s' if len(value) != 1 else ''}"
        parts.append(f"{name.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def _text(raw: str | None, what: str) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    if len(raw) > _MAX_TEXT or not raw.isprintable():
        raise PageProblem(422, f"The {what} filter is not a {what} the log could hold.")
    return raw.strip()


def _day(raw: str | None, what: str) -> date | None:
    if raw is None or raw == "":
        return None
    found = day(raw)
    if found is None:
        raise PageProblem(422, f"'{what}' must be a day written YYYY-MM-DD.")
    return found


def _seq(raw: str | None, what: str) -> int | None:
    if raw is None or raw == "":
        return None
    number = whole_number(raw, 0, MAX_INT)  # as GET /audit-log reads it
    if number is None:
        raise PageProblem(422, f"'{what}' must be a whole number (an entry's seq).")
    return number


def _filter(
    kind: str | None,
    key: str | None,
    since: str | None,
    until: str | None,
    incident: str | None,
    before: str | None,
    after: str | None,
) -> AuditFilter:
    chosen = _text(kind, "kind")
    if chosen is not None and chosen not in KINDS:
        raise PageProblem(422, "Choose a kind of entry from the list.")
    first, last = _day(since, "from"), _day(until, "to")
    if first and last and first > last:
        raise PageProblem(422, "The 'from' day is after the 'to' day.")
    return AuditFilter(
        kind=chosen,
        key_id=_text(key, "key"),
        since=first,
        until=last,
        incident_id=_text(incident, "incident"),
        before=_seq(before, "before"),
        after=_seq(after, "after"),
    )


def _query(f: AuditFilter, **cursor: int | None) -> str:
    fields = {
        "kind": f.kind,
        "key": f.key_id,
        "since": f.since.isoformat() if f.since else None,
        "until": f.until.isoformat() if f.until else None,
        "incident": f.incident_id,
        "after": f.after,
        **cursor,
    }
    return urlencode({k: v for k, v in fields.items() if v not in (None, "")})


@router.get("/audit-log")
def audit_log_page(
    request: Request,
    key: AuditorPage,
    store: StoreDep,
    kind: str | None = None,
    since: str | None = None,
    until: str | None = None,
    incident: str | None = None,
    before: str | None = None,
    after: str | None = None,
    verify: str | None = None,
) -> Response:
    """Who did what when, newest first; on request, the hash chain recomputed."""
    raw_key = request.query_params.get("key")  # ``key`` names the signed-in key here
    f = _filter(kind, raw_key, since, until, incident, before, after)
    with store.session() as session:
        head_seq, head_hash = audit_log.head(session)
        found = search(session, f, limit=PAGE_SIZE)
    check = store.verify_audit_log() if verify == "true" else None
    newer = found.newer
    rows = [
        {
            "e": e,
            "kind": kind_of(e.action),
            "words": _words(e),
            "summary": describe(e),
        }
        for e in found.entries
    ]
    context = {
        "rows": rows,
        "matching": found.matching,
        "filter": f,
        "filtered": any((f.kind, f.key_id, f.since, f.until, f.incident_id, f.after is not None)),
        "kinds": KINDS,
        "head_seq": head_seq,
        "head_hash": head_hash,
        "older": None if found.older is None else _query(f, before=found.older),
        "newer": None if newer is None else _query(f, before=newer or None),
        "here": _query(f, before=f.before),
        "check": check,
    }
    return render(request, "audit_log.html", context)


@router.get("/audit-log/{seq}")
def audit_entry_page(request: Request, seq: str, key: AuditorPage, store: StoreDep) -> Response:
    """One entry whole: every incident it names, its detail and its hashes."""
    number = whole_number(seq, 1, MAX_INT)
    found = None
    if number is not None:
        with store.read_session() as session:
            page = search(session, AuditFilter(before=number + 1), limit=1)
        found = next((e for e in page.entries if e.seq == number), None)
    if found is None:
        raise PageProblem(404, "There is no such audit log entry.")
    context = {
        "e": found,
        "words": _words(found),
        "summary": describe(found),
    }
    return render(request, "audit_entry.html", context)
