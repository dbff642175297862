"""Where the service's model comes from: a :class:`ModelSource` names the champion,
loads it as a :class:`~triage.service.scoring.Scorer`, and reads any version's
metrics and reports. :class:`MlflowModels` reads the registry (docs/architecture.md §10);
:class:`StaticModels` is the test double. :class:`LoadedModel` holds what is being
served and swaps it atomically on reload.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from triage.config import DEFAULT_MODEL_NAME
from triage.exceptions import BundleIntegrityError, ModelNotFoundError, TriageError
from triage.service import audit_log
from triage.service.scoring import Scorer, load_bundle_scorer
from triage.service.store import Store
from triage.service.tables import AuditRow, ScoreRow

__all__ = [
    "LoadedModel",
    "MlflowModels",
    "ModelInfo",
    "ModelReport",
    "ModelSource",
    "StaticModels",
    "reload_champion",
]

logger = logging.getLogger(__name__)

#: the registered model the service serves (named after its label, docs/architecture.md §10)
_CARD_NAMES = ("MODEL_CARD.md", "model_card.md")
MESSAGE_UNSEALED = (
    "{version} was registered without its bundle manifest's sha256, so its bundle cannot "
    "be trusted; register it again (triage train) and promote the new version"
)
MESSAGE_REFUSED = "{version} was refused and is not served ({reason}); still serving {serving}"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: int
    created: datetime
    aliases: tuple[str, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def model_version(self) -> str:
        """How scores, responses and the audit log name this version."""
        return f"{self.name}/{self.version}"


@dataclass(frozen=True)
class ModelReport:
    info: ModelInfo
    files: tuple[str, ...]
    model_card: str | None


class ModelSource(Protocol):
    name: str

    def champion(self) -> ModelInfo | None: ...

    def version(self, version: int) -> ModelInfo: ...

    def load(self, info: ModelInfo) -> Scorer: ...

    def report(self, version: int) -> ModelReport: ...

    def versions(self) -> list[ModelInfo]: ...

    def report_file(self, version: int, name: str) -> bytes: ...

    def decisions(self) -> list[dict[str, Any]]: ...


class MlflowModels:
    """The MLflow registry at ``tracking_uri`` (opened on first use: MLflow is slow
    to import, and the service starts without it when no model is wanted)."""

    def __init__(self, tracking_uri: str, name: str = DEFAULT_MODEL_NAME) -> None:
        self.tracking_uri = tracking_uri
        self.name = name
        self._registry: Any = None

    def _reg(self) -> Any:
        if self._registry is None:
            from triage.registry.tracking import MlflowRegistry

            self._registry = MlflowRegistry(self.tracking_uri)
        return self._registry

    def registry(self) -> Any:
        """The registry itself (an ``MlflowRegistry``), for comparing versions."""
        return self._reg()

    @staticmethod
    def _info(raw: Any) -> ModelInfo:
        return ModelInfo(
            raw.name, raw.version, raw.created, raw.aliases, dict(raw.metrics), dict(raw.tags)
        )

    def champion(self) -> ModelInfo | None:
        raw = self._reg().champion(self.name)
        return None if raw is None else self._info(raw)

    def version(self, version: int) -> ModelInfo:
        return self._info(self._reg().version(self.name, version))

    def load(self, info: ModelInfo) -> Scorer:
        """Download, verify and load a version's bundle (read whole into memory, so the
        download is removed afterwards). The manifest must match the sha256 recorded
        with the version at registration, outside the artifact store: files re-hashed
        into a rewritten manifest are refused. A version without one is refused too."""
        from triage.registry.tracking import MANIFEST_TAG

        sealed = info.tags.get(MANIFEST_TAG)
        if not sealed:
            raise BundleIntegrityError(MESSAGE_UNSEALED.format(version=info.model_version))
        with tempfile.TemporaryDirectory(prefix="triage-bundle-") as tmp:
            folder = self._reg().download_bundle(self.name, info.version, Path(tmp))
            return load_bundle_scorer(Path(folder), info.model_version, manifest_sha256=sealed)

    def report(self, version: int) -> ModelReport:
        from mlflow.exceptions import MlflowException

        info = self.version(version)
        with tempfile.TemporaryDirectory(prefix="triage-report-") as tmp:
            try:
                folder = Path(self._reg().download_reports(self.name, version, Path(tmp)))
            except (MlflowException, OSError):  # a version logged without reports
                logger.info("%s has no reports folder", info.model_version)
                return ModelReport(info, (), None)
            files = tuple(
                sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
            )
            card = next((folder / n for n in _CARD_NAMES if (folder / n).is_file()), None)
            text = card.read_text(encoding="utf-8") if card else None
        return ModelReport(info, files, text)

    def versions(self) -> list[ModelInfo]:
        """Every version, newest first (none before the first is registered)."""
        return [self._info(raw) for raw in self._reg().versions(self.name)]

    def report_file(self, version: int, name: str) -> bytes:
        """One file of a version's reports folder (``ModelNotFoundError`` if absent)."""
        from triage.registry.tracking import REPORTS_PATH

        with tempfile.TemporaryDirectory(prefix="triage-report-") as tmp:
            path = self._reg().download_artifact(
                self.name, version, f"{REPORTS_PATH}/{name}", Path(tmp)
            )
            return Path(path).read_bytes()

    def decisions(self) -> list[dict[str, Any]]:
        return list(self._reg().decisions(self.name))


