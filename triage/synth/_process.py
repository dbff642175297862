"""The hidden process: each abusive relationship (a *dyad*) is a continuous-time
Markov chain over seven states, and incidents arrive as a Poisson process whose rate
and severity depend on the state and on the perpetrator's hidden traits.

States: calm / active / crisis, each while together or after separation, and ended.
Rates are per year. The chain is where the non-additive risk lives: separation
speeds escalation only for a dangerous perpetrator, crisis is short and violent,
and a perpetrator with a strangulation habit turns escalations into serious harm.
Because incidents do not change the state, the chance of any future event given the
state now is exact: ``expm((Q - diag(kappa)) * T)`` (see ``_truth.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["ACTIVE", "CALM", "CRISIS", "ENDED", "N_STATES", "DyadRates", "dyad_rates", "simulate"]

Float = NDArray[np.float64]
Int = NDArray[np.int64]

N_STATES = 7
CALM, ACTIVE, CRISIS = 0, 1, 2  # together; +3 for the same level after separation
ENDED = 6
SEPARATED = np.array([0, 0, 0, 1, 1, 1, 0], dtype=bool)
LEVEL = np.array([0, 1, 2, 0, 1, 2, -1])


@dataclass(frozen=True)
class DyadRates:
    """Per-dyad generator ``q`` (n, 7, 7; rows sum to zero), incident rate ``lam``
    (n, 7) and chance an incident is a serious type ``p_serious`` (n, 7)."""

    q: Float
    lam: Float
    p_serious: Float


def _sigmoid(x: Float) -> Float:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def dyad_rates(
    danger: Float, strangler: Float, substance: Float, children: Float, partner: Float
) -> DyadRates:
    """Rates of the chain for dyads with these hidden traits (arrays of equal length)."""
    d, s, u, c, p = (
        np.asarray(a, dtype=np.float64) for a in (danger, strangler, substance, children, partner)
    )
    n = d.shape[0]
    dp = np.maximum(d, 0.0)  # only dangerousness above the mean feeds separation effects
    q = np.zeros((n, N_STATES, N_STATES))
    # together
    q[:, 0, 1] = 0.5 * np.exp(0.3 * d + 0.3 * u)
    q[:, 1, 2] = 0.2 * np.exp(0.4 * d + 0.35 * u + 0.25 * c)
    q[:, 1, 0] = 4.0
    q[:, 2, 1] = 7.0
    q[:, 0, 6] = 1.6 * np.exp(-0.3 * d)
    q[:, 1, 6] = 0.6 * np.exp(-0.3 * d)
    q[:, 2, 6] = 0.4
    # separation, partners only, keeps the level
    for lvl, rate in ((0, 0.3), (1, 0.55), (2, 0.8)):
        q[:, lvl, lvl + 3] = rate * p
    # after separation: a dangerous perpetrator escalates, others drift away
    q[:, 3, 4] = 0.5 * np.exp(0.5 * dp) * (1.0 + 0.6 * c)
    q[:, 4, 5] = 0.3 * np.exp(0.6 * dp + 0.3 * u)
    q[:, 4, 3] = 4.0
    q[:, 5, 4] = 6.0
    q[:, 3, 6] = 2.6 * np.exp(-0.3 * dp) * (1.0 - 0.35 * c)
    q[:, 4, 6] = 0.9 * np.exp(-0.4 * dp)
    q[:, 5, 6] = 0.5
    idx = np.arange(N_STATES)
    q[:, idx, idx] = 0.0
    q[:, idx, idx] = -q.sum(axis=2)

    level_rate = np.array([0.2, 2.6, 5.0, 0.25, 2.8, 5.0, 0.0])
    lam = level_rate[None, :] * np.exp(0.25 * u + 0.1 * d)[:, None]
    lam[:, ENDED] = 0.0

    level_term = np.array([0.0, 0.4, 0.9, 0.0, 0.5, 1.1, 0.0])
    sep = SEPARATED.astype(np.float64)
    logit = (
        -4.5
        + level_term[None, :]
        + (0.45 * d + 1.1 * s + 0.25 * u)[:, None]
        + (0.6 * dp)[:, None] * sep[None, :]
        + (0.5 * s * dp)[:, None]
    )
    p_serious = _sigmoid(logit)
    p_serious[:, ENDED] = 0.0
    return DyadRates(q=q, lam=lam, p_serious=p_serious)


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
    exit_rate = -np.einsum("nii->ni", rates.q) + rates.lam  # (n, 7)
    # cumulative jump probabilities for each state's row (incident first, then states)
    cum = np.concatenate([rates.lam[:, :, None], np.clip(rates.q, 0.0, None)], axis=2)
    cum = np.cumsum(cum, axis=2)
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
        total = exit_rate[alive, s]
        t_new = t[alive] + rng.exponential(1.0, alive.size) / total
        u = rng.random(alive.size) * total
        keep = t_new < horizon
        alive, s, t_new, u = alive[keep], s[keep], t_new[keep], u[keep]
        row = cum[alive, s]  # (k, 8)
        choice = (u[:, None] >= row).sum(axis=1)  # 0 = incident, j+1 = move to state j
        choice = np.minimum(choice, N_STATES)
        t[alive] = t_new
        is_event = choice == 0
        ev_d.append(alive[is_event])
        ev_t.append(t_new[is_event])
        ev_s.append(s[is_event])
        mv = ~is_event
        new_state = choice[mv] - 1
        jp_d.append(alive[mv])
        jp_t.append(t_new[mv])
        jp_s.append(new_state)
        state[alive[mv]] = new_state
        alive = alive[state[alive] != ENDED]
    jd, jt, js = (np.concatenate(x) if x else np.empty(0) for x in (jp_d, jp_t, jp_s))
    order = np.lexsort((jt, jd))
    return Paths(
        event_dyad=np.concatenate(ev_d).astype(np.int64) if ev_d else np.empty(0, np.int64),
        event_time=np.concatenate(ev_t) if ev_t else np.empty(0),
        event_state=np.concatenate(ev_s).astype(np.int64) if ev_s else np.empty(0, np.int64),
        jump_dyad=jd[order].astype(np.int64),
        jump_time=jt[order].astype(np.float64),
        jump_state=js[order].astype(np.int64),
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
