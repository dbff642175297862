"""The criminal-justice response: a recorded serious incident that names the
perpetrator can lead to charge, remand or custody, which pauses that relationship's
process for a spell; half the spells are bail conditions on the perpetrator, recorded
in the orders table (remand and custody are not).

While paused, the relationship's chain stands still: no incidents, no moves. It
resumes where it stopped after an exponential spell (mean ``PAUSE_MEAN_YEARS``), so a
pause is simulated by shifting every later incident and state change of the dyad by
the spell's length, which is exactly a frozen chain resumed (the chain is Markov and
the spell memoryless). The response can only follow an incident that every label
side counts (recorded, serious, perpetrator named), so the truth needs only the
pause in force at an incident's report time, never the chance of a future one (see
``_truth.py``). Other relationships of the perpetrator go on: bail conditions protect
one victim.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from triage.synth._process import Paths

__all__ = [
    "PAUSE_MEAN_YEARS",
    "RESPONSE_PROB",
    "Pauses",
    "Response",
    "apply_pauses",
    "paused_at",
]

Float = NDArray[np.float64]
Int = NDArray[np.int64]
Bool = NDArray[np.bool_]

#: chance a recorded serious incident naming the perpetrator leads to a pause
RESPONSE_PROB = 0.6
#: share of pauses recorded as bail conditions (the rest: remand or custody, which the
#: orders table does not hold)
BAIL_SHARE = 0.5
#: mean length of a pause (bail with no-contact conditions, remand, a custodial term)
PAUSE_MEAN_YEARS = 0.8


@dataclass(frozen=True)
class Pauses:
    """One row per pause, sorted by dyad then start: the dyad, [start, end) in
    (shifted) occurrence years, and when the bail conditions were recorded."""

    dyad: Int
    start: Float
    end: Float
    recorded: Float
    as_bail: Bool  # recorded as bail conditions (remand and custody are not orders)


@dataclass(frozen=True)
class Response:
    """Per marked event: whether it starts a pause, the pause's length and the delay
    (years) before the bail conditions are recorded. Drawn for every event, so that
    which events start one never moves another draw of the world."""

    trigger: Bool
    length: Float
    delay: Float
    as_bail: Bool

    @staticmethod
    def draw(rng: np.random.Generator, eligible: Bool) -> Response:
        """Draw the response to ``eligible`` events (recorded, serious, suspect named)."""
        n = eligible.size
        coin = rng.random(n)
        length = rng.exponential(PAUSE_MEAN_YEARS, n)
        delay = rng.uniform(0.5, 2.0, n) / 365.25
        as_bail = rng.random(n) < BAIL_SHARE
        return Response(eligible & (coin < RESPONSE_PROB), length, delay, as_bail)


def apply_pauses(paths: Paths, event_index: Int, response: Response) -> tuple[Paths, Pauses]:
    """Shift each dyad's later events and state changes by the length of every pause
    that an earlier triggering event of the same dyad started.

    ``event_index`` picks the rows of ``paths``' events that ``response`` describes.
    Returns the shifted paths (events in their original row order) and the pauses.
    """
    rows = np.flatnonzero(response.trigger)
    t_idx = event_index[rows]
    order = np.lexsort((paths.event_time[t_idx], paths.event_dyad[t_idx]))
    rows, t_idx = rows[order], t_idx[order]
    t_dyad = paths.event_dyad[t_idx]
    t_time = paths.event_time[t_idx]
    length = response.length[rows]
    # per dyad, the running total of pause lengths up to and including each trigger
    cum = np.cumsum(length)
    first = np.searchsorted(t_dyad, t_dyad, side="left")
    within = cum - np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
    key_t = _key(t_dyad, t_time)

    def shift(dyad: Int, time: Float) -> Float:
        """Total length of the dyad's pauses that began strictly before ``time``."""
        pos = np.searchsorted(key_t, _key(dyad, time), side="left") - 1
        ok = (pos >= 0) & (t_dyad[np.maximum(pos, 0)] == dyad)
        return np.where(ok, within[np.maximum(pos, 0)], 0.0)

    shifted = Paths(
        event_dyad=paths.event_dyad,
        event_time=paths.event_time + shift(paths.event_dyad, paths.event_time),
        event_state=paths.event_state,
        jump_dyad=paths.jump_dyad,
        jump_time=paths.jump_time + shift(paths.jump_dyad, paths.jump_time),
        jump_state=paths.jump_state,
    )
    start = t_time + (within - length)  # a trigger's own pause starts at its shifted time
    pauses = Pauses(
        t_dyad, start, start + length, start + response.delay[rows], response.as_bail[rows]
    )
    return shifted, pauses


def paused_at(pauses: Pauses, dyad: Int, time: Float) -> Bool:
    """Whether each ``dyad`` is paused at each ``time``."""
    if not pauses.dyad.size:
        return np.zeros(dyad.size, dtype=bool)
    pos = np.searchsorted(_key(pauses.dyad, pauses.start), _key(dyad, time), side="right") - 1
    at = np.maximum(pos, 0)
    return np.asarray((pos >= 0) & (pauses.dyad[at] == dyad) & (pauses.end[at] > time), dtype=bool)


_SPAN = 128.0  # more years than any world runs (burn-in and extract at most 60)


def _key(dyad: Int, time: Float) -> Float:
    """One sortable number per (dyad, time): dyads apart, times in order within one
    (to about a second for two million dyads)."""
    return np.asarray(dyad.astype(np.float64) * _SPAN + np.clip(time, 0.0, _SPAN - 1.0))
