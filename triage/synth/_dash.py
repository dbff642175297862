"""DASH answers and grades as officers record them: a weak, noisy signal of the hidden
danger, bent by each officer's habits and, if a knob says so, by the victim's group."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from triage.contract.names import DASH_QUESTIONS

__all__ = ["draw_dash"]

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]

N_OFFICERS = 240
HIGH_TICKS = 16
MEDIUM_TICKS = 10
# The questionnaire's structure is part of the world, not of the seed: fixed items.
_ITEMS = np.random.default_rng(27).uniform(0.15, 0.55, len(DASH_QUESTIONS))
_BASE = np.random.default_rng(28).uniform(-1.5, -0.2, len(DASH_QUESTIONS))


def draw_dash(
    rng: np.random.Generator,
    signal: Float,
    crime: Bool,
    grade_shift: Float,
    serious_now: Bool,
    withheld: Bool,
) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    """Grades (0 standard, 1 medium, 2 high, 3 not completed) and answers
    (n, 27) with 1 yes, 0 no, -1 missing; a ``withheld`` (n, 27) risk is recorded
    as "no" and so counts for nothing in the grade."""
    n = signal.shape[0]
    completed = rng.random(n) < np.where(crime, 0.88, 0.72)
    officer = rng.integers(0, N_OFFICERS, n)
    officer_rng = np.random.default_rng(rng.integers(0, 2**63 - 1))
    tick_bias = officer_rng.normal(0.0, 0.6, N_OFFICERS)
    harshness = officer_rng.normal(0.0, 2.2, N_OFFICERS)
    noise = rng.normal(0.0, 1.0, n)
    z = signal + noise
    logits = _BASE[None, :] + _ITEMS[None, :] * z[:, None] + tick_bias[officer][:, None]
    yes = rng.random((n, len(DASH_QUESTIONS))) < 1.0 / (1.0 + np.exp(-logits))
    yes &= ~withheld
    missing = rng.random((n, len(DASH_QUESTIONS))) < 0.05
    answers = np.where(missing, -1, yes.astype(np.int8)).astype(np.int8)
    ticks = (answers == 1).sum(axis=1)
    judged = ticks + harshness[officer] + grade_shift + rng.normal(0.0, 1.5, n)
    grade = np.where(judged >= HIGH_TICKS, 2, np.where(judged >= MEDIUM_TICKS, 1, 0))
    judgement = serious_now & (rng.random(n) < 0.12)
    grade = np.where(judgement, 2, grade)
    grade = np.where(completed, grade, 3).astype(np.int64)
    answers[~completed] = -1
    return grade, answers
