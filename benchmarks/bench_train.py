"""Train the escalation model at scale; print wall time, peak memory and target ratios.

1. The final model (booster, calibration, logistic baseline) on about 1,000,000
   synthetic incidents with the default features and model spec.
   Targets: <= 90 s and <= 6 GB.
2. Full temporal validation (every split and the final model) on the default county
   (5 years, about 57,000 incidents). Target: <= 60 s.

    .venv/bin/python benchmarks/bench_train.py [--per-year 220000] [--years 5] [--threads N]
        [--skip-final] [--skip-county]

The shipped spec trains LightGBM on one thread (reproducible anywhere); --threads
uses a copy of the spec with another thread count. CPU time is printed beside wall
time: on a busy machine wall time overstates the cost.

The large world, its labels and features are built once in a child process (so their
memory is not counted here) and cached as Parquet under benchmarks/out/ (ignored).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from triage.config import ModelSpec, load_model_spec
from triage.features.build import FeatureMatrix, build_features, catalogue
from triage.features.labels import build_labels
from triage.models.temporal import TemporalPlan, make_splits
from triage.models.training import train
from triage.synth import SynthConfig, generate_world

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
TARGET_FINAL_SECONDS, TARGET_FINAL_GB, TARGET_VALIDATION_SECONDS = 90.0, 6.0, 60.0


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _spec(threads: int | None) -> ModelSpec:
    """The shipped model spec, with another LightGBM thread count if asked."""
    spec = load_model_spec()
    if threads is None:
        return spec
    booster = spec.model.lightgbm.model_copy(update={"num_threads": threads})
    return spec.model_copy(update={"model": spec.model.model_copy(update={"lightgbm": booster})})


def prepare(folder: Path, per_year: int, years: float, seed: int) -> None:
    """Child process: synthesise the world, build labels and features, write Parquet."""
    world = generate_world(
        SynthConfig(seed=seed, years=years, incidents_per_year=per_year, truth=False)
    )
    spec = load_model_spec()
    labels = build_labels(world.extract, spec.labels)
    matrix = build_features(world.extract)
    folder.mkdir(parents=True, exist_ok=True)
    matrix.to_frame().to_parquet(folder / "matrix.parquet", index=False)
    labels.to_parquet(folder / "labels.parquet", index=False)
    meta = {"spec_fingerprint": matrix.spec_fingerprint, "harm_sha256": matrix.harm_sha256}
    (folder / "meta.json").write_text(json.dumps(meta))


def load(per_year: int, years: float, seed: int) -> tuple[FeatureMatrix, pd.DataFrame]:
    folder = OUT / f"train-{per_year}x{years:g}-{seed}"
    if not (folder / "meta.json").exists():
        print(f"synthesising {per_year:,} incidents a year for {years:g} years (once) ...")
        code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_train as b; "
        code += (
            f"b.prepare(__import__('pathlib').Path({str(folder)!r}), {per_year}, {years}, {seed})"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
    frame = pd.read_parquet(folder / "matrix.parquet")
    labels = pd.read_parquet(folder / "labels.parquet")
    meta = json.loads((folder / "meta.json").read_text())
    ids = frame[["incident_id", "reported_at"]]
    X = frame.drop(columns=["incident_id", "reported_at"])
    matrix = FeatureMatrix(
        ids,
        X,
        pd.DataFrame(index=X.index),
        catalogue(),
        meta["spec_fingerprint"],
        meta["harm_sha256"],
    )
    return matrix, labels


def bench_final(per_year: int, years: float, seed: int, threads: int | None) -> None:
    matrix, labels = load(per_year, years, seed)
    spec = _spec(threads)
    plan = make_splits(labels, spec.target, spec.splits)
    final_only = TemporalPlan(plan.label, plan.window_days, plan.end, (), plan.final)
    print(f"incidents           : {len(labels):,} ({len(plan.final):,} labelled for training)")
    print(f"features            : {matrix.X.shape[1]}")
    loaded_gb = _rss_gb()
    start, cpu = time.perf_counter(), _cpu_seconds()
    result = train(matrix, labels, final_only, spec)
    wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    peak = _rss_gb()
    fold = result.folds[-1]
    print(f"fit / slice rows    : {fold.fit_rows:,} / {fold.slice_rows:,}")
    print(f"boosting rounds     : {fold.best_iteration} (early-stopped on the slice)")
    for part, seconds in fold.seconds.items():
        print(f"  {part:<17} {seconds:6.1f} s")
    t_ratio, m_ratio = wall / TARGET_FINAL_SECONDS, peak / TARGET_FINAL_GB
    print(
        f"final model         : {wall:.1f} s  (target {TARGET_FINAL_SECONDS:.0f} s, "
        f"ratio {t_ratio:.2f}); CPU {cpu:.1f} s on {spec.model.lightgbm.num_threads} thread(s)"
    )
    print(
        f"peak memory (RSS)   : {peak:.2f} GB  (target {TARGET_FINAL_GB:.0f} GB, "
        f"ratio {m_ratio:.2f}; {loaded_gb:.2f} GB with the matrix loaded, before training)"
    )


def bench_county(threads: int | None) -> None:
    world = generate_world(SynthConfig())
    spec = _spec(threads)
    labels = build_labels(world.extract, spec.labels)
    matrix = build_features(world.extract)
    plan = make_splits(labels, spec.target, spec.splits)
    start, cpu = time.perf_counter(), _cpu_seconds()
    result = train(matrix, labels, plan, spec)
    wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    print(f"incidents           : {len(labels):,} ({len(plan.splits)} splits + final)")
    for step, seconds in result.timings.items():
        if step != "total":
            print(f"  {step:<17} {seconds:6.1f} s")
    ratio = wall / TARGET_VALIDATION_SECONDS
    print(
        f"temporal validation : {wall:.1f} s  (target {TARGET_VALIDATION_SECONDS:.0f} s, "
        f"ratio {ratio:.2f}); CPU {cpu:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-year", type=int, default=220_000, help="incidents a year")
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--threads", type=int, default=None, help="LightGBM threads (default: the spec's)"
    )
    parser.add_argument("--skip-final", action="store_true", help="skip the 1M final model")
    parser.add_argument("--skip-county", action="store_true", help="skip county validation")
    args = parser.parse_args()
    if not args.skip_final:
        print("== final model at scale ==")
        bench_final(args.per_year, args.years, args.seed, args.threads)
    if not args.skip_county:
        print("== temporal validation, default county ==")
        bench_county(args.threads)


if __name__ == "__main__":
    main()
