"""The model registry (docs/architecture.md §10): every training run in MLflow with its parameters,
spec hashes, dataset digest, metrics, bundle and reports; a registered version per
run named after its label; ``@champion`` moved only through the promotion gates.

The store is MLflow's SQLite backend by default (``sqlite:///models/mlflow.db``, with
artifacts in ``models/artifacts/``); any tracking URI works by setting. The booster is
logged in LightGBM's own text format (MLflow's LightGBM flavour, for serving) and
the whole bundle beside it; nothing we load back is a pickle.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from triage.contract.text import has_visible_text
from triage.exceptions import ConfigError, ModelNotFoundError, PromotionRefused
from triage.paths import create_private_file
from triage.registry.gates import (
    Gate,
)
from triage.settings import Settings, artifact_root_for

__all__ = [
    "AUDIT_PATH",
    "BUNDLE_PATH",
    "CHAMPION",
    "MANIFEST_TAG",
    "OVERRIDE_TAG",
    "REPORTS_PATH",
    "Decision",
    "MlflowRegistry",
    "NullTracker",
    "RunRecord",
    "Tracker",
    "VersionInfo",
]

logger = logging.getLogger(__name__)

CHAMPION = "champion"
BUNDLE_PATH = "bundle"
MODEL_PATH = "model"
REPORTS_PATH = "reports"
#: data for re-running a version's audit (group labels and scores, no identifiers)
AUDIT_PATH = "audit"
#: the version tag holding the reason its latest promotion overrode failed gates
OVERRIDE_TAG = "promotion.override_reason"
#: the bundle manifest's own sha256, kept in the registry's database beside the version so
#: a bundle re-hashed inside the artifact store is refused (docs/architecture.md §10)
MANIFEST_TAG = "bundle.manifest_sha256"
_HISTORY_TAG = "champion_history"
_DECISION_TAG = "decision."


@dataclass(frozen=True)
class RunRecord:
    """Everything a training run logs."""

    label: str
    params: Mapping[str, object]
    metrics: Mapping[str, float]
    tags: Mapping[str, str]
    bundle_dir: Path
    booster_file: Path
    reports: Sequence[Path] = ()
    dataset: pd.DataFrame | None = None
    description: str = ""
    #: more files to log, by artifact folder (e.g. ``{AUDIT_PATH: [...]}``)
    artifacts: Mapping[str, Sequence[Path]] = field(default_factory=dict)


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: int
    run_id: str
    created: datetime
    aliases: tuple[str, ...]
    metrics: Mapping[str, float]
    tags: Mapping[str, str]
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """A promotion or rollback as recorded in the registry."""

    action: str
    name: str
    version: int
    previous: int | None
    gates: tuple[Gate, ...]
    override_reason: str | None
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_json(self) -> str:
        data = {**self.__dict__, "gates": [g.__dict__ for g in self.gates]}
        return json.dumps(data, sort_keys=True)


class Tracker(Protocol):
    """Where training runs go: MLflow, or nowhere (``NullTracker``) in quick runs."""

    def record(self, run: RunRecord) -> VersionInfo | None: ...


class NullTracker:
    """Records nothing; for dry runs and tests of the training path alone."""

    def record(self, run: RunRecord) -> VersionInfo | None:
        logger.info("run for %s not recorded (null tracker)", run.label)
        return None


def _quiet_mlflow() -> Any:
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    # a uv-built environment has no pip for MLflow to pin; the booster needs none
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return mlflow


@contextmanager
def _no_progress_bar() -> Iterator[None]:
    """Keep MLflow's download progress bar off the terminal the CLI renders to (the
    variable is restored, or removed, on exit)."""
    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


class MlflowRegistry:
    """Training runs, versions and aliases in one MLflow tracking store."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        self.tracking_uri = tracking_uri or Settings.from_env().tracking_uri
        if self.tracking_uri.startswith("sqlite:///"):
            create_private_file(self.tracking_uri[len("sqlite:///") :])
        mlflow = _quiet_mlflow()
        self._mlflow = mlflow
        self.client = mlflow.MlflowClient(
            tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
        )

    # --- recording -------------------------------------------------------------------
    def _experiment(self, name: str) -> str:
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            return str(exp.experiment_id)
        return str(
            self.client.create_experiment(
                name, artifact_location=artifact_root_for(self.tracking_uri)
            )
        )

    def record(self, run: RunRecord) -> VersionInfo:
        """Log one training run and register it as a new version of ``run.label``."""
        import lightgbm as lgb

        mlflow = self._mlflow
        manifest = (run.bundle_dir / "manifest.json").read_bytes()
        sealed = {MANIFEST_TAG: hashlib.sha256(manifest).hexdigest()}
        experiment = self._experiment(run.label)
        mlflow.set_tracking_uri(self.tracking_uri)
        with mlflow.start_run(
            experiment_id=experiment, description=run.description or None
        ) as active:
            run_id = active.info.run_id
            mlflow.log_params({k: str(v)[:500] for k, v in run.params.items()})
            mlflow.log_metrics(dict(run.metrics))
            mlflow.set_tags(dict(run.tags))
            if run.dataset is not None:
                ds = mlflow.data.from_pandas(run.dataset, name=f"{run.label}-training")
                mlflow.log_input(ds, context="training")
            mlflow.log_artifacts(str(run.bundle_dir), BUNDLE_PATH)
            for report in run.reports:
                mlflow.log_artifact(str(report), REPORTS_PATH)
            for folder, files in run.artifacts.items():
                for f in files:
                    mlflow.log_artifact(str(f), folder)
            booster = lgb.Booster(model_file=str(run.booster_file))
            with warnings.catch_warnings():
                # MLflow's pyfunc wrapper notes that it cannot type-check an untyped
                # input; the booster's own feature schema travels in the bundle
                warnings.filterwarnings("ignore", message=".*type hint is inferred as AnyType")
                info = mlflow.lightgbm.log_model(
                    booster, name=MODEL_PATH, pip_requirements=[f"lightgbm=={lgb.__version__}"]
                )
        if not self._registered(run.label):
            self.client.create_registered_model(
                run.label, description=f"Escalation model for the label {run.label}."
            )
        mv = self.client.create_model_version(
            run.label, source=info.model_uri, run_id=run_id, tags={"bundle": BUNDLE_PATH, **sealed}
        )
        return self.version(run.label, int(mv.version))

    def log_files(self, name: str, version: int, files: Sequence[Path], path: str) -> None:
        """Attach more files (e.g. audits) to the run behind a version."""
        run_id = self.version(name, version).run_id
        for f in files:
            self.client.log_artifact(run_id, str(f), path)

    # --- reading -----------------------------------------------------------------------
    def _registered(self, name: str) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            return False
        return True

    def _aliases(self, name: str) -> dict[int, tuple[str, ...]]:
        model = self.client.get_registered_model(name)
        out: dict[int, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            out.setdefault(int(version), []).append(alias)
        return {v: tuple(sorted(a)) for v, a in out.items()}

    def version(self, name: str, version: int | str) -> VersionInfo:
        """A version by number, alias (``champion``, ``@champion``) or ``previous``."""
        from mlflow.exceptions import MlflowException

        if not self._registered(name):
            raise ModelNotFoundError(f"no registered model named {name!r} in {self.tracking_uri}")
        if isinstance(version, str):
            version = version.strip().removeprefix("@")
            if version == "previous" and len(history := self._history(name)) > 1:
                version = history[-2]
        try:
            if isinstance(version, str) and not version.isdigit():
                mv = self.client.get_model_version_by_alias(name, version)
            else:
                mv = self.client.get_model_version(name, str(int(version)))
        except MlflowException:
            raise ModelNotFoundError(f"{name!r} has no version or alias {version!r}") from None
        run = self.client.get_run(mv.run_id)
        number = int(mv.version)
        return VersionInfo(
            name=name,
            version=number,
            run_id=mv.run_id,
            created=datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=UTC),
            aliases=self._aliases(name).get(number, ()),
            metrics=dict(run.data.metrics),
            tags={**run.data.tags, **(mv.tags or {})},
            params=dict(run.data.params),
        )

    def versions(self, name: str) -> list[VersionInfo]:
        """Every version of ``name``, newest first."""
        if not self._registered(name):
            return []
        found = self.client.search_model_versions(f"name='{name}'")
        return sorted(
            (self.version(name, int(mv.version)) for mv in found), key=lambda v: -v.version
        )

    def champion(self, name: str) -> VersionInfo | None:
        try:
            return self.version(name, CHAMPION)
        except ModelNotFoundError:
            return None

    def download_bundle(self, name: str, version: int | str, dst: Path | None = None) -> Path:
        """Fetch a version's bundle folder (verify it with ``ModelBundle.load``)."""
        info = self.version(name, version)
        target = dst or Path(tempfile.mkdtemp(prefix="triage-bundle-"))
        return Path(self.client.download_artifacts(info.run_id, BUNDLE_PATH, str(target)))

    def download_reports(self, name: str, version: int | str, dst: Path) -> Path:
        return self.download_artifact(name, version, REPORTS_PATH, dst)

    def download_artifact(self, name: str, version: int | str, path: str, dst: Path) -> Path:
        """Fetch one artifact file or folder of a version's run (``ModelNotFoundError``
        if the version or the artifact is missing)."""
        from mlflow.exceptions import MlflowException

        info = self.version(name, version)
        dst.mkdir(parents=True, exist_ok=True)
        try:
            with _no_progress_bar():
                return Path(self.client.download_artifacts(info.run_id, path, str(dst)))
        except (MlflowException, OSError):
            raise ModelNotFoundError(
                f"{name} v{info.version} has no logged artifact {path!r}"
            ) from None

    def decisions(self, name: str) -> list[dict[str, Any]]:
        """Every promotion and rollback of ``name``, oldest first (none before it is
        registered)."""
        from mlflow.exceptions import MlflowException

        try:
            tags = self.client.get_registered_model(name).tags or {}
        except MlflowException:  # not registered yet (as _registered reads it)
            return []
        return [json.loads(v) for k, v in sorted(tags.items()) if k.startswith(_DECISION_TAG)]

    # --- promotion -------------------------------------------------------------------
    def _history(self, name: str) -> list[int]:
        raw = (self.client.get_registered_model(name).tags or {}).get(_HISTORY_TAG, "")
        return [int(v) for v in raw.split(",") if v]

    def _record(self, decision: Decision, history: list[int]) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        self.client.set_registered_model_tag(
            decision.name, f"{_DECISION_TAG}{stamp}", decision.to_json()
        )
        self.client.set_registered_model_tag(
            decision.name, _HISTORY_TAG, ",".join(map(str, history))
        )
        self.client.set_model_version_tag(
            decision.name, str(decision.version), f"last_{decision.action}", decision.to_json()
        )
        if decision.action == "promote":
            self.client.set_model_version_tag(
                decision.name, str(decision.version), OVERRIDE_TAG, decision.override_reason or ""
            )

    def promote(
        self, name: str, version: int, gates: Sequence[Gate], override_reason: str | None = None
    ) -> Decision:
        """Move ``@champion`` to ``version`` if every gate passed, or if a reason for
        overriding the failed gates is given; record the decision either way it lands."""
        if override_reason is not None and not has_visible_text(override_reason):
            raise ConfigError("the override reason must say why in visible text")
        info = self.version(name, version)
        current = self.champion(name)
        if current is not None and current.version == info.version:
            raise PromotionRefused(f"{name} v{version} is already the champion")
        failed = [g for g in gates if not g.passed]
        reason = (override_reason or "").strip() or None
        if failed and reason is None:
            raise PromotionRefused(
                f"{name} v{version} fails "
                + "; ".join(f"{g.name} ({g.detail})" for g in failed)
                + ". Promote anyway only with a recorded reason (--override-reason)."
            )
        history = self._history(name)
        self.client.set_registered_model_alias(name, CHAMPION, str(info.version))
        decision = Decision(
            "promote",
            name,
            info.version,
            None if current is None else current.version,
            tuple(gates),
            reason,
        )
        self._record(decision, [*history, info.version])
        return decision

    def rollback(self, name: str, reason: str | None = None) -> Decision:
        """Restore the champion before the current one."""
        history = self._history(name)
        current = self.champion(name)
        if current is None or len(history) < 2:
            raise PromotionRefused(f"{name} has no previous champion to roll back to")
        previous = history[-2]
        self.client.set_registered_model_alias(name, CHAMPION, str(previous))
        decision = Decision(
            "rollback", name, previous, current.version, (), (reason or "").strip() or None
        )
        self._record(decision, history[:-1])
        return decision


def ensure_local_store(settings: Settings) -> None:
    """Refuse a tracking URI we cannot use before any work starts."""
    uri = settings.tracking_uri
    if uri.startswith("file:") or (("://" not in uri) and not uri.startswith("sqlite")):
        raise ConfigError(
            f"TRIAGE_TRACKING_URI={uri!r}: MLflow's file store is retired; use sqlite:///path.db "
            "or a tracking server URL"
        )
