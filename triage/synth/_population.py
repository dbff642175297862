"""Who is in the world: perpetrators with hidden traits and careers, the
relationships (dyads) they abuse in, and the victims in them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from triage.contract.names import ETHNICITIES, SEXES
from triage.synth._process import ACTIVE

__all__ = ["CAREER_MEAN_YEARS", "NEW_DYAD_START", "Population", "draw_population"]

Float = NDArray[np.float64]
Int = NDArray[np.int64]
Bool = NDArray[np.bool_]

CAREER_MEAN_YEARS = 4.0
SEPARATED_ACTIVE = ACTIVE + 3
#: a new relationship enters the data already abusive; some only after separation
NEW_DYAD_START: tuple[tuple[int, float], ...] = ((ACTIVE, 0.85), (SEPARATED_ACTIVE, 0.15))
SECOND_ABUSER_RATE = 0.06
KIND_PARTNER, KIND_FAMILY, KIND_OTHER = 0, 1, 2
ETHNICITY_MIX = (
    ("white", 0.80),
    ("mixed", 0.035),
    ("asian", 0.085),
    ("black", 0.045),
    ("other", 0.015),
    ("unknown", 0.02),
)
_DEPRIVATION_WEIGHTS = np.array([1.6, 1.45, 1.3, 1.15, 1.0, 0.9, 0.8, 0.72, 0.65, 0.6])


@dataclass(frozen=True)
class Population:
    # perpetrators
    danger: Float
    strangler: Float
    substance: Float
    rho: Float
    arrival: Float
    career_end: Float
    perp_sex: pd.Categorical[str]
    perp_ethnicity: pd.Categorical[str]
    perp_birth: Float
    # dyads
    dyad_perp: Int
    dyad_victim: Int
    dyad_start: Float
    dyad_kind: Int
    dyad_children: Float
    dyad_start_state: Int
    # victims
    victim_sex: pd.Categorical[str]
    victim_ethnicity: pd.Categorical[str]
    victim_birth: Float
    victim_deprivation: Int

    @property
    def n_perp(self) -> int:
        return int(self.danger.shape[0])

    def victim_group(self, attribute: str) -> NDArray[np.object_]:
        """Each victim's group for a bias knob's ``attribute``."""
        if attribute == "deprivation_quintile":
            return ((self.victim_deprivation - 1) // 2 + 1).astype(str).astype(object)
        column = {"ethnicity": self.victim_ethnicity, "sex": self.victim_sex}[attribute]
        return np.asarray(column, dtype=object)


def _sigmoid(x: Float) -> Float:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), np.float64)


def _perp_traits(rng: np.random.Generator, n: int) -> tuple[Float, Float, Float]:
    d = rng.standard_normal(n)
    s = (rng.random(n) < _sigmoid(-2.7 + 1.2 * d)).astype(np.float64)
    u = (rng.random(n) < _sigmoid(-1.1 + 0.5 * d)).astype(np.float64)
    return d, s, u


def _ethnicity(rng: np.random.Generator, n: int) -> NDArray[np.str_]:
    names = np.array([e for e, _ in ETHNICITY_MIX])
    probs = np.array([p for _, p in ETHNICITY_MIX])
    return names[rng.choice(len(names), size=n, p=probs / probs.sum())]


def draw_population(rng: np.random.Generator, n_primary: int, horizon: float) -> Population:
    """Draw ``n_primary`` perpetrators arriving uniformly over ``[0, horizon)`` years,
    their relationships, and any second abuser a victim has from the start."""
    arrival = rng.uniform(0.0, horizon, n_primary)
    d, s, u = _perp_traits(rng, n_primary)
    rho = 0.10 * np.exp(0.7 * d) * rng.gamma(2.0, 0.5, n_primary)
    career_end = arrival + rng.exponential(CAREER_MEAN_YEARS, n_primary)
    span = np.clip(np.minimum(career_end, horizon) - arrival, 0.0, None)
    n_extra = rng.poisson(rho * span)
    extra_perp = np.repeat(np.arange(n_primary), n_extra)
    extra_start = arrival[extra_perp] + rng.random(extra_perp.size) * span[extra_perp]
    first_kind = rng.choice(3, size=n_primary, p=[0.72, 0.23, 0.05])

    perp = np.concatenate([np.arange(n_primary), extra_perp])
    start = np.concatenate([arrival, extra_start])
    kind = np.concatenate([first_kind, np.zeros(extra_perp.size, dtype=np.int64)])

    # perpetrator sex follows the kind of the first relationship
    p_male = np.array([0.84, 0.68, 0.70])[first_kind]
    r = rng.random(n_primary)
    perp_sex = np.where(r < p_male, "male", np.where(r < p_male + 0.01, "other", "female"))

    # a few victims also suffer a second (family) abuser from the same start
    n_dyads = perp.size
    second = rng.random(n_dyads) < SECOND_ABUSER_RATE
    n_second = int(second.sum())
    d2, s2, u2 = _perp_traits(rng, n_second)
    second_perp = n_primary + np.arange(n_second)
    second_victim = np.flatnonzero(second)
    second_start = start[second]

    victim = np.concatenate([np.arange(n_dyads), second_victim])
    perp = np.concatenate([perp, second_perp])
    start = np.concatenate([start, second_start])
    kind = np.concatenate([kind, np.full(n_second, KIND_FAMILY)])
    n_all = perp.size

    children_p = np.array([0.45, 0.12, 0.05])[kind]
    children = (rng.random(n_all) < children_p).astype(np.float64)
    start_state = np.where(
        (kind == KIND_PARTNER) & (rng.random(n_all) < NEW_DYAD_START[1][1]),
        SEPARATED_ACTIVE,
        ACTIVE,
    ).astype(np.int64)

    # victims: one per original dyad
    v_kind = kind[:n_dyads]
    v_perp_male = perp_sex[perp[:n_dyads]] == "male"
    p_female = np.where(v_kind == KIND_PARTNER, np.where(v_perp_male, 0.96, 0.15), 0.62)
    rv = rng.random(n_dyads)
    victim_sex = np.where(
        rv < p_female, "female", np.where(rv < p_female + 0.01, "unknown", "male")
    )
    perp_eth = _ethnicity(rng, n_primary)
    same = rng.random(n_dyads) < 0.85
    victim_eth = np.where(same, perp_eth[perp[:n_dyads]], _ethnicity(rng, n_dyads))
    perp_eth = np.concatenate([perp_eth, victim_eth[second_victim]])
    perp_sex = np.concatenate([perp_sex, np.where(rng.random(n_second) < 0.68, "male", "female")])

    age_v = np.clip(
        np.where(
            v_kind == KIND_FAMILY,
            40.0 + rng.gamma(2.0, 8.0, n_dyads),
            18.0 + rng.gamma(2.2, 7.5, n_dyads),
        ),
        16.0,
        95.0,
    )
    victim_birth = start[:n_dyads] - age_v
    age_p1 = np.where(
        first_kind == KIND_FAMILY,
        18.0 + rng.gamma(1.5, 6.0, n_primary),
        np.clip(age_v[:n_primary] + rng.normal(2.0, 5.0, n_primary), 16.0, 90.0),
    )
    perp_birth = np.concatenate(
        [arrival - age_p1, second_start - (18.0 + rng.gamma(1.5, 6.0, n_second))]
    )
    w = _DEPRIVATION_WEIGHTS / _DEPRIVATION_WEIGHTS.sum()
    deprivation = rng.choice(10, size=n_dyads, p=w) + 1

    return Population(
        danger=np.concatenate([d, d2]),
        strangler=np.concatenate([s, s2]),
        substance=np.concatenate([u, u2]),
        rho=np.concatenate([rho, np.zeros(n_second)]),
        arrival=np.concatenate([arrival, second_start]),
        career_end=np.concatenate([career_end, second_start]),
        perp_sex=pd.Categorical(perp_sex, categories=SEXES),
        perp_ethnicity=pd.Categorical(perp_eth, categories=ETHNICITIES),
        perp_birth=perp_birth,
        dyad_perp=perp.astype(np.int64),
        dyad_victim=victim.astype(np.int64),
        dyad_start=start,
        dyad_kind=kind.astype(np.int64),
        dyad_children=children,
        dyad_start_state=start_state,
        victim_sex=pd.Categorical(victim_sex, categories=SEXES),
        victim_ethnicity=pd.Categorical(victim_eth, categories=ETHNICITIES),
        victim_birth=victim_birth,
        victim_deprivation=deprivation.astype(np.int64),
    )
