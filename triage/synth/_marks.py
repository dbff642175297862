"""What an incident looks like once it happens: its type, the flags an officer
records, whether it reaches the police at all, and when it is reported.

Within-type probabilities depend on the dyad and its state only through a few
numbers (serious or not, separated or not), so the chance that an incident in a
given state is *recorded and serious* has a closed form used by ``_truth.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from triage.contract.names import DASH_QUESTIONS
from triage.synth._config import DownRecording, RecordingBias

__all__ = [
    "MARKERS",
    "NON_SERIOUS",
    "REPORT_PROB",
    "SERIOUS",
    "TYPES",
    "DownRecorded",
    "down_recorded",
    "named_share",
    "non_serious_weights",
    "recording_multiplier",
    "serious_weights",
]

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]

SERIOUS: tuple[str, ...] = (
    "sexual_assault",
    "threats_to_kill",
    "assault_with_injury",
    "non_fatal_strangulation",
    "gbh",
    "rape",
    "homicide_or_attempt",
)
NON_SERIOUS: tuple[str, ...] = (
    "non_crime_domestic",
    "criminal_damage",
    "malicious_communications",
    "harassment",
    "common_assault",
    "breach_of_order",
    "stalking",
    "coercive_control",
)
TYPES: tuple[str, ...] = NON_SERIOUS + SERIOUS

#: chance an incident of each type reaches the police and is recorded
REPORT_PROB: dict[str, float] = {
    "non_crime_domestic": 0.42,
    "criminal_damage": 0.45,
    "malicious_communications": 0.40,
    "harassment": 0.42,
    "common_assault": 0.50,
    "breach_of_order": 0.60,
    "stalking": 0.45,
    "coercive_control": 0.33,
    "sexual_assault": 0.42,
    "threats_to_kill": 0.70,
    "assault_with_injury": 0.75,
    "non_fatal_strangulation": 0.60,
    "gbh": 0.90,
    "rape": 0.50,
    "homicide_or_attempt": 0.98,
}
_R_SERIOUS = np.array([REPORT_PROB[t] for t in SERIOUS])
_R_NON = np.array([REPORT_PROB[t] for t in NON_SERIOUS])

# non-serious mix while together / after separation (breach_of_order is assigned later,
# only where an order is in force)
_NON_TOGETHER = np.array([0.48, 0.08, 0.05, 0.07, 0.16, 0.0, 0.02, 0.08])
_NON_SEPARATED = np.array([0.36, 0.07, 0.10, 0.15, 0.10, 0.0, 0.10, 0.04])


def serious_weights(danger: Float, strangler: Float, victim_female: Bool) -> Float:
    """(n, 7) mix of serious types for dyads with these traits (rows sum to one)."""
    n = danger.shape[0]
    w = np.tile(np.array([0.55, 0.17, 0.45, 0.09, 0.03, 0.16, 0.0]), (n, 1))
    w[:, 3] *= 1.0 + 2.5 * strangler
    dp = np.maximum(danger, 0.0)
    w[:, 4] *= np.exp(1.0 * dp)
    w[:, 5] *= np.exp(0.6 * dp)
    w[:, 6] = 0.003 * np.exp(0.8 * dp)
    male = ~victim_female
    w[male, 0] *= 0.25
    w[male, 5] *= 0.15
    return np.asarray(w / w.sum(axis=1, keepdims=True), dtype=np.float64)


def non_serious_weights(separated: Bool) -> Float:
    """(n, 8) mix of non-serious types (rows sum to one)."""
    w = np.where(separated[:, None], _NON_SEPARATED[None, :], _NON_TOGETHER[None, :])
    return np.asarray(w / w.sum(axis=1, keepdims=True), dtype=np.float64)


def recording_multiplier(
    biases: tuple[RecordingBias, ...],
    group_of: Callable[[str], NDArray[np.object_]],
    n: int,
    serious: bool,
) -> Float:
    """Product of the recording-bias factors that apply to each of ``n`` victims;
    ``group_of(attribute)`` gives their groups."""
    out = np.ones(n)
    for bias in biases:
        if bias.applies_to == ("non_serious" if serious else "serious"):
            continue
        out *= np.where(group_of(bias.attribute) == bias.group, bias.factor, 1.0)
    return out


def record_probs(
    s_weights: Float, sep: Bool, mult_serious: Float, mult_non: Float
) -> tuple[Float, Float]:
    """Chance that a serious / a non-serious incident is recorded, per row."""
    r_ser = (s_weights * np.clip(_R_SERIOUS[None, :] * mult_serious[:, None], 0.0, 1.0)).sum(1)
    r_non = (non_serious_weights(sep) * np.clip(_R_NON[None, :] * mult_non[:, None], 0.0, 1.0)).sum(
        1
    )
    return np.asarray(r_ser, np.float64), np.asarray(r_non, np.float64)


def draw_types(
    rng: np.random.Generator, serious: Bool, s_weights: Float, separated: Bool
) -> NDArray[np.int64]:
    """Type index into ``TYPES`` for each incident."""
    n = serious.shape[0]
    u = np.asarray(rng.random(size=n), dtype=np.float64)
    out = np.empty(n, dtype=np.int64)
    cs = np.cumsum(s_weights, axis=1)
    out[serious] = len(NON_SERIOUS) + np.minimum(
        (u[serious, None] >= cs[serious]).sum(axis=1), len(SERIOUS) - 1
    )
    nw = np.cumsum(non_serious_weights(separated[~serious]), axis=1)
    out[~serious] = np.minimum((u[~serious, None] >= nw).sum(axis=1), len(NON_SERIOUS) - 1)
    return out


def report_prob_of(types: NDArray[np.int64], mult_serious: Float, mult_non: Float) -> Float:
    base = np.array([REPORT_PROB[t] for t in TYPES])[types]
    mult = np.where(types >= len(NON_SERIOUS), mult_serious, mult_non)
    return np.asarray(np.clip(base * mult, 0.0, 1.0), np.float64)


#: risk markers a down-recording officer may leave out, each with the types that
#: imply it (a recorded strangulation is always marked as one)
MARKERS: dict[str, tuple[str, ...]] = {
    "injury": ("assault_with_injury", "gbh"),
    "weapon": (),
    "strangulation": ("non_fatal_strangulation",),
}


@dataclass(frozen=True)
class DownRecorded:
    """What the down-recording knobs change: ``as_non_crime`` marks the non-serious
    crimes recorded as ``non_crime_domestic``, ``dropped`` the risk markers left out,
    ``withheld`` (n, questions) the DASH risks recorded as "no" and ``unnamed`` the
    incidents whose suspect is not named."""

    as_non_crime: Bool
    dropped: dict[str, Bool]
    withheld: Bool
    unnamed: Bool


def down_recorded(
    rng: np.random.Generator,
    knobs: tuple[DownRecording, ...],
    group_of: Callable[[str], NDArray[np.object_]],
    types: NDArray[np.int64],
) -> DownRecorded:
    """Draw what each knob changes for incidents of these ``types``; without knobs
    nothing is drawn, so the rest of the world does not depend on whether they exist."""
    n = types.shape[0]
    crime = (types > TYPES.index("non_crime_domestic")) & (types < len(NON_SERIOUS))
    as_non_crime = np.zeros(n, dtype=bool)
    dropped = {name: np.zeros(n, dtype=bool) for name in MARKERS}
    withheld = np.zeros((n, len(DASH_QUESTIONS)), dtype=bool)
    unnamed = np.zeros(n, dtype=bool)
    for knob in knobs:
        hit = group_of(knob.attribute) == knob.group
        u = rng.random((2 + len(MARKERS), n))
        as_non_crime |= hit & crime & (u[0] < knob.rate)
        for j, (name, implied) in enumerate(MARKERS.items(), start=2):
            keep = np.isin(types, [TYPES.index(t) for t in implied])
            dropped[name] |= hit & ~keep & (u[j] < knob.rate)
        withheld |= hit[:, None] & (rng.random(withheld.shape) < knob.rate)
        unnamed |= hit & (u[1] < knob.unnamed)
    return DownRecorded(as_non_crime, dropped, withheld, unnamed)


def named_share(
    knobs: tuple[DownRecording, ...], group_of: Callable[[str], NDArray[np.object_]], n: int
) -> Float:
    """Per victim: the chance that the knobs leave the suspect named."""
    out = np.ones(n)
    for knob in knobs:
        out *= np.where(group_of(knob.attribute) == knob.group, 1.0 - knob.unnamed, 1.0)
    return out
