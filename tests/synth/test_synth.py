"""The synthetic world: determinism, contract, knobs, truth and the calibration bands."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import expm
from synth_support import SMALL, default_county, small_world

from triage.config import load_model_spec
from triage.contract.harm import load_harm_weights
from triage.contract.names import DASH_QUESTIONS
from triage.contract.validation import validate_extract, validate_frames
from triage.exceptions import ConfigError
from triage.features.labels import build_labels
from triage.synth import (
    DownRecording,
    GradingBias,
    RecordingBias,
    SynthConfig,
    World,
    generate_world,
    write_world,
)
from triage.synth._marks import TYPES
from triage.synth._process import N_STATES, dyad_rates, simulate, state_at
from triage.synth._truth import expm_batched
from triage.synth.facts import BANDS, calibration_report


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_same_seed_writes_byte_identical_tables(tmp_path: Path, fmt: str) -> None:
    config = SMALL.model_copy(update={"seed": 11})
    write_world(generate_world(config), tmp_path / "a", fmt=fmt)  # type: ignore[arg-type]
    write_world(generate_world(config), tmp_path / "b", fmt=fmt)  # type: ignore[arg-type]
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert set(a) == {f"{t}.{fmt}" for t in ("incidents", "people", "orders", "truth")} | {
        "world.json"
    }
    assert a == b


def test_different_seeds_differ() -> None:
    a = small_world(7).extract.incidents
    b = small_world(8).extract.incidents
    assert not a["reported_at"].equals(b["reported_at"])


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_written_world_meets_the_contract_and_round_trips(tmp_path: Path, fmt: str) -> None:
    world = small_world()
    write_world(world, tmp_path, fmt=fmt)  # type: ignore[arg-type]
    report = validate_extract(tmp_path)
    assert report.ok, report.problems[:5]
    assert report.extract is not None
    for name in ("incidents", "people", "orders"):
        pd.testing.assert_frame_equal(getattr(report.extract, name), getattr(world.extract, name))
    manifest = json.loads((tmp_path / "world.json").read_text())
    assert manifest["config"]["seed"] == SMALL.seed
    assert manifest["rows"]["incidents"] == len(world.extract.incidents)


def test_in_memory_world_is_already_normalised() -> None:
    world = small_world()
    report = validate_frames(world.extract.incidents, world.extract.people, world.extract.orders)
    assert report.ok
    assert report.extract is not None
    pd.testing.assert_frame_equal(report.extract.incidents, world.extract.incidents)


def test_write_refuses_to_clobber_without_overwrite(tmp_path: Path) -> None:
    world = small_world()
    write_world(world, tmp_path)
    before = _digests(tmp_path)
    with pytest.raises(ConfigError, match="already holds"):
        write_world(world, tmp_path)
    assert _digests(tmp_path) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".synth-")]


def test_types_match_the_shipped_harm_table() -> None:
    harm = load_harm_weights()
    assert set(TYPES) == set(harm.names)
    serious = {t for t in TYPES if TYPES.index(t) >= 8}
    assert serious == set(harm.serious_types)


def test_truth_has_one_probability_per_incident_and_label() -> None:
    world = small_world()
    assert world.truth is not None
    assert list(world.truth["incident_id"]) == list(world.extract.incidents["incident_id"])
    for col in ("p_serious_harm_365d", "p_any_repeat_90d"):
        assert world.truth[col].between(0.0, 1.0).all()
    missing = world.extract.incidents["perpetrator_id"].isna().to_numpy()
    assert (world.truth["p_any_repeat_90d"].to_numpy()[missing] == 0.0).all()


def test_batched_matrix_exponential_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    n = 300
    rates = dyad_rates(
        rng.normal(0, 1.5, n),
        (rng.random(n) < 0.2).astype(float),
        (rng.random(n) < 0.3).astype(float),
        (rng.random(n) < 0.5).astype(float),
        np.ones(n),
        rng.random(n),
        rng.normal(size=n),
    )
    m = rates.generator() - np.eye(N_STATES) * (rates.lam * rates.p_serious)[:, :, None]
    for horizon in (90 / 365.25, 1.0, 3.0):
        expected = np.stack([expm(x * horizon) for x in m])
        np.testing.assert_allclose(expm_batched(m * horizon), expected, atol=1e-10)


def test_state_lookup_replays_the_simulated_path() -> None:
    rng = np.random.default_rng(5)
    n = 50
    rates = dyad_rates(
        rng.normal(size=n), *(np.zeros(n),) * 3, np.ones(n), np.zeros(n), np.zeros(n)
    )
    start = np.zeros(n)
    start_state = np.ones(n, dtype=np.int64)
    paths = simulate(rates, start, start_state, 5.0, rng)
    # every incident happened in the state the path says the dyad was in at that time
    got = state_at(paths, start_state, paths.event_dyad, paths.event_time)
    np.testing.assert_array_equal(got, paths.event_state)
    # before any jump the start state holds
    np.testing.assert_array_equal(
        state_at(paths, start_state, np.arange(n), np.zeros(n)), start_state
    )


def _binned_gap(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Largest |observed - predicted| over quantile bins, in standard errors."""
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    worst = 0.0
    for b in range(len(edges) - 1):
        sel = idx == b
        if sel.sum() < 50:
            continue
        mean_p = p[sel].mean()
        se = np.sqrt(max(mean_p * (1 - mean_p), 1e-4) / sel.sum())
        worst = max(worst, abs(y[sel].mean() - mean_p) / se)
    return worst


