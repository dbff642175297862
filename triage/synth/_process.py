"""The hidden process: each abusive relationship (a *dyad*) is a continuous-time
Markov chain over seven states, and incidents arrive as a Poisson process whose rate
and severity depend on the state and on the perpetrator's hidden traits.

States: calm / active / crisis, each while together or after separation, and ended.
Rates are per year. The chain is where the non-additive risk lives: separation
speeds escalation only for a dangerous perpetrator, crisis is short and violent,
a perpetrator with a strangulation habit turns escalations into serious harm once
the victim has left, substance-fuelled violence belongs to the cohabiting years, and
abuse is most frequent in a perpetrator's twenties while its most serious harm
clusters in his thirties.
Because incidents do not change the state, the chance of any future event given the
state now is exact: ``expm((Q - diag(kappa)) * T)`` (see ``_truth.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ACTIVE",
    "CALM",
    "CRISIS",
    "ENDED",
    "N_STATES",
    "DyadRates",
    "dyad_rates",
    "serious_prob",
    "simulate",
    "simulate_in_chunks",
]

Float = NDArray[np.float64]
Int = NDArray[np.int64]

N_STATES = 7
CALM, ACTIVE, CRISIS = 0, 1, 2  # together; +3 for the same level after separation
ENDED = 6
SEPARATED = np.array([0, 0, 0, 1, 1, 1, 0], dtype=bool)
LEVEL = np.array([0, 1, 2, 0, 1, 2, -1])


#: the chain's possible moves: TARGETS[state, k] is where move k leads (-1: none)
TARGETS = np.array(
    [
        [1, 6, 3, -1],  # calm together: escalate, end, separate
        [2, 0, 6, 4],  # active together: crisis, calm down, end, separate
        [1, 6, 5, -1],  # crisis together: subside, end, separate
        [4, 6, -1, -1],  # calm separated: escalate, end
        [5, 3, 6, -1],  # active separated: crisis, calm down, end
        [4, 6, -1, -1],  # crisis separated: subside, end
        [-1, -1, -1, -1],  # ended
    ]
)


@dataclass(frozen=True)
class DyadRates:
    """Per-dyad move rates ``out_rate`` (n, 7, 4; see ``TARGETS``), incident rate
    ``lam`` (n, 7) and chance an incident is a serious type ``p_serious`` (n, 7).
    Kept compact so a million relationships fit in memory; ``generator()`` builds the
    full (n, 7, 7) matrices where the truth needs them."""

    out_rate: Float
    lam: Float
    p_serious: Float

    def generator(self) -> Float:
        """The chains' generator matrices Q (rows sum to zero)."""
        n = self.out_rate.shape[0]
        q = np.zeros((n, N_STATES, N_STATES))
        for state in range(N_STATES):
            for k, target in enumerate(TARGETS[state]):
                if target >= 0:
                    q[:, state, target] += self.out_rate[:, state, k]
        idx = np.arange(N_STATES)
        q[:, idx, idx] = -q.sum(axis=2)
        return q


# a crisis makes abuse far more frequent but each incident only a little more
# serious: severity follows the perpetrator more than the moment, which keeps the
# prior-incident count near its published AUC (about 0.75) rather than above it
_LEVEL_TERM = np.array([0.0, 0.16, 0.36, 0.0, 0.2, 0.44, 0.0])
_AGE_REFERENCE = 40.0


def youth(age: Float) -> Float:
    """A perpetrator's age as the rates read it: years younger than 40 (negative
    when older). Both of its effects are bumps, so risk is not monotone in age."""
    return np.asarray(_AGE_REFERENCE - age, dtype=np.float64)


def _age_peak(young: Float, peak_age: float, width_years: float) -> Float:
    """1 for a perpetrator aged ``peak_age``, fading over ``width_years`` either side."""
    age = _AGE_REFERENCE - young
    return np.asarray(np.exp(-(((age - peak_age) / width_years) ** 2)), dtype=np.float64)


def severity_bonus(young: Float, frail: Float) -> Float:
    """A relationship's own lift in the log-odds that an incident is serious: the
    perpetrator's age and a frail victim (an elderly parent abused by an adult child).

    Serious harm peaks in a perpetrator's early thirties, later than how often he
    abuses (see ``dyad_rates``): men who kill a partner are older, on average, than
    men who kill other men and than the young men who fill the incident logs
    (Dobash & Dobash, *When Men Murder Women*, 2015). A young perpetrator's long
    record therefore means less than the same record at 33."""
    return np.asarray(3.4 * _age_peak(young, 33.0, 8.0) - 1.05 + 1.5 * frail, dtype=np.float64)


