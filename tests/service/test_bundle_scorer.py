"""The real scorer: a trained, saved and verified model bundle scores incidents
read back from the store exactly as it scores the training matrix built from the
whole extract (no training/serving skew), with reasons from LightGBM's
contributions; and the service serves it from the MLflow registry's @champion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from service_support import Service, make_keys, serving
from sqlalchemy import select
from synth_support import small_spec, small_world, trained_on

from triage.evaluation.explain import explain_incidents
from triage.models.bundle import lightgbm_array
from triage.registry.tracking import MlflowRegistry, RunRecord
from triage.service import Store, create_app
from triage.service._scoring_store import score_missing
from triage.service.ingest import ingest
from triage.service.reading import incident_view
from triage.service.scoring import bundle_explainer, load_bundle_scorer
from triage.service.tables import ScoreRow
from triage.settings import Settings

pytestmark = pytest.mark.xdist_group("mlflow")
LABEL = "any_repeat_90d"


@pytest.fixture(scope="module", params=["lightgbm", "logistic"])
def trained(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Any]:
    """A bundle of each family (the spec's rule is given that family alone)."""
    world = small_world()
    spec = small_spec(champion={"families": [request.param]})
    fitted = trained_on(world, spec, seed=3)
    assert fitted.result.bundle.family == request.param
    matrix, result = fitted.matrix, fitted.result
    folder = result.bundle.save(tmp_path_factory.mktemp("bundle") / "bundle")
    return folder, (world, matrix, result.bundle)


def test_scores_from_the_store_equal_the_training_matrix_scores(
    trained: tuple[Path, Any], sqlite_store: Store
) -> None:
    folder, (world, matrix, bundle) = trained
    extract = world.extract
    ingest(sqlite_store, extract.incidents, extract.people, extract.orders, scorer=None, key_id="k")
    scorer = load_bundle_scorer(folder, "any_repeat_90d/1")
    ids = extract.incidents["incident_id"].astype(str).tolist()[-40:]
    with sqlite_store.session() as s:
        assert score_missing(s, ids, scorer) == 40
    expected = bundle.predict_proba(matrix.X)[-40:]
    with sqlite_store.session() as s:
        got = dict(s.execute(select(ScoreRow.incident_id, ScoreRow.probability)).all())
    np.testing.assert_allclose([got[i] for i in ids], expected, rtol=0, atol=1e-12)
    view = incident_view(sqlite_store, ids[-1], scorer, key_id="r")
    assert view.score is not None
    assert view.score.reasons
    assert all(r.text for r in view.score.reasons)


def test_the_service_serves_the_registrys_champion(
    trained: tuple[Path, Any], sqlite_store: Store, tmp_path: Path
) -> None:
    folder, (world, matrix, bundle) = trained
    tracking = f"sqlite:///{tmp_path / 'models' / 'mlflow.db'}"
    registry = MlflowRegistry(tracking)
    report = tmp_path / "report.html"
    report.write_text("<html>evaluation</html>")
    run = RunRecord(
        LABEL,
        {"seed": 3},
        {"pooled_model_roc_auc": 0.7},
        {},
        folder,
        folder / "booster.txt",
        [report],
    )
    version = registry.record(run).version
    registry.promote(LABEL, version, [], override_reason="test champion")
    extract = world.extract
    ingest(sqlite_store, extract.incidents, extract.people, extract.orders, scorer=None, key_id="k")
    day = extract.incidents["reported_at"].iloc[-1].date()
    on_day = (extract.incidents["reported_at"].dt.date == day).to_numpy()
    expected = dict(
        zip(matrix.ids["incident_id"][on_day], bundle.predict_proba(matrix.X)[on_day], strict=True)
    )

    keys, _ = make_keys(sqlite_store)
    settings = Settings(database_url=sqlite_store.url, tracking_uri=tracking)
    app = create_app(settings, store=sqlite_store, model_name=LABEL)
    with serving(app) as url:
        svc = Service(url, keys, {}, sqlite_store, None)  # type: ignore[arg-type]
        assert httpx.get(url + "/health").json()["model_version"] == f"{LABEL}/{version}"
        with svc.client("reviewer") as c:
            items = c.get("/queue", params={"date": day.isoformat()}).json()["items"]
        with svc.client("auditor") as c:
            actions = [e["action"] for e in c.get("/audit-log").json()["items"]]
            files = c.get(f"/models/{version}/report").json()["files"]
    assert {i["incident_id"]: i["probability"] for i in items} == pytest.approx(expected, abs=1e-12)
    assert all(i["reasons"] for i in items)
    assert actions[:3] == ["ingest", "model.decision", "model.load"]
    assert files == ["report.html"]


def test_the_array_path_predicts_bit_for_bit_as_lightgbms_pandas_path(
    trained: tuple[Path, Any],
) -> None:
    _, (_, matrix, bundle) = trained
    booster = bundle.booster
    X = matrix.X.copy()
    categorical = [c for c in X.columns if X[c].dtype == "category"]
    assert categorical
    X.loc[X.index[:7], categorical[0]] = None  # missing categories
    reordered = X.copy()  # categories in another order: recoded to the training ones
    for column in categorical:
        cats = list(reordered[column].cat.categories)
        reordered[column] = reordered[column].cat.set_categories(cats[::-1])
    for frame in (X, reordered):
        array = lightgbm_array(frame, booster.pandas_categorical)
        for options in ({"raw_score": True}, {"pred_contrib": True}):
            np.testing.assert_array_equal(
                booster.predict(array, **options), booster.predict(frame, **options)
            )
    for i in range(0, len(X), max(1, len(X) // 50)):  # one row at a time, as served
        row = X.iloc[[i]]
        scored = (
            booster.predict(row, raw_score=True)
            if bundle.family == "lightgbm"
            else bundle.logistic.decision_function(row)
        )
        np.testing.assert_array_equal(bundle.predict_raw(row, threads=1), scored)


def test_service_reasons_are_the_evaluation_reasons(trained: tuple[Path, Any]) -> None:
    _, (_, matrix, bundle) = trained
    rows = matrix.X.index[-60:]
    sub = type(matrix)(
        matrix.ids.loc[rows].reset_index(drop=True),
        matrix.X.loc[rows].reset_index(drop=True),
        matrix.audit.loc[rows].reset_index(drop=True),
        matrix.catalogue,
        matrix.spec_fingerprint,
        matrix.harm_sha256,
    )
    got = bundle_explainer(bundle, top=3)(sub)
    expected = explain_incidents(bundle, sub.X, sub.catalogue, top=3)
    assert [[(r.feature, r.text, r.contribution) for r in g] for g in got] == [
        [(r.feature, r.text, r.contribution) for r in e.reasons] for e in expected
    ]
