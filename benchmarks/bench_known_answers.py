"""The fairness audit against the synthetic county's known answers, on several seeds
and county sizes (docs/architecture.md §8, §9).

For each world: validate a model over the temporal splits exactly as training does,
audit its out-of-time scores (victims resampled, daily top 10), and print every
primary flag and, for the groups asked about, the missed-case ratio with its
interval, its status and the smallest disparity the audit could have detected.

    .venv/bin/python benchmarks/bench_known_answers.py --knobs-off 1 2 3 4 5
    .venv/bin/python benchmarks/bench_known_answers.py --down-recording 12000 24000 48000

``--knobs-off SEEDS``: every knob off (no group differs in risk): the primary test
should flag nothing. ``--down-recording SIZES``: asian victims' incidents
down-recorded (the test suite's knob) at these incidents a year: the size at which the
audit first flags that group is the smallest county where the bias is detected.
"""

from __future__ import annotations

import argparse
import os
import time

from triage.config import load_model_spec
from triage.evaluation.fairness import (
    CLUSTER_COLUMNS,
    FairnessReport,
    audit_fairness,
    cluster_codes,
    with_audit_attributes,
)
from triage.features.build import build_features
from triage.features.labels import build_labels
from triage.models.temporal import make_splits
from triage.models.training import train
from triage.synth import DownRecording, SynthConfig, generate_world

DOWN_RECORDED = DownRecording(attribute="ethnicity", group="asian", rate=0.8, unnamed=0.8)


def audit(config: SynthConfig) -> FairnessReport:
    world = generate_world(config)
    matrix = build_features(world.extract)
    spec = load_model_spec()
    labels = build_labels(world.extract, spec.labels)
    plan = make_splits(labels, spec.target, spec.splits)
    result = train(matrix, labels, plan, spec, seed=0)
    scored = with_audit_attributes(result.validation, matrix.audit)
    people = world.extract.incidents.set_index("incident_id")
    for side, column in CLUSTER_COLUMNS.items():
        ids = scored["incident_id"].map(people[f"{side}_id"])
        scored[column] = cluster_codes(ids.reset_index(drop=True))
    return audit_fairness(scored, score="score_model")


def show(name: str, report: FairnessReport, groups: tuple[str, ...] = ()) -> None:
    flags = ", ".join(report.primary_flags) or "none"
    print(f"{name}: primary flags: {flags}", flush=True)
    for d in report.iter_disparities():
        if d.metric == "fnr" and d.group in groups:
            print(
                f"  {d.attribute}={d.group} vs {d.reference}: missed-case ratio {d.ratio:.2f}"
                f" ({d.low:.2f}-{d.high:.2f}), {d.status}; detectable at 80% power: above"
                f" {d.detectable_high:.2f} or below {d.detectable_low:.2f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knobs-off", type=int, nargs="*", default=[], metavar="SEED")
    parser.add_argument("--down-recording", type=int, nargs="*", default=[], metavar="SIZE")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    for seed in args.knobs_off:
        t0 = time.perf_counter()
        report = audit(SynthConfig(seed=seed, group_risk=False))
        show(f"seed {seed}, every knob off ({time.perf_counter() - t0:.0f} s)", report)
    for size in args.down_recording:
        t0 = time.perf_counter()
        config = SynthConfig(
            incidents_per_year=size, group_risk=False, down_recording=(DOWN_RECORDED,)
        )
        report = audit(config)
        elapsed = time.perf_counter() - t0
        show(f"{size:,} a year, asian victims down-recorded ({elapsed:.0f} s)", report, ("asian",))


if __name__ == "__main__":
    main()
