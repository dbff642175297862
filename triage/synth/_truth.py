"""Ground truth: for each recorded incident, the probability of each shipped label
given the hidden state of the world at its ``reported_at``.

``serious_harm_365d`` fails to happen only if no relationship that can produce a
matching record does so. Relationships already under way are independent Markov
chains, so the chance that one produces no *recorded serious* incident in the window
is ``[expm((Q - diag(kappa)) T) 1]_s`` for its current state ``s``, where ``kappa``
is the rate of recorded serious incidents in each state. Relationships the
perpetrator has not started yet form a Poisson process (rate ``rho`` while his
career lasts, which ends at rate ``1/L``); by the marking theorem their contribution
is ``exp(-int_0^T rho e^{-(T-tau)/L} h(tau) dtau)``, with ``h`` from the same chain and
integrated on a fine grid. Windows run on occurrence time; report delays of hours
make the difference to the recorded window negligible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from triage.synth._process import N_STATES, DyadRates, Paths, state_at

__all__ = [
    "DAYS_PER_YEAR",
    "FutureDyads",
    "expm_batched",
    "future_dyads_no_serious",
    "label_probabilities",
    "no_event_prob",
]

Float = NDArray[np.float64]
DAYS_PER_YEAR = 365.25
GRID_STEPS = 48


def expm_batched(m: Float) -> Float:
    """Matrix exponential of a stack of small matrices (n, k, k): scaling and squaring
    with a degree-12 Taylor polynomial, one scale for the whole stack. Accurate to
    ~1e-12 here, and far faster than a per-matrix loop for hundreds of thousands of
    7x7 generators."""
    norm = float(np.abs(m).sum(axis=2).max()) if m.size else 0.0
    squarings = max(0, int(np.ceil(np.log2(norm / 0.25)))) if norm > 0.25 else 0
    a = m / (2.0**squarings)
    eye = np.broadcast_to(np.eye(m.shape[-1]), m.shape)
    term = eye.copy()
    out = eye.copy()
    for k in range(1, 13):
        term = term @ a / k
        out = out + term
    for _ in range(squarings):
        out = out @ out
    return np.asarray(out, dtype=np.float64)


def no_event_prob(q: Float, kappa: Float, horizon_years: float) -> Float:
    """(n, 7): chance of no counted event within the horizon, from each state."""
    m = q - kappa[:, :, None] * np.eye(N_STATES)[None, :, :]
    e = expm_batched(m * horizon_years)
    return np.asarray(e.sum(axis=2), dtype=np.float64)


@dataclass(frozen=True)
class FutureDyads:
    """New relationships of serial perpetrators, for the truth's future term."""

    rho: Float  # (n_perp,) formation rate per year while the career lasts
    career_mean_years: float
    start_state_probs: tuple[tuple[int, float], ...]  # (state, prob) for a new dyad


def future_dyads_no_serious(
    profiles_rates: DyadRates,
    profile_kappa: Float,
    profile_weight: Float,
    n_perp: int,
    spec: FutureDyads,
    horizon_years: float,
) -> Float:
    """(n_perp,) chance that relationships not yet formed add no counted serious record.

    ``profiles_rates`` and ``profile_kappa`` hold ``n_perp * k`` rows: perpetrator ``i``'s
    ``k`` possible new-victim profiles at rows ``i*k .. i*k+k-1`` with weights
    ``profile_weight`` (n_perp, k), each row summing to one.
    """
    k = profile_weight.shape[1]
    step = horizon_years / GRID_STEPS
    m = profiles_rates.generator() - profile_kappa[:, :, None] * np.eye(N_STATES)[None, :, :]
    e_step = expm_batched(m * step)
    start = np.zeros(N_STATES)
    for state, prob in spec.start_state_probs:
        start[state] += prob
    v = np.ones((m.shape[0], N_STATES))
    h = np.empty((GRID_STEPS + 1, m.shape[0]))
    h[0] = 0.0
    for j in range(1, GRID_STEPS + 1):
        v = (e_step @ v[:, :, None])[:, :, 0]
        h[j] = 1.0 - v @ start
    h_perp = (h.reshape(GRID_STEPS + 1, n_perp, k) * profile_weight[None, :, :]).sum(axis=2)
    tau = np.linspace(0.0, horizon_years, GRID_STEPS + 1)
    decay = np.exp(-(horizon_years - tau) / spec.career_mean_years)
    integral = np.trapezoid(h_perp * decay[:, None], tau, axis=0)
    return np.asarray(np.exp(-spec.rho * integral), dtype=np.float64)