def serious_prob(
    danger: Float, strangler: Float, substance: Float, bonus: Float, state: Int | int
) -> Float:
    """Chance that an incident in ``state`` is of a serious type. Not additive: after
    separation, and with a strangulation habit, danger counts for more.

    Two patterns of abuse (Johnson's typology) pull separation in opposite
    directions. Substance-fuelled violence flares while a couple live together and
    fades once they part. A perpetrator who has strangled his partner is the one
    for whom her leaving is most dangerous: non-fatal strangulation multiplies the
    odds of a later (attempted) homicide about sevenfold (Glass et al. 2008), and
    separation is the commonest trigger (Campbell et al. 2003). So leaving makes
    serious harm less likely for most, and far more likely where strangulation is
    on record: an interaction no additive score of the recorded history expresses."""
    dp = np.maximum(danger, 0.0)
    sep = SEPARATED[state].astype(np.float64)
    logit = (
        -5.4
        + _LEVEL_TERM[state]
        # while together, severity follows habits (substances above all) more than
        # danger; separation calms most relationships but is when the dangerous and
        # the stranglers strike
        + (1.0 - sep) * (0.3 * danger + 0.3 * strangler + 0.8 * substance)
        + sep * (0.9 * dp + 2.0 * strangler - 1.0)
        + 0.3 * strangler * dp
        + bonus
    )
    p = 1.0 / (1.0 + np.exp(-logit))
    return np.asarray(np.where(np.asarray(state) == ENDED, 0.0, p), dtype=np.float64)


def dyad_rates(
    danger: Float,
    strangler: Float,
    substance: Float,
    children: Float,
    partner: Float,
    young: Float,
    bonus: Float,
) -> DyadRates:
    """Rates of the chain for dyads with these hidden traits (arrays of equal length)."""
    d, s, u, c, p = (
        np.asarray(a, dtype=np.float64) for a in (danger, strangler, substance, children, partner)
    )
    n = d.shape[0]
    dp = np.maximum(d, 0.0)  # only dangerousness above the mean feeds separation effects
    # abuse is most frequent in the twenties (the age-crime curve), earlier than its
    # most serious harm (see ``severity_bonus``): young men escalate and offend more often
    y = _age_peak(np.asarray(young, dtype=np.float64), 24.0, 6.0)
    r = np.zeros((n, N_STATES, TARGETS.shape[1]))
    # together: escalate, calm down, end, separate (partners only, keeping the level)
    r[:, 0, 0] = 0.5 * np.exp(0.3 * d + 0.3 * u + 0.6 * y)
    r[:, 0, 1] = 1.6 * np.exp(-0.3 * d)
    r[:, 0, 2] = 0.3 * p
    r[:, 1, 0] = 0.2 * np.exp(0.4 * d + 0.35 * u + 0.25 * c + 0.6 * y)
    r[:, 1, 1] = 4.0
    r[:, 1, 2] = 0.6 * np.exp(-0.3 * d)
    r[:, 1, 3] = 0.55 * p
    r[:, 2, 0] = 7.0
    r[:, 2, 1] = 0.4
    r[:, 2, 2] = 0.8 * p
    # after separation: a dangerous perpetrator escalates, others drift away
    r[:, 3, 0] = 0.35 * np.exp(1.0 * dp) * (1.0 + 0.6 * c)
    r[:, 3, 1] = 3.0 * np.exp(-0.8 * dp) * (1.0 - 0.35 * c)
    r[:, 4, 0] = 0.2 * np.exp(1.1 * dp + 0.3 * u + 0.5 * s)
    r[:, 4, 1] = 4.0
    r[:, 4, 2] = 1.2 * np.exp(-0.6 * dp)
    r[:, 5, 0] = 6.0
    r[:, 5, 1] = 0.5

    level_rate = np.array([0.2, 2.6, 5.0, 0.25, 2.8, 5.0, 0.0])
    lam = level_rate[None, :] * np.exp(0.25 * u + 0.1 * d + 0.6 * y)[:, None]
    lam[:, ENDED] = 0.0

    p_serious = np.stack(
        [serious_prob(d, s, u, np.asarray(bonus), state) for state in range(N_STATES)], axis=1
    )
    return DyadRates(out_rate=r, lam=lam, p_serious=p_serious)


@dataclass(frozen=True)
class Paths:
    """What the chain did. ``events``: one row per incident (dyad, time, state).
    ``jumps``: one row per state change (dyad, time, new state), sorted by dyad then
    time; with each dyad's start state this gives its state at any time."""

    event_dyad: Int
    event_time: Float
    event_state: Int
    jump_dyad: Int
    jump_time: Float
    jump_state: Int


