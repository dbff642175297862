"""The calibration report's bands on several seeds and at scale, beside full training.

For each seed: the calibration report with its model facts (docs/architecture.md
§11), then (with --train) the full training run of the shipped spec, so the bands
that the report measures with the logistic baseline are checked against the champion
too (LightGBM or logistic, AUC and misses against DASH, room below the truth).

    .venv/bin/python benchmarks/bench_county.py                    # seeds 1-5, default size
    .venv/bin/python benchmarks/bench_county.py --seeds 1 2 --train
    .venv/bin/python benchmarks/bench_county.py --seeds 1 --incidents 1100000 --years 5

Prints one line per seed and fact (value, band, ok) and exits non-zero if any band
fails, so it can stand as the check that every band holds on every seed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from triage.evaluation.county import model_facts
from triage.synth import SynthConfig, generate_world
from triage.synth.facts import calibration_report


def _train(world: object, out: Path) -> dict[str, float]:
    from triage.pipeline import prepare, train_and_register
    from triage.registry.tracking import NullTracker

    prepared = prepare(world.extract)  # type: ignore[attr-defined]
    trained = train_and_register(
        prepared,
        NullTracker(),
        truth=world.truth,  # type: ignore[attr-defined]
        capacity=20,
        report_dir=out,
    )
    h = trained.evaluation.headline()
    best = max(h["auc_model"], h["auc_logistic"])
    return {
        "auc_model": h["auc_model"],
        "auc_logistic": h["auc_logistic"],
        "npe_ratio_model": h["model_npe"] / h["dash_npe"],
        "truth_minus_best": h.get("auc_oracle", float("nan")) - best,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--incidents", type=int, default=None, help="incidents over the years")
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--train", action="store_true", help="also run full training")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    failed = 0
    for seed in args.seeds:
        cfg = SynthConfig(seed=seed, years=args.years)
        if args.incidents:
            cfg = cfg.model_copy(update={"incidents_per_year": round(args.incidents / args.years)})
        t0 = time.perf_counter()
        world = generate_world(cfg)
        t1 = time.perf_counter()
        facts = calibration_report(world.extract, world.truth)
        facts += model_facts(world.extract, world.truth)
        t2 = time.perf_counter()
        n = len(world.extract.incidents)
        print(f"seed {seed}: {n:,} incidents; synth {t1 - t0:.0f} s, report {t2 - t1:.0f} s")
        for f in facts:
            band = f"[{'' if f.low is None else f.low}, {'' if f.high is None else f.high}]"
            mark = "ok" if f.ok else "OUT"
            failed += not f.ok
            print(f"  {f.key:<16} {f.value:8.3f}  {band:<14} {mark}  {f.label}")
        if args.train:
            out = Path("benchmarks/out") / f"county-{seed}"
            figures = _train(world, out)
            for key, value in figures.items():
                print(f"  train {key:<18} {value:8.3f}")
            ok = np.isnan(figures["truth_minus_best"]) or figures["truth_minus_best"] >= 0.05
            failed += not ok
    print("every band holds" if not failed else f"{failed} band(s) out")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