@pytest.mark.slow
@pytest.mark.parametrize("label", ["serious_harm_365d", "any_repeat_90d"])
def test_truth_is_calibrated_against_realised_labels(label: str) -> None:
    """The truth is the exact probability, so realised labels agree with it in every
    decile (within sampling error) and on average."""
    world = default_county()
    assert world.truth is not None
    labels = build_labels(world.extract, load_model_spec().labels)
    observed = labels[label].notna().to_numpy()
    y = labels[label].to_numpy(dtype=bool, na_value=False)[observed]
    p = world.truth[f"p_{label}"].to_numpy()[observed]
    assert abs(y.mean() - p.mean()) < 0.01
    assert _binned_gap(p, y) < 4.0


@pytest.fixture(scope="module")
def county_facts() -> dict[str, object]:
    world = default_county()
    return {f.key: f for f in calibration_report(world.extract, world.truth)}


@pytest.mark.slow
def test_default_county_has_about_twelve_thousand_incidents_a_year() -> None:
    n = len(default_county().extract.incidents)
    assert 9_000 * 5 <= n <= 15_000 * 5


@pytest.mark.slow
@pytest.mark.parametrize("key", list(BANDS))
def test_default_county_holds_calibration_band(county_facts: dict[str, object], key: str) -> None:
    fact = county_facts[key]
    assert fact.ok, f"{fact.label} = {fact.value:.3f}, band [{fact.low}, {fact.high}]"  # type: ignore[attr-defined]


# --- knobs --------------------------------------------------------------------------


def _victim_groups(world_extract: object) -> pd.DataFrame:
    inc = world_extract.incidents  # type: ignore[attr-defined]
    people = world_extract.people.set_index("person_id")  # type: ignore[attr-defined]
    return people.loc[inc["victim_id"].to_numpy(), ["ethnicity"]].reset_index(drop=True)


def _serious(extract: object) -> np.ndarray:
    types = extract.incidents["incident_type"]  # type: ignore[attr-defined]
    return types.isin(sorted(load_harm_weights().serious_types)).to_numpy()


KNOB_BASE = SynthConfig(seed=3, years=3.0, incidents_per_year=4000, truth=False)


def test_under_recording_knob_thins_only_that_group() -> None:
    base = generate_world(KNOB_BASE)
    biased = generate_world(
        KNOB_BASE.model_copy(
            update={
                "recording_bias": (RecordingBias(attribute="ethnicity", group="asian", factor=0.4),)
            }
        )
    )
    g0 = _victim_groups(base.extract)["ethnicity"].astype(str)
    g1 = _victim_groups(biased.extract)["ethnicity"].astype(str)
    ratio_group = (g1 == "asian").sum() / (g0 == "asian").sum()
    ratio_rest = (g1 != "asian").sum() / (g0 != "asian").sum()
    assert 0.3 < ratio_group < 0.5
    assert 0.97 < ratio_rest < 1.03


def test_non_serious_under_recording_keeps_that_groups_serious_records() -> None:
    base = generate_world(KNOB_BASE)
    knob = RecordingBias(attribute="ethnicity", group="white", factor=0.5, applies_to="non_serious")
    biased = generate_world(KNOB_BASE.model_copy(update={"recording_bias": (knob,)}))
    white0 = (_victim_groups(base.extract)["ethnicity"] == "white").to_numpy()
    white1 = (_victim_groups(biased.extract)["ethnicity"] == "white").to_numpy()
    s0, s1 = _serious(base.extract), _serious(biased.extract)
    assert (white1 & s1).sum() == (white0 & s0).sum()
    assert 0.4 < (white1 & ~s1).sum() / (white0 & ~s0).sum() < 0.6


def test_over_recording_knob_adds_records_for_the_deprived() -> None:
    base = generate_world(KNOB_BASE)
    knob = RecordingBias(attribute="deprivation_quintile", group="1", factor=1.5)
    biased = generate_world(KNOB_BASE.model_copy(update={"recording_bias": (knob,)}))

    def quintile1(extract: object) -> int:
        decile = extract.incidents["deprivation_decile"]  # type: ignore[attr-defined]
        return int(decile.isin([1, 2]).sum())

    assert quintile1(biased.extract) > 1.3 * quintile1(base.extract)


def test_grading_bias_raises_dash_high_for_that_group_only() -> None:
    base = generate_world(KNOB_BASE)
    knob = GradingBias(attribute="ethnicity", group="black", shift=4.0)
    biased = generate_world(KNOB_BASE.model_copy(update={"grading_bias": (knob,)}))
    eth = _victim_groups(base.extract)["ethnicity"].to_numpy()
    assert (eth == _victim_groups(biased.extract)["ethnicity"].to_numpy()).all()
    g0 = base.extract.incidents["dash_grade"].to_numpy()
    g1 = biased.extract.incidents["dash_grade"].to_numpy()
    black = eth == "black"
    assert (g0[~black] == g1[~black]).all()
    assert (g1[black] == "high").mean() > (g0[black] == "high").mean() + 0.1


