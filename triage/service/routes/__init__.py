"""One thin router per resource; each route names its role and its error codes."""

from __future__ import annotations

from triage.service.routes import audit, health, incidents, models, queue

__all__ = ["ROUTERS"]

ROUTERS = (health.router, incidents.router, queue.router, models.router, audit.router)
