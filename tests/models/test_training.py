"""Training, calibration, baselines and the model bundle, on the small synthetic world."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synth_support import Trained, small_spec, small_world, trained_on

import triage.models.training as modeling
from triage.config import load_model_spec
from triage.exceptions import BundleIntegrityError, ConfigError, SchemaError
from triage.features.build import build_features
from triage.features.labels import build_labels
from triage.models.baselines import LogisticBaseline, prior_count_formula
from triage.models.bundle import BUNDLE_FILES, ModelBundle
from triage.models.calibrators import (
    IsotonicCalibrator,
    PlattCalibrator,
    calibrator_from_json,
    fit_calibrator,
)
from triage.models.temporal import make_splits
from triage.models.training import train


@pytest.fixture(scope="module")
def setup() -> Trained:
    return trained_on(small_world(), small_spec(), seed=3)


def test_all_lists_every_public_name_defined_here() -> None:
    defined = {
        name
        for name, obj in vars(modeling).items()
        if not name.startswith("_") and getattr(obj, "__module__", None) == modeling.__name__
    }
    assert defined <= set(modeling.__all__)
    assert all(hasattr(modeling, name) for name in modeling.__all__)
    assert len(set(modeling.__all__)) == len(modeling.__all__)


def test_same_inputs_and_seed_give_a_byte_identical_booster(setup: Trained, tmp_path: Path) -> None:
    extract = small_world().extract  # labels, features and splits built afresh
    labels = build_labels(extract, setup.spec.labels)
    plan = make_splits(labels, setup.spec.target, setup.spec.splits)
    again = train(build_features(extract), labels, plan, setup.spec, seed=3)
    assert again.bundle.booster_text == setup.result.bundle.booster_text
    first = setup.result.bundle.save(tmp_path / "a")
    second = again.bundle.save(tmp_path / "b")
    for name in (*BUNDLE_FILES, "manifest.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    pd.testing.assert_frame_equal(again.validation, setup.result.validation)


def test_another_seed_gives_another_booster(setup: Trained) -> None:
    other = train(setup.matrix, setup.labels, setup.plan, setup.spec, seed=4)
    assert other.bundle.booster_text != setup.result.bundle.booster_text


def test_booster_is_trained_deterministically_on_fixed_threads(setup: Trained) -> None:
    params = setup.result.folds[-1].params
    assert params["deterministic"] is True
    assert params["force_row_wise"] is True
    assert params["num_threads"] == setup.spec.model.lightgbm.num_threads
    assert params["seed"] == 3


def test_validation_holds_every_test_row_once_with_all_scores(setup: Trained) -> None:
    v = setup.result.validation
    expected = np.concatenate([s.test for s in setup.plan.splits])
    assert list(v["incident_id"]) == list(setup.labels["incident_id"].iloc[expected])
    assert list(v.columns) == [
        "incident_id",
        "reported_at",
        "split",
        "y",
        "score_model",
        "score_logistic",
        "score_dash",
        "score_prior",
        "dash_grade",
        "score_lightgbm",
    ]
    family = setup.result.family.family
    np.testing.assert_array_equal(v["score_model"], v[f"score_{family}"])
    scores = v.filter(like="score_").to_numpy()
    assert np.isfinite(scores).all()
    assert ((scores > 0) & (scores < 1)).all()


def test_each_fold_fits_and_calibrates_on_rows_known_by_its_as_of_date(setup: Trained) -> None:
    window = pd.Timedelta(days=setup.plan.window_days)
    for split, fold in zip(setup.plan.splits, setup.result.folds, strict=False):
        horizon = split.as_of - window
        assert pd.Timestamp(fold.horizon) == horizon
        assert pd.Timestamp(fold.slice_to) <= horizon  # every label observed by as_of
        assert pd.Timestamp(fold.slice_from) == horizon - pd.Timedelta(days=91)
        assert fold.fit_rows + fold.slice_rows == len(split.train)
    final = setup.result.folds[-1]
    assert final.fit_rows + final.slice_rows == len(setup.plan.final)
    assert pd.Timestamp(final.horizon) == setup.plan.end - window


def test_grid_points_are_tried_and_the_lowest_slice_log_loss_wins(setup: Trained) -> None:
    for fold in setup.result.folds:
        assert len(fold.grid_log_loss) == 2
        assert fold.slice_log_loss == min(fold.grid_log_loss)


def test_saved_bundle_scores_exactly_as_in_memory(setup: Trained, tmp_path: Path) -> None:
    bundle = setup.result.bundle
    loaded = ModelBundle.load(bundle.save(tmp_path / "bundle"))
    X = setup.matrix.X
    np.testing.assert_array_equal(loaded.predict_raw(X), bundle.predict_raw(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), bundle.predict_proba(X))
    np.testing.assert_array_equal(
        loaded.logistic.predict_proba(X), bundle.logistic.predict_proba(X)
    )
    assert loaded.metadata == json.loads(json.dumps(bundle.metadata))
    assert loaded.model_spec == setup.spec
    assert loaded.label == "any_repeat_90d"


def test_bundle_is_plain_text_with_a_hash_for_every_file(setup: Trained, tmp_path: Path) -> None:
    folder = setup.result.bundle.save(tmp_path / "bundle")
    assert sorted(p.name for p in folder.iterdir()) == sorted([*BUNDLE_FILES, "manifest.json"])
    for path in folder.iterdir():
        path.read_text(encoding="utf-8")  # all text, nothing pickled
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["files"]) == set(BUNDLE_FILES)
    meta = manifest["metadata"]
    assert meta["training_rows"] == len(setup.plan.final)
    assert meta["seed"] == 3
    assert len(meta["data_fingerprint"]) == 64
    assert meta["model_spec_fingerprint"] == setup.spec.fingerprint()
    assert {"lightgbm", "scikit-learn", "python"} <= set(meta["versions"])
    schema = json.loads((folder / "feature_schema.json").read_text())
    grades = next(f for f in schema["features"] if f["name"] == "dash_grade")
    assert grades["categories"] == ["standard", "medium", "high", "not_completed"]


@pytest.mark.parametrize("name", ["booster.txt", "calibrator.json", "logistic.json"])
def test_a_bundle_with_one_altered_byte_is_refused_naming_the_file(
    setup: Trained, tmp_path: Path, name: str
) -> None:
    folder = setup.result.bundle.save(tmp_path / "bundle")
    data = bytearray((folder / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / name).write_bytes(bytes(data))
    with pytest.raises(BundleIntegrityError, match=name):
        ModelBundle.load(folder)


def test_a_bundle_with_a_missing_file_is_refused(setup: Trained, tmp_path: Path) -> None:
    folder = setup.result.bundle.save(tmp_path / "bundle")
    (folder / "model_spec.yaml").unlink()
    with pytest.raises(BundleIntegrityError, match=r"model_spec\.yaml"):
        ModelBundle.load(folder)


def test_a_manifest_that_does_not_match_its_expected_hash_is_refused(
    setup: Trained, tmp_path: Path
) -> None:
    folder = setup.result.bundle.save(tmp_path / "bundle")
    with pytest.raises(BundleIntegrityError, match=r"manifest\.json"):
        ModelBundle.load(folder, manifest_sha256="0" * 64)


def test_saving_over_a_bundle_needs_overwrite(setup: Trained, tmp_path: Path) -> None:
    folder = setup.result.bundle.save(tmp_path / "bundle")
    with pytest.raises(ConfigError, match="not empty"):
        setup.result.bundle.save(folder)
    setup.result.bundle.save(folder, overwrite=True)
    ModelBundle.load(folder)


def test_scoring_features_with_other_columns_or_categories_is_refused(setup: Trained) -> None:
    bundle = setup.result.bundle
    X = setup.matrix.X
    with pytest.raises(SchemaError, match="feature columns"):
        bundle.predict_proba(X[list(reversed(X.columns))])
    recoded = X.assign(
        dash_grade=X["dash_grade"].cat.reorder_categories(
            ["high", "medium", "standard", "not_completed"]
        )
    )
    with pytest.raises(SchemaError, match="dash_grade"):
        bundle.predict_proba(recoded)


def test_a_matrix_from_another_feature_spec_is_refused(setup: Trained) -> None:
    other = load_model_spec()  # any spec object other than the matrix's feature spec
    with pytest.raises(ConfigError, match="expected a FeatureSetSpec"):
        train(setup.matrix, setup.labels, setup.plan, setup.spec, feature_spec=other)  # type: ignore[arg-type]
    from triage.config import load_feature_spec

    narrower = load_feature_spec().model_copy(update={"incident": ("incident_type",)})
    with pytest.raises(ConfigError, match="another feature spec"):
        train(setup.matrix, setup.labels, setup.plan, setup.spec, feature_spec=narrower)


def test_a_plan_for_another_label_is_refused(setup: Trained) -> None:
    spec = small_spec()
    other = spec.model_copy(update={"label": "serious_harm_365d"})
    with pytest.raises(ConfigError, match="plan is for label"):
        train(setup.matrix, setup.labels, setup.plan, other)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibrators_are_monotone_and_survive_json(method: str) -> None:
    rng = np.random.default_rng(0)
    score = rng.normal(size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-(1.5 * score - 2)))).astype(float)
    cal = fit_calibrator(method, score, y)
    grid = np.linspace(-5, 5, 1001)
    p = cal(grid)
    assert np.all(np.diff(p) >= 0)
    assert ((p >= 0) & (p <= 1)).all()
    again = PlattCalibrator if method == "platt" else IsotonicCalibrator

    rebuilt = calibrator_from_json(json.loads(json.dumps(cal.to_json())))
    assert isinstance(rebuilt, again)
    np.testing.assert_array_equal(rebuilt(grid), p)
    if isinstance(cal, PlattCalibrator):
        assert cal.a == pytest.approx(1.5, abs=0.15)
        assert cal.b == pytest.approx(-2.0, abs=0.15)


def test_isotonic_calibrator_matches_scikit_learn() -> None:
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(1)
    score = rng.normal(size=500)
    y = (rng.random(500) < 0.3).astype(float)
    cal = fit_calibrator("isotonic", score, y)
    assert isinstance(cal, IsotonicCalibrator)
    ref = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(score, y)
    grid = np.linspace(-4, 4, 301)
    np.testing.assert_allclose(cal(grid), ref.predict(grid))


def test_calibration_needs_both_outcomes() -> None:
    with pytest.raises(ValueError, match="both outcomes"):
        fit_calibrator("platt", np.arange(5.0), np.zeros(5))


def test_logistic_baseline_json_round_trip_scores_identically(setup: Trained) -> None:
    logistic = setup.result.bundle.logistic
    rebuilt = LogisticBaseline.from_json(json.loads(json.dumps(logistic.to_json())))
    X = setup.matrix.X
    np.testing.assert_array_equal(rebuilt.predict_proba(X), logistic.predict_proba(X))
    assert rebuilt.settings == logistic.settings
    assert len(logistic.coef) == len(logistic.columns)
    assert "dash_grade=high" in logistic.columns
    assert sum(c != 0 for c in logistic.coef) < len(logistic.coef)  # L1 part zeroes some


def test_prior_count_matches_the_people_the_label_matches_on(setup: Trained) -> None:
    columns = setup.matrix.X.columns
    serious, repeat = load_model_spec().labels
    assert prior_count_formula(columns, serious) == (
        ["perpetrator_count_365d", "victim_count_365d"],
        ["pair_count_365d"],
    )
    assert prior_count_formula(columns, repeat) == (["pair_count_365d"], [])
    with pytest.raises(ConfigError, match="no prior-incident counts"):
        prior_count_formula(pd.Index(["x"]), serious)
