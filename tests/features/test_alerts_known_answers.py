"""Course-of-conduct alerts against the synthetic county's known answers
(docs/architecture.md §5, §9).

The county simulates post-separation stalking courses: some partner relationships,
once separated, turn into following, messages, damage and turning up, more often and
for longer. The truth table marks each incident that happens during one
(``stalking_course``), so the possible-stalking rule can be checked against what the
world did, not only against a re-implementation of itself.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from triage.features.alerts import build_alerts
from triage.synth import SynthConfig, World, generate_world

STALKING_TYPES = {"stalking", "harassment", "malicious_communications"}


@cache
def _world() -> tuple[World, pd.DataFrame]:
    world = generate_world(SynthConfig(seed=3, years=3.0, incidents_per_year=4000))
    return world, build_alerts(world.extract)


def _fired(rule: str) -> np.ndarray:
    world, alerts = _world()
    ids = set(alerts.loc[alerts["rule"] == rule, "incident_id"])
    return world.extract.incidents["incident_id"].isin(ids).to_numpy()


def _course() -> np.ndarray:
    world, _ = _world()
    assert world.truth is not None
    return world.truth["stalking_course"].to_numpy(dtype=bool)


def test_stalking_courses_are_a_minority_of_incidents_and_mostly_stalking_like() -> None:
    world, _ = _world()
    course = _course()
    assert 0.03 < course.mean() < 0.2
    types = world.extract.incidents["incident_type"].astype(str).to_numpy()
    stalking_like = np.isin(types, sorted(STALKING_TYPES))
    assert stalking_like[course].mean() > 0.45
    assert stalking_like[course].mean() > 3 * stalking_like[~course].mean()


def test_possible_stalking_fires_on_stalking_courses() -> None:
    """The rule's known answer: it fires mostly during courses (precision) and far
    more often there than elsewhere. It cannot fire on a course's first incidents
    (three are needed), so its recall within courses stays modest."""
    fired, course = _fired("possible_stalking"), _course()
    assert fired.sum() >= 30
    assert course[fired].mean() > 0.7
    assert fired[course].mean() > 10 * fired[~course].mean()


def test_without_courses_the_rule_would_rarely_fire() -> None:
    """The same world's incidents outside any course hardly ever trip the rule: the
    alert is about the course, not about harassment in general."""
    fired, course = _fired("possible_stalking"), _course()
    assert fired[~course].mean() < 0.01
