"""A reason never says an unknown suspect has a clean record: with no perpetrator
identified, the perpetrator's and the pair's history features are zeros and blanks,
and worded as they are they would read "no earlier incident involving this
perpetrator"."""

from __future__ import annotations

import re
from functools import cache

import lightgbm as lgb
from synth_support import small_world

from triage.config import load_model_spec
from triage.evaluation.explain import (
    UNKNOWN_SUSPECT_TEXT,
    Reason,
    explain_incidents,
    for_unknown_suspect,
)
from triage.features.build import FeatureMatrix, build_features
from triage.features.labels import build_labels

#: what a reason about the suspect's record says when it has looked one up
_SUSPECT_RECORD = re.compile(r"this perpetrator|perpetrator's|this victim and this perpetrator")


@cache
def _model() -> tuple[lgb.Booster, FeatureMatrix]:
    world = small_world()
    matrix = build_features(world.extract)
    spec = load_model_spec()
    labels = build_labels(world.extract, spec.target)[spec.label]
    known = labels.notna().to_numpy()
    params = {"objective": "binary", "verbose": -1, "seed": 1, "num_threads": 1}
    data = lgb.Dataset(matrix.X[known], labels[known].astype(int))
    return lgb.train(params, data, num_boost_round=30), matrix


def test_no_reason_gives_an_unknown_suspect_a_clean_record() -> None:
    booster, matrix = _model()
    unknown = matrix.X[matrix.X["perpetrator_known"] == 0].iloc[:300]
    assert len(unknown) >= 50  # the small county has incidents without a named suspect
    top = len(matrix.catalogue)
    explained = explain_incidents(booster, unknown, matrix.catalogue, top=top)
    about_suspect = [
        r
        for e in explained
        for r in e.reasons
        if r.feature.startswith(("perpetrator_", "pair_"))
        and r.feature not in ("perpetrator_known", "perpetrator_age")
    ]
    assert about_suspect, "the model never used the suspect's history: nothing was tested"
    assert {r.text for r in about_suspect} == {UNKNOWN_SUSPECT_TEXT}
    for e in explained:
        for r in e.reasons:
            if r.feature not in ("perpetrator_known", "perpetrator_age"):
                assert not _SUSPECT_RECORD.search(r.text), r


def test_a_known_suspect_keeps_the_catalogue_wording() -> None:
    booster, matrix = _model()
    known = matrix.X[matrix.X["perpetrator_known"] == 1].iloc[:200]
    explained = explain_incidents(booster, known, matrix.catalogue, top=10)
    texts = {r.text for e in explained for r in e.reasons}
    assert UNKNOWN_SUSPECT_TEXT not in texts
    assert any("this perpetrator" in t for t in texts)


def test_only_the_suspects_history_is_reworded() -> None:
    history = Reason("pair_count_all", "0 earlier incidents between ...", -0.4, 0)
    own = Reason("perpetrator_known", "the perpetrator is not identified", 0.2, 0)
    victim = Reason("victim_count_all", "2 earlier incidents involving this victim", 0.3, 2)
    assert for_unknown_suspect(history).text == UNKNOWN_SUSPECT_TEXT
    assert for_unknown_suspect(history).contribution == -0.4
    assert for_unknown_suspect(own) == own
    assert for_unknown_suspect(victim) == victim
