"""Assemble a synthetic county: draw the population, run the hidden process, keep what
gets recorded, dress it as a police extract, and compute the ground truth."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from triage.contract.names import Extract
from triage.synth import _marks as marks
from triage.synth._config import SynthConfig
from triage.synth._dash import draw_dash
from triage.synth._population import (
    CAREER_MEAN_YEARS,
    KIND_FAMILY,
    KIND_PARTNER,
    NEW_DYAD_START,
    Population,
    draw_population,
)
from triage.synth._process import (
    N_STATES,
    SEPARATED,
    DyadRates,
    Paths,
    dyad_rates,
    serious_prob,
    severity_bonus,
    simulate_in_chunks,
    youth,
)
from triage.synth._tables import build_tables
from triage.synth._truth import (
    DAYS_PER_YEAR,
    FutureDyads,
    TruthInputs,
    future_dyads_no_serious,
    label_probabilities,
    no_event_prob,
)

__all__ = ["World", "generate_world"]

Float = NDArray[np.float64]
Progress = Callable[[str], None]
FEAR = 0.3


@dataclass(frozen=True)
class World:
    """A synthetic extract, its ground truth (or None) and the config that made it."""

    extract: Extract
    truth: pd.DataFrame | None
    config: SynthConfig


def _frail(pop: Population, rows: slice | NDArray[np.int64]) -> Float:
    """Elderly victims of a family member (age 65 or more when the abuse began)."""
    age = pop.dyad_start[rows] - pop.victim_birth[pop.dyad_victim[rows]]
    frail = (pop.dyad_kind[rows] == KIND_FAMILY) & (age >= 65.0)
    return np.asarray(frail, dtype=np.float64)


def _rates(pop: Population, rows: slice | NDArray[np.int64]) -> DyadRates:
    dp = pop.dyad_perp[rows]
    young = youth(pop.dyad_start[rows] - pop.perp_birth[dp])
    return dyad_rates(
        pop.danger[dp],
        pop.strangler[dp],
        pop.substance[dp],
        pop.dyad_children[rows],
        (pop.dyad_kind[rows] == KIND_PARTNER).astype(np.float64),
        young,
        severity_bonus(young, _frail(pop, rows)),
    )


def _dyad_groups(pop: Population) -> Callable[[str], NDArray[np.object_]]:
    def group_of(attribute: str) -> NDArray[np.object_]:
        return pop.victim_group(attribute)[pop.dyad_victim]

    return group_of


def _multipliers(pop: Population, cfg: SynthConfig) -> tuple[Float, Float]:
    """Per dyad: factors on the chance that a serious / a non-serious incident is
    recorded (the knobs, and fear)."""
    group_of = _dyad_groups(pop)
    n = pop.dyad_victim.size
    m_ser = marks.recording_multiplier(cfg.recording_bias, group_of, n, serious=True)
    # victims of dangerous perpetrators report less of the everyday abuse (fear,
    # coercion), so the most dangerous histories look thinner than they are
    fear = np.exp(-FEAR * np.maximum(pop.danger[pop.dyad_perp], 0.0))
    m_non = marks.recording_multiplier(cfg.recording_bias, group_of, n, serious=False) * fear
    return m_ser, m_non


@dataclass(frozen=True)
class _DyadView:
    """Everything about each dyad that the truth and the arrival rate need."""

    rates: DyadRates
    r_serious: Float  # chance a serious incident of this dyad is recorded
    r_non: Float  # (n, 2): chance a non-serious one is, together / separated
    mult_serious: Float
    named: Float  # chance a recorded incident names the perpetrator


def _dyad_view(pop: Population, cfg: SynthConfig) -> _DyadView:
    rates = _rates(pop, slice(None))
    m_ser, m_non = _multipliers(pop, cfg)
    female = pop.victim_sex[pop.dyad_victim] == "female"
    dp = pop.dyad_perp
    sw = marks.serious_weights(pop.danger[dp], pop.strangler[dp], female)
    n = dp.size
    r_ser, r_non_t = marks.record_probs(sw, np.zeros(n, bool), m_ser, m_non)
    _, r_non_s = marks.record_probs(sw, np.ones(n, bool), m_ser, m_non)
    named = (1.0 - cfg.missing_perpetrator_rate) * marks.named_share(
        cfg.down_recording, _dyad_groups(pop), n
    )
    return _DyadView(rates, r_ser, np.stack([r_non_t, r_non_s], axis=1), m_ser, named)


def _kappas(view: _DyadView) -> tuple[Float, Float]:
    """(n, 7) rates of recorded serious incidents and of recorded incidents of any type."""
    r = view.rates
    sep = SEPARATED.astype(np.int64)
    serious = r.lam * r.p_serious * view.r_serious[:, None]
    anything = serious + r.lam * (1.0 - r.p_serious) * view.r_non[:, sep]
    return serious, anything


def _arrival_rate(cfg: SynthConfig, rng: np.random.Generator) -> float:
    """Perpetrators arriving per year so that about ``incidents_per_year`` are recorded."""
    sample = 4000
    pop = draw_population(rng, sample, horizon=1e7)
    # the knobs change what is recorded, never who lives in the county
    view = _dyad_view(pop, cfg.model_copy(update={"recording_bias": ()}))
    _, anything = _kappas(view)
    transient = N_STATES - 1
    a = -view.rates.generator()[:, :transient, :transient]
    start = np.zeros((pop.dyad_perp.size, transient))
    start[np.arange(start.shape[0]), pop.dyad_start_state] = 1.0
    # expected time in each state before the end: solve a^T x = start
    occupancy = np.linalg.solve(np.transpose(a, (0, 2, 1)), start[:, :, None])[:, :, 0]
    expected = float((occupancy * anything[:, :transient]).sum()) / sample
    return cfg.incidents_per_year / expected


def _truth_inputs(pop: Population, view: _DyadView, paths: Paths, cfg: SynthConfig) -> TruthInputs:
    year, quarter = 365.0 / DAYS_PER_YEAR, 90.0 / DAYS_PER_YEAR
    serious, anything = _kappas(view)
    q = view.rates.generator()
    named = view.named[:, None]
    return TruthInputs(
        dyad_perp=pop.dyad_perp,
        dyad_victim=pop.dyad_victim,
        dyad_start=pop.dyad_start,
        dyad_start_state=pop.dyad_start_state,
        paths=paths,
        no_serious_victim_side=no_event_prob(q, serious, year),
        no_serious_perp_side=no_event_prob(q, serious * named, year),
        no_repeat_pair=no_event_prob(q, anything * named, quarter),
        career_end=pop.career_end,
    )


def _future_no_serious(
    pop: Population, view: _DyadView, cfg: SynthConfig, perp: NDArray[np.int64], time: Float
) -> Float:
    """Per incident: the chance that relationships the perpetrator has not started yet
    add no recorded serious incident within a year. New victims are enumerated over
    the profiles that change the rates (sex, children) at their population mix; the
    perpetrator's age is taken at the incident (it moves youth little within a year),
    and recording knobs enter at their mean."""
    out = np.ones(perp.size)
    rows = np.flatnonzero((pop.rho[perp] > 0) & (pop.career_end[perp] > time))
    if not rows.size:
        return out
    who = perp[rows]
    p_female = np.where(np.asarray(pop.perp_sex[who]) == "male", 0.96, 0.15)
    p_children = 0.45
    children = np.array([0.0, 1.0, 0.0, 1.0])
    female = np.array([True, True, False, False])
    weight = np.stack(
        [
            (1 - p_children) * p_female,
            p_children * p_female,
            (1 - p_children) * (1 - p_female),
            p_children * (1 - p_female),
        ],
        axis=1,
    )
    k = children.size
    rep = np.repeat(who, k)
    young = youth(np.repeat(time[rows] - pop.perp_birth[who], k))
    rates = dyad_rates(
        pop.danger[rep],
        pop.strangler[rep],
        pop.substance[rep],
        np.tile(children, rows.size),
        np.ones(rep.size),
        young,
        severity_bonus(young, np.zeros(rep.size)),
    )
    sw = marks.serious_weights(pop.danger[rep], pop.strangler[rep], np.tile(female, rows.size))
    mean_mult = np.full(rep.size, float(view.mult_serious.mean()))
    r_ser, _ = marks.record_probs(sw, np.zeros(rep.size, bool), mean_mult, np.ones(rep.size))
    named = (1.0 - cfg.missing_perpetrator_rate) * float(
        marks.named_share(cfg.down_recording, _dyad_groups(pop), pop.dyad_victim.size).mean()
    )
    kappa_new = rates.lam * rates.p_serious * r_ser[:, None] * named
    spec = FutureDyads(pop.rho[who], CAREER_MEAN_YEARS, NEW_DYAD_START)
    out[rows] = future_dyads_no_serious(
        rates, kappa_new, weight, rows.size, spec, 365.0 / DAYS_PER_YEAR
    )
    return out


def generate_world(config: SynthConfig | None = None, progress: Progress | None = None) -> World:
    """Simulate a county and return its extract (and ground truth if asked)."""
    cfg = config or SynthConfig()
    say = progress or (lambda _msg: None)
    # the last two streams are the knobs' alone (down-recording, then group risk):
    # switching them on or off leaves every other draw as it was
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(8)]
    horizon = cfg.burn_in_years + cfg.years
    say("population")
    n_primary = round(_arrival_rate(cfg, streams[0]) * horizon)
    pop = draw_population(streams[1], n_primary, horizon)
    say("hidden process")
    paths = simulate_in_chunks(
        lambda rows: _rates(pop, rows), pop.dyad_start, pop.dyad_start_state, horizon, streams[2]
    )

    say("incidents")
    rng = streams[3]
    # incidents long before the extract cannot be reported inside it: skip their marks
    early = paths.event_time >= cfg.burn_in_years - 0.25
    e_d, e_s, e_t = paths.event_dyad[early], paths.event_state[early], paths.event_time[early]
    perp, victim = pop.dyad_perp[e_d], pop.dyad_victim[e_d]
    bonus = severity_bonus(youth(pop.dyad_start[e_d] - pop.perp_birth[perp]), _frail(pop, e_d))
    serious = rng.random(e_d.size) < serious_prob(
        pop.danger[perp], pop.strangler[perp], pop.substance[perp], bonus, e_s
    )
    mult_ser, mult_non = _multipliers(pop, cfg)
    female = pop.victim_sex[victim] == "female"
    sw = marks.serious_weights(pop.danger[perp], pop.strangler[perp], female)
    types = marks.draw_types(rng, serious, sw, SEPARATED[e_s])
    reported = rng.random(e_d.size) < marks.report_prob_of(types, mult_ser[e_d], mult_non[e_d])
    del mult_ser, mult_non
    slow = np.isin(
        types,
        [
            marks.TYPES.index(t)
            for t in (
                "stalking",
                "coercive_control",
                "harassment",
                "malicious_communications",
                "sexual_assault",
                "rape",
            )
        ],
    )
    delay_days = np.where(
        slow & (rng.random(e_d.size) < 0.35),
        rng.exponential(8.0, e_d.size),
        rng.lognormal(np.log(2.0 / 24.0), 1.0, e_d.size),
    )
    rep_t = e_t + delay_days / DAYS_PER_YEAR
    keep = reported & (rep_t >= cfg.burn_in_years) & (rep_t < horizon)
    say("records")
    tables, inc = build_tables(
        cfg,
        pop,
        streams[4],
        e_d[keep],
        e_s[keep],
        e_t[keep],
        rep_t[keep],
        types[keep],
        draw_dash,
        streams[6],
        None if cfg.group_risk else streams[7],
    )
    truth = None
    if cfg.truth:
        say("ground truth")
        view = _dyad_view(pop, cfg)
        tin = _truth_inputs(pop, view, paths, cfg)
        inc_perp = pop.dyad_perp[inc.dyad]
        future = _future_no_serious(pop, view, cfg, inc_perp, inc.reported_years)
        future = np.where(inc.perp_recorded, future, 1.0)
        p_ser, p_rep = label_probabilities(
            tin, inc.dyad, inc.reported_years, inc.perp_recorded, future
        )
        truth = pd.DataFrame(
            {
                "incident_id": tables.incidents["incident_id"].to_numpy(),
                "p_serious_harm_365d": p_ser,
                "p_any_repeat_90d": p_rep,
                "method": "exact",
            }
        )
    return World(extract=tables, truth=truth, config=cfg)
