"""Shared synthetic worlds for tests, generated once per test process, and the model
spec scaled to the small one."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pandas as pd

from triage.config import ModelSpec, load_model_spec
from triage.features import FeatureMatrix, build_features, build_labels
from triage.models import TemporalPlan, TrainingResult, make_splits, train
from triage.synth import SynthConfig, World, generate_world

SMALL = SynthConfig(seed=7, years=3.0, incidents_per_year=1500)


@cache
def default_county() -> World:
    """The default county (5 years, about 12,000 incidents a year) with truth."""
    return generate_world(SynthConfig())


@cache
def small_world(seed: int = 7) -> World:
    return generate_world(SMALL.model_copy(update={"seed": seed}))


def small_spec(**model: object) -> ModelSpec:
    """The shipped spec, scaled to the small world: a 90-day label, two 91-day
    splits, a 91-day calibration slice and a one-point grid."""
    data = load_model_spec().model_dump(mode="json")
    data["label"] = "any_repeat_90d"
    data["splits"] = {"n_splits": 2, "step_days": 91, "test_span_days": 91}
    data["model"]["calibration"]["slice_days"] = 91
    data["model"]["lightgbm"].update(min_child_samples=20, max_rounds=150, early_stopping_rounds=20)
    data["model"]["grid"] = [{"num_leaves": 4}]
    for key, value in model.items():
        data["model"][key] = value
    return ModelSpec.model_validate(data)


@dataclass(frozen=True)
class Trained:
    """A world's labels, features, splits and the model trained on them."""

    spec: ModelSpec
    labels: pd.DataFrame
    matrix: FeatureMatrix
    plan: TemporalPlan
    result: TrainingResult


def trained_on(world: World, spec: ModelSpec, *, seed: int = 0) -> Trained:
    """Labels, point-in-time features and splits of ``world``, and the model that
    ``spec`` trains on them with ``seed``."""
    labels = build_labels(world.extract, spec.labels)
    matrix = build_features(world.extract)
    plan = make_splits(labels, spec.target, spec.splits)
    return Trained(spec, labels, matrix, plan, train(matrix, labels, plan, spec, seed=seed))