def simulate(
    rates: DyadRates, start: Float, start_state: Int, horizon: float, rng: np.random.Generator
) -> Paths:
    """Vectorised Gillespie simulation of every dyad from its start until ``horizon``."""
    t = start.astype(np.float64).copy()
    state = start_state.astype(np.int64).copy()
    alive = np.flatnonzero((t < horizon) & (state != ENDED))
    ev_d: list[Int] = []
    ev_t: list[Float] = []
    ev_s: list[Int] = []
    jp_d: list[Int] = []
    jp_t: list[Float] = []
    jp_s: list[Int] = []
    while alive.size:
        s = state[alive]
        # cumulative rates of [incident, move 0, move 1, ...] from the current state
        row = np.cumsum(
            np.concatenate([rates.lam[alive, s][:, None], rates.out_rate[alive, s]], axis=1),
            axis=1,
        )
        total = row[:, -1]
        t_new = t[alive] + rng.exponential(1.0, alive.size) / total
        u = rng.random(alive.size) * total
        keep = t_new < horizon
        alive, s, t_new, u, row = alive[keep], s[keep], t_new[keep], u[keep], row[keep]
        choice = (u[:, None] >= row).sum(axis=1)  # 0 = an incident, k + 1 = move k
        t[alive] = t_new
        is_event = choice == 0
        ev_d.append(alive[is_event])
        ev_t.append(t_new[is_event])
        ev_s.append(s[is_event])
        mv = ~is_event
        new_state = TARGETS[s[mv], choice[mv] - 1]
        jp_d.append(alive[mv])
        jp_t.append(t_new[mv])
        jp_s.append(new_state)
        state[alive[mv]] = new_state
        alive = alive[state[alive] != ENDED]
    jd, jt, js = (
        np.concatenate(x)
        for x in (
            jp_d or [np.empty(0, np.int64)],
            jp_t or [np.empty(0)],
            jp_s or [np.empty(0, np.int64)],
        )
    )
    order = np.lexsort((jt, jd))
    return Paths(
        event_dyad=np.concatenate(ev_d or [np.empty(0, np.int64)]).astype(np.int64),
        event_time=np.concatenate(ev_t or [np.empty(0)]),
        event_state=np.concatenate(ev_s or [np.empty(0, np.int64)]).astype(np.int64),
        jump_dyad=jd[order].astype(np.int64),
        jump_time=jt[order].astype(np.float64),
        jump_state=js[order].astype(np.int64),
    )


SIM_CHUNK = 200_000


def simulate_in_chunks(
    traits: Callable[[slice], DyadRates],
    start: Float,
    start_state: Int,
    horizon: float,
    rng: np.random.Generator,
) -> Paths:
    """``simulate`` over fixed-size blocks of dyads, building each block's rates only
    while it runs, so memory stays flat however large the county. The block size is
    fixed, so a seed gives the same world on any machine."""
    parts = []
    for lo in range(0, start.shape[0], SIM_CHUNK):
        block = slice(lo, min(lo + SIM_CHUNK, start.shape[0]))
        part = simulate(traits(block), start[block], start_state[block], horizon, rng)
        parts.append((lo, part))
    if not parts:
        return simulate(traits(slice(0, 0)), start, start_state, horizon, rng)
    return Paths(
        event_dyad=np.concatenate([p.event_dyad + lo for lo, p in parts]),
        event_time=np.concatenate([p.event_time for _, p in parts]),
        event_state=np.concatenate([p.event_state for _, p in parts]),
        jump_dyad=np.concatenate([p.jump_dyad + lo for lo, p in parts]),
        jump_time=np.concatenate([p.jump_time for _, p in parts]),
        jump_state=np.concatenate([p.jump_state for _, p in parts]),
    )


def state_at(paths: Paths, start_state: Int, dyad: Int, time: Float) -> Int:
    """State of each ``dyad`` at each ``time`` (after any jump at exactly that time)."""
    first = np.searchsorted(paths.jump_dyad, dyad, side="left")
    lo, hi = first.copy(), np.searchsorted(paths.jump_dyad, dyad, side="right")
    last_index = max(len(paths.jump_time) - 1, 0)
    while True:  # vectorised binary search inside each dyad's slice of jumps
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        right = active & (paths.jump_time[np.minimum(mid, last_index)] <= time)
        lo = np.where(right, mid + 1, lo)
        hi = np.where(active & ~right, mid, hi)
    out = start_state[dyad].copy()
    jumped = lo > first
    out[jumped] = paths.jump_state[lo[jumped] - 1]
    return out
