"""Shared synthetic worlds for tests: generated once per test process."""

from __future__ import annotations

from functools import cache

from triage.synth import SynthConfig, World, generate_world

SMALL = SynthConfig(seed=7, years=3.0, incidents_per_year=1500)


@cache
def default_county() -> World:
    """The default county (5 years, about 12,000 incidents a year) with truth."""
    return generate_world(SynthConfig())


@cache
def small_world(seed: int = 7) -> World:
    return generate_world(SMALL.model_copy(update={"seed": seed}))
