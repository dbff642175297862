"""The synthetic world (docs/architecture.md §9): a county whose domestic-abuse records come from a
hidden process we control, with a ground-truth table beside the extract.

There is no public incident-level data; this world stands in for a force's extract
in demos, tests and benchmarks. See ``_process.py`` for the hidden chain and
``_truth.py`` for how the truth is computed exactly.
"""

from triage.synth._config import DownRecording, GradingBias, RecordingBias, SynthConfig
from triage.synth._io import write_world
from triage.synth._world import World, generate_world

__all__ = [
    "DownRecording",
    "GradingBias",
    "RecordingBias",
    "SynthConfig",
    "World",
    "generate_world",
    "write_world",
]
