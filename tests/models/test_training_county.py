"""Targets on the default synthetic county (5 years, about 57,000 incidents), pooled
over the temporal splits of the shipped model spec. One fixture builds labels,
features, splits and the models once (about a minute)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from synth_support import default_county, trained_on

from triage.config import load_model_spec
from triage.evaluation import Evaluation, evaluate
from triage.models.training import TrainingResult

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class County:
    result: TrainingResult
    ev: Evaluation


@pytest.fixture(scope="module")
def county() -> County:
    world = default_county()
    spec = load_model_spec()
    result = trained_on(world, spec).result
    ev = evaluate(result.validation, label=spec.label, truth=world.truth, capacity=10)
    h = ev.headline()
    print(
        f"\npooled AUC model {h['auc_model']:.4f} logistic {h['auc_logistic']:.4f} "
        f"DASH {h['auc_dash']:.4f} prior {h['auc_prior']:.4f} oracle {h['auc_oracle']:.4f} "
        f"(gap to oracle {h['oracle_gap']:.4f}); ECE {h['ece_model']:.4f}; "
        f"NPE model {h['model_npe']:.4f} DASH {h['dash_npe']:.4f}; "
        f"recall@10 {h['recall_at_k_model']:.3f}; train {result.timings['total']:.0f} s"
    )
    return County(result, ev)


def test_model_beats_the_logistic_baseline_by_a_hundredth(county: County) -> None:
    h = county.ev.headline()
    assert h["auc_model"] >= h["auc_logistic"] + 0.01, (h["auc_model"], h["auc_logistic"])


def test_model_beats_dash_by_a_tenth(county: County) -> None:
    h = county.ev.headline()
    assert h["auc_model"] >= h["auc_dash"] + 0.10, (h["auc_model"], h["auc_dash"])


def test_model_is_calibrated_within_two_points(county: County) -> None:
    assert county.ev.headline()["ece_model"] <= 0.02


def test_model_misses_a_fifth_fewer_than_dash_at_its_flag_rate(county: County) -> None:
    h = county.ev.headline()
    assert h["model_npe"] <= 0.80 * h["dash_npe"], (h["model_npe"], h["dash_npe"])


def test_model_stays_below_the_oracle(county: County) -> None:
    h = county.ev.headline()
    print(f"\ngap to the oracle AUC: {h['oracle_gap']:.4f}")
    assert 0 < h["oracle_gap"] < 0.2
