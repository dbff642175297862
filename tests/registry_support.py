"""Small registered versions for registry, card and audit tests: the small world, a
model spec scaled to it, and an audit spec strict enough that the audit flags."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import pytest
import yaml
from synth_support import small_spec, small_world

from triage.evaluation.fairness import AuditSpec, load_audit_spec
from triage.pipeline import Prepared, Trained, prepare, train_and_register
from triage.registry.tracking import MlflowRegistry

#: a tight band and small minimum groups: the small world's audit flags disparities
STRICT = {"tolerance": (0.99, 1.01), "min_group": {"n": 30, "positives": 5, "expected_events": 3}}
#: a band so wide that nothing is flagged
LENIENT = {"tolerance": (0.05, 20.0), "min_group": {"n": 30, "positives": 5, "expected_events": 3}}
CAPACITY = 2


def audit_spec(**update: object) -> AuditSpec:
    data = load_audit_spec().model_dump(mode="json")
    data.update(bootstrap={"resamples": 50, "seed": 1}, **update)
    return AuditSpec.model_validate(data)


@cache
def _spec_file(folder: Path) -> Path:
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump(small_spec().model_dump(mode="json")))
    return path


@cache
def prepared_small(folder: Path) -> Prepared:
    return prepare(small_world().extract, _spec_file(folder))


def register_small(
    registry: MlflowRegistry,
    folder: Path,
    *,
    audit: AuditSpec,
    seed: int = 0,
    reports: Path | None = None,
) -> Trained:
    """Train, audit and register one version of the small world's model."""
    return train_and_register(
        prepared_small(folder),
        registry,
        truth=small_world().truth,
        capacity=CAPACITY,
        seed=seed,
        report_dir=reports or folder / f"reports-{seed}",
        audit_spec=audit,
        shap_sample=200,
    )


@cache
def prepared_world(folder: Path, world_seed: int) -> Prepared:
    """Another small world (seed ``world_seed``): different data from ``prepared_small``."""
    return prepare(small_world(world_seed).extract, _spec_file(folder))


def register_world(
    registry: MlflowRegistry, folder: Path, world_seed: int, *, audit: AuditSpec
) -> Trained:
    """Train, audit and register one version on the small world of ``world_seed``."""
    return train_and_register(
        prepared_world(folder, world_seed),
        registry,
        truth=small_world(world_seed).truth,
        capacity=CAPACITY,
        report_dir=folder / f"reports-world-{world_seed}",
        audit_spec=audit,
        shap_sample=200,
    )


def fresh_registry(factory: pytest.TempPathFactory, name: str) -> MlflowRegistry:
    """An empty MLflow store in its own folder (a copy of a migrated template)."""
    return registry_in(factory, factory.mktemp(name))


def registry_in(factory: pytest.TempPathFactory, folder: Path) -> MlflowRegistry:
    """An empty MLflow store at ``folder/models/mlflow.db``, copied from a template
    migrated once per session (migrating a new store takes seconds)."""
    template = factory.getbasetemp() / "mlflow-template.db"
    if not template.exists():
        MlflowRegistry(f"sqlite:///{template}").client.search_experiments()
    db = folder / "models" / "mlflow.db"
    db.parent.mkdir()
    shutil.copy(template, db)
    return MlflowRegistry(f"sqlite:///{db}")