class StaticModels:
    """A registry double: fixed scorers by version, a movable champion."""

    def __init__(
        self,
        scorers: Mapping[int, Scorer],
        champion: int | None = None,
        *,
        name: str = "stub",
        metrics: Mapping[int, Mapping[str, float]] | None = None,
    ) -> None:
        self.name = name
        self._scorers = dict(scorers)
        self._champion = champion
        self._metrics = dict(metrics or {})
        self._decisions: list[dict[str, Any]] = []
        self._created = datetime.now(UTC)

    def promote(self, version: int, reason: str | None = None) -> None:
        self.version(version)
        self._decisions.append(
            {
                "action": "promote",
                "name": self.name,
                "version": version,
                "previous": self._champion,
                "override_reason": reason,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
        self._champion = version

    def champion(self) -> ModelInfo | None:
        return None if self._champion is None else self.version(self._champion)

    def version(self, version: int) -> ModelInfo:
        if version not in self._scorers:
            raise ModelNotFoundError(f"{self.name!r} has no version {version}")
        aliases = ("champion",) if version == self._champion else ()
        return ModelInfo(self.name, version, self._created, aliases, self._metrics.get(version, {}))

    def load(self, info: ModelInfo) -> Scorer:
        return self._scorers[info.version]

    def report(self, version: int) -> ModelReport:
        return ModelReport(self.version(version), ("report.json",), f"# {self.name} v{version}\n")

    def versions(self) -> list[ModelInfo]:
        return [self.version(v) for v in sorted(self._scorers, reverse=True)]

    def report_file(self, version: int, name: str) -> bytes:
        if name not in self.report(version).files:
            raise ModelNotFoundError(f"{self.name} v{version} has no report {name!r}")
        return b"{}\n"

    def decisions(self) -> list[dict[str, Any]]:
        return list(self._decisions)


class LoadedModel:
    """The champion being served; readers get a consistent (info, scorer) pair."""

    def __init__(self, info: ModelInfo | None = None, scorer: Scorer | None = None) -> None:
        self._lock = threading.Lock()
        self._pair: tuple[ModelInfo | None, Scorer | None] = (info, scorer)

    def get(self) -> tuple[ModelInfo | None, Scorer | None]:
        with self._lock:
            return self._pair

    def set(self, info: ModelInfo | None, scorer: Scorer | None) -> None:
        with self._lock:
            self._pair = (info, scorer)


def _decision_key(decision: Mapping[str, Any]) -> str:
    text = json.dumps(dict(decision), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _record_decisions(session: Session, models: ModelSource, key_id: str) -> int:
    """Copy registry promotions and rollbacks not yet in the audit log into it."""
    try:
        decisions = models.decisions()
    except TriageError:
        return 0
    seen = {
        json.loads(detail).get("decision_sha256")
        for detail in session.scalars(
            select(AuditRow.detail).where(AuditRow.action == "model.decision")
        )
    }
    added = 0
    for decision in decisions:
        digest = _decision_key(decision)
        if digest in seen:
            continue
        version = decision.get("version")
        audit_log.append(
            session,
            key_id=key_id,
            action="model.decision",
            model_version=f"{models.name}/{version}",
            detail={
                "decision_sha256": digest,
                "action": decision.get("action"),
                "previous": decision.get("previous"),
                "at": decision.get("at"),
                "override_reason": decision.get("override_reason"),
            },
        )
        added += 1
    return added


def _refuse(store: Store, version: str, *, key_id: str, serving: str | None) -> None:
    """Drop the scores cached under a version whose bundle failed its checks (they may
    come from the altered model) and record the refusal."""
    with store.session() as s:
        dropped = s.execute(delete(ScoreRow).where(ScoreRow.model_version == version))
        n = int(getattr(dropped, "rowcount", 0) or 0)
        audit_log.append(
            s,
            key_id=key_id,
            action="model.refused",
            model_version=version,
            detail={"serving": serving, "scores_dropped": n},
        )
    logger.warning("refused %s (scores dropped: %d); serving %s", version, n, serving)


def reload_champion(
    store: Store, models: ModelSource, loaded: LoadedModel, *, key_id: str, action: str
) -> tuple[str | None, str | None]:
    """Load the registry's current champion, record promotions since the last look
    and the (re)load itself; return the previous and the new model version. A champion
    whose bundle fails its checks is refused (``BundleIntegrityError``): the served
    model stays, and the refused version's cached scores are dropped."""
    _, old = loaded.get()
    previous = None if old is None else old.model_version
    info = models.champion()
    try:
        scorer = None if info is None else models.load(info)
    except BundleIntegrityError as exc:
        assert info is not None
        _refuse(store, info.model_version, key_id=key_id, serving=previous)
        message = MESSAGE_REFUSED.format(
            version=info.model_version, reason=exc, serving=previous or "no model"
        )
        raise BundleIntegrityError(message) from None
    current = None if scorer is None else scorer.model_version
    with store.session() as s:
        _record_decisions(s, models, key_id)
        audit_log.append(
            s, key_id=key_id, action=action, model_version=current, detail={"previous": previous}
        )
    loaded.set(info, scorer)
    logger.info("serving %s (was %s)", current or "no model", previous or "no model")
    return previous, current