def _down_recorded(knob: DownRecording, truth: bool = False) -> tuple[World, World]:
    base = KNOB_BASE.model_copy(update={"truth": truth})
    return generate_world(base), generate_world(base.model_copy(update={"down_recording": (knob,)}))


def _yes(incidents: pd.DataFrame) -> np.ndarray:
    return incidents[list(DASH_QUESTIONS)].fillna(False).to_numpy(dtype=bool)


def test_down_recording_records_less_for_that_group_only() -> None:
    knob = DownRecording(attribute="ethnicity", group="asian", rate=0.7, unnamed=0.5)
    base, biased = _down_recorded(knob)
    a, b = base.extract.incidents, biased.extract.incidents
    pd.testing.assert_frame_equal(base.extract.people, biased.extract.people)
    pd.testing.assert_frame_equal(base.extract.orders, biased.extract.orders)
    asian = (_victim_groups(base.extract)["ethnicity"] == "asian").to_numpy()
    # the same incidents; every record of other victims exactly as it was
    for column in ("incident_id", "reported_at", "victim_id", "relationship"):
        assert a[column].equals(b[column])
    pd.testing.assert_frame_equal(a[~asian], b[~asian])
    # the group's records only ever say less
    before, after = a["incident_type"].astype(str), b["incident_type"].astype(str)
    stepped = (before != after).to_numpy()
    assert (after[stepped] == "non_crime_domestic").all()
    assert not _serious(base.extract)[stepped].any()
    crimes = asian & (before != "non_crime_domestic").to_numpy() & ~_serious(base.extract)
    assert 0.6 < stepped[crimes].mean() < 0.8
    for flag in ("injury", "weapon", "strangulation"):
        assert not (b[flag] & ~a[flag]).any()
        assert (a[flag] & ~b[flag]).any()
    assert not (_yes(b) & ~_yes(a)).any()
    assert _yes(b)[asian].mean() < 0.5 * _yes(a)[asian].mean()
    named_before, named_after = a["perpetrator_id"].notna(), b["perpetrator_id"].notna()
    assert (b["perpetrator_id"][named_after] == a["perpetrator_id"][named_after]).all()
    assert 0.4 < 1 - named_after[asian & named_before].mean() < 0.6


def test_down_recording_with_suspects_named_leaves_labels_and_truth_alone() -> None:
    knob = DownRecording(attribute="ethnicity", group="asian", rate=1.0)
    base, biased = _down_recorded(knob, truth=True)
    assert not base.extract.incidents["incident_type"].equals(
        biased.extract.incidents["incident_type"]
    )
    assert (_serious(base.extract) == _serious(biased.extract)).all()
    specs = load_model_spec().labels
    pd.testing.assert_frame_equal(
        build_labels(base.extract, specs), build_labels(biased.extract, specs)
    )
    pd.testing.assert_frame_equal(base.truth, biased.truth)


def test_truth_follows_unnamed_suspects() -> None:
    """An unnamed suspect links an incident to escalations through its victim only
    (and to no repeat of the pair); the truth counts the same links as the labels."""
    knob = DownRecording(attribute="ethnicity", group="white", rate=0.5, unnamed=0.6)
    base, biased = _down_recorded(knob, truth=True)
    specs = load_model_spec().labels
    for world in (base, biased):
        assert world.truth is not None
        labels = build_labels(world.extract, specs)
        for label in ("serious_harm_365d", "any_repeat_90d"):
            observed = labels[label].notna().to_numpy()
            y = labels[label].to_numpy(dtype=bool, na_value=False)[observed]
            p = world.truth[f"p_{label}"].to_numpy()[observed]
            assert abs(y.mean() - p.mean()) < 0.01, (world is biased, label)
    assert base.truth is not None
    assert biased.truth is not None
    repeat0, repeat1 = base.truth["p_any_repeat_90d"], biased.truth["p_any_repeat_90d"]
    assert repeat1.mean() < 0.5 * repeat0.mean()
    serious0, serious1 = base.truth["p_serious_harm_365d"], biased.truth["p_serious_harm_365d"]
    assert serious1.mean() < serious0.mean()


def test_down_recording_draws_only_from_its_own_stream() -> None:
    """A knob whose group nobody belongs to changes nothing: its draws never shift the
    rest of the world, so turning knobs on or off keeps every other record as it was."""
    # built without validation: a configuration naming an unknown group is refused
    knob = DownRecording.model_construct(
        attribute="ethnicity", group="nobody", rate=1.0, unnamed=1.0
    )
    base, biased = _down_recorded(knob, truth=True)
    for name in ("incidents", "people", "orders"):
        pd.testing.assert_frame_equal(getattr(base.extract, name), getattr(biased.extract, name))
    pd.testing.assert_frame_equal(base.truth, biased.truth)