def _csr(owner: NDArray[np.int64], n_owner: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    order = np.argsort(owner, kind="stable")
    ptr = np.zeros(n_owner + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n_owner), out=ptr[1:])
    return order.astype(np.int64), ptr


def _explode(
    ptr: NDArray[np.int64], owners: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """For each query i with owner o, every position in ptr[o]..ptr[o+1]: (query, pos)."""
    counts = ptr[owners + 1] - ptr[owners]
    query = np.repeat(np.arange(owners.size), counts)
    offsets = np.arange(query.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return query, ptr[owners][query] + offsets


@dataclass(frozen=True)
class TruthInputs:
    """Everything the truth needs about the world and the recorded incidents."""

    dyad_perp: NDArray[np.int64]
    dyad_victim: NDArray[np.int64]
    dyad_start: Float
    dyad_start_state: NDArray[np.int64]
    paths: Paths
    no_serious_victim_side: Float  # (n_dyad, 7) over 365 days, any record counts
    no_serious_perp_side: Float  # (n_dyad, 7) over 365 days, perpetrator must be recorded
    no_repeat_pair: Float  # (n_dyad, 7) over 90 days, perpetrator must be recorded
    career_end: Float  # (n_perp,)


def label_probabilities(
    t: TruthInputs,
    inc_dyad: NDArray[np.int64],
    inc_time: Float,
    perp_recorded: NDArray[np.bool_],
    future_no_serious: Float,
) -> tuple[Float, Float]:
    """(p_serious_harm_365d, p_any_repeat_90d) for incidents of dyads at times;
    ``future_no_serious`` is each incident's term for relationships not yet formed."""
    n = inc_dyad.size
    victim = t.dyad_victim[inc_dyad]
    perp = t.dyad_perp[inc_dyad]
    log_none = np.zeros(n)

    # relationships of the victim: every record of them carries the victim's id
    v_order, v_ptr = _csr(t.dyad_victim, int(t.dyad_victim.max()) + 1)
    q, pos = _explode(v_ptr, victim)
    dy = v_order[pos]
    known = t.dyad_start[dy] <= inc_time[q]
    q, dy = q[known], dy[known]
    st = state_at(t.paths, t.dyad_start_state, dy, inc_time[q])
    np.add.at(log_none, q, np.log(t.no_serious_victim_side[dy, st]))

    # other relationships of the perpetrator count only through a recorded perpetrator id
    p_order, p_ptr = _csr(t.dyad_perp, t.career_end.size)
    q, pos = _explode(p_ptr, perp)
    dy = p_order[pos]
    keep = perp_recorded[q] & (t.dyad_start[dy] <= inc_time[q]) & (t.dyad_victim[dy] != victim[q])
    q, dy = q[keep], dy[keep]
    st = state_at(t.paths, t.dyad_start_state, dy, inc_time[q])
    np.add.at(log_none, q, np.log(t.no_serious_perp_side[dy, st]))

    log_none += np.log(future_no_serious)
    p_serious = 1.0 - np.exp(log_none)

    own = state_at(t.paths, t.dyad_start_state, inc_dyad, inc_time)
    p_repeat = np.where(perp_recorded, 1.0 - t.no_repeat_pair[inc_dyad, own], 0.0)
    return np.clip(p_serious, 0.0, 1.0), np.clip(p_repeat, 0.0, 1.0)
