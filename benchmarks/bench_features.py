"""Build point-in-time features and labels for 1,000,000 synthetic incidents; print
wall time, incidents per second and peak memory; then compare with featuretools.

Targets (issue: labels, features, splits): <= 10 s and <= 3 GB on 2 cores for
features + labels of 1,000,000 incidents; >= 1000x featuretools' throughput.

    .venv/bin/python benchmarks/bench_features.py [--incidents 1000000] [--ft-rows 20000]
        [--skip-featuretools] [--threads N]

The synthetic world is generated once in a child process (so its memory is not
counted here) and cached as Parquet under benchmarks/out/. featuretools is not a
dependency of mash-triage: it needs older numpy/pandas, so this script builds its own
venv (benchmarks/.env-featuretools/) with pip, writes a slice of the world to
Parquet, runs a small helper there and reads the result back. Both sides compute
count, sum and max of harm over the perpetrator's incidents in the 90 days before
each incident, excluding the incident's own instant.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from triage.config import AggregateGroup, FeatureSetSpec, load_feature_spec, load_model_spec
from triage.contract.harm import load_harm_weights
from triage.contract.names import Extract
from triage.features.build import build_features
from triage.features.labels import build_labels

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
FT_ENV = HERE / ".env-featuretools"
FT_REQUIREMENTS = ["featuretools==1.31.0", "pandas<2.2", "numpy<2", "pyarrow<18"]
TARGET_SECONDS, TARGET_GB, TARGET_RATIO = 10.0, 3.0, 1000.0
TABLES = ("incidents", "people", "orders")

# Runs inside the featuretools venv. Queries are a dataframe of their own (no time
# index), so featuretools keeps every query at its cutoff while filtering the
# records; cutoff = reported_at - 1 ns excludes records at the query's instant.
FT_HELPER = """
import json, sys, time, warnings
import pandas as pd
import featuretools as ft

warnings.simplefilter("ignore")
inc = pd.read_parquet(sys.argv[1])
es = ft.EntitySet("slice")
es = es.add_dataframe(dataframe_name="queries", index="query_id",
    dataframe=inc[["incident_id", "perpetrator_id"]].rename(columns={"incident_id": "query_id"}))
es = es.add_dataframe(dataframe_name="records", index="record_id", time_index="reported_at",
    dataframe=inc.rename(columns={"incident_id": "record_id"}))
es = es.add_dataframe(dataframe_name="perpetrators", index="perpetrator_id",
    dataframe=pd.DataFrame({"perpetrator_id": inc["perpetrator_id"].dropna().unique()}))
es = es.add_relationship("perpetrators", "perpetrator_id", "records", "perpetrator_id")
es = es.add_relationship("perpetrators", "perpetrator_id", "queries", "perpetrator_id")
es.add_last_time_indexes()
aggs = [ft.Feature(es["records"].ww[c], parent_dataframe_name="perpetrators", primitive=p)
        for c, p in (("record_id", ft.primitives.Count), ("harm", ft.primitives.Sum),
                     ("harm", ft.primitives.Max))]
features = [ft.Feature(f, dataframe_name="queries") for f in aggs]
cutoff = pd.DataFrame({"query_id": inc["incident_id"],
                       "time": inc["reported_at"] - pd.Timedelta(1, "ns")})
start = time.perf_counter()
fm = ft.calculate_feature_matrix(features, entityset=es, cutoff_time=cutoff,
                                 training_window="90 days")
seconds = time.perf_counter() - start
fm.columns = ["count", "harm_sum", "harm_max"]
fm.reset_index().rename(columns={"query_id": "incident_id"}).to_parquet(sys.argv[2])
print(json.dumps({"seconds": seconds, "rows": len(fm)}))
"""


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _generate(folder: Path, incidents: int, seed: int) -> None:
    """Child process: synthesise (about 15% extra), keep the first ``incidents``."""
    try:
        from triage.synth import SynthConfig, generate_world
    except ImportError:  # pragma: no cover - only before triage.synth existed
        raise SystemExit("triage.synth is not available") from None
    years = 5.0
    config = SynthConfig(
        seed=seed, years=years, incidents_per_year=round(incidents * 1.15 / years), truth=False
    )
    extract = generate_world(config).extract
    folder.mkdir(parents=True, exist_ok=True)
    extract.incidents.iloc[:incidents].to_parquet(folder / "incidents.parquet", index=False)
    extract.people.to_parquet(folder / "people.parquet", index=False)
    if extract.orders is not None:
        extract.orders.to_parquet(folder / "orders.parquet", index=False)


def load_world(incidents: int, seed: int) -> Extract:
    folder = OUT / f"world-{incidents}-{seed}"
    if not (folder / "incidents.parquet").exists():
        print(f"synthesising {incidents:,} incidents into {folder} (once) ...", flush=True)
        code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_features as b; "
        code += f"b._generate(__import__('pathlib').Path({str(folder)!r}), {incidents}, {seed})"
        subprocess.run([sys.executable, "-c", code], check=True)
    frames = {
        t: pd.read_parquet(folder / f"{t}.parquet")
        for t in TABLES
        if (folder / f"{t}.parquet").exists()
    }
    return Extract(frames["incidents"], frames["people"], frames.get("orders"))


def bench_ours(extract: Extract, threads: int | None) -> None:
    n = len(extract.incidents)
    spec, model = load_feature_spec(), load_model_spec()
    rss_before = _rss_gb()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    matrix = build_features(extract, spec=spec, threads=threads)
    wall1, cpu1 = time.perf_counter(), time.process_time()
    labels = build_labels(extract, model.labels)
    wall2, cpu2 = time.perf_counter(), time.process_time()
    total = wall2 - wall0
    print(
        f"incidents            : {n:,} ({matrix.X.shape[1]} features, {len(model.labels)} labels)"
    )
    print(f"features             : {wall1 - wall0:6.2f} s wall, {cpu1 - cpu0:6.2f} s CPU")
    print(f"labels               : {wall2 - wall1:6.2f} s wall, {cpu2 - cpu1:6.2f} s CPU")
    ratio = total / TARGET_SECONDS
    print(
        f"features + labels    : {total:6.2f} s  (target {TARGET_SECONDS:.0f} s, ratio {ratio:.2f})"
    )
    print(f"incidents per second : {n / total:,.0f}")
    peak = _rss_gb()
    print(
        f"peak memory (RSS)    : {peak:.2f} GB incl. the loaded extract ({rss_before:.2f} GB"
        f" before)  (target {TARGET_GB:.0f} GB, ratio {peak / TARGET_GB:.2f})"
    )
    load = os.getloadavg()[0]
    print(f"load average         : {load:.2f} on {os.cpu_count()} cores (other work slows this)")
    for name in labels.columns[2:]:
        censored = int(labels[name].isna().sum())
        print(f"label {name:<15}: rate {labels[name].mean():.3f}, censored {censored:,}")


def _ft_python() -> Path:
    python = FT_ENV / "bin" / "python"
    if not python.exists():
        print(f"creating {FT_ENV} with {' '.join(FT_REQUIREMENTS)} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(FT_ENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *FT_REQUIREMENTS], check=True)
    return python


def bench_featuretools(extract: Extract, rows: int) -> None:
    harm = load_harm_weights()
    incidents = extract.incidents.iloc[:rows].reset_index(drop=True)
    weight = {t: v.weight for t, v in harm.types.items()}
    slice_frame = pd.DataFrame(
        {
            "incident_id": incidents["incident_id"].astype(str),
            "reported_at": incidents["reported_at"].dt.tz_convert(None),
            "perpetrator_id": incidents["perpetrator_id"].astype(object),
            "harm": incidents["incident_type"].astype(str).map(weight).astype(float),
        }
    )
    OUT.mkdir(exist_ok=True)
    src, dst, helper = OUT / "ft_slice.parquet", OUT / "ft_result.parquet", OUT / "ft_helper.py"
    slice_frame.to_parquet(src, index=False)
    helper.write_text(FT_HELPER)

    spec = FeatureSetSpec(
        name="featuretools_comparable",
        history=(
            AggregateGroup(
                entities=("perpetrator",),
                windows=(90,),
                aggregates=("count", "harm_sum", "harm_max"),
            ),
        ),
        incident=(),
    )
    sliced = Extract(incidents, extract.people, None)
    ours_seconds = min(
        _timed(lambda: build_features(sliced, spec=spec, threads=1)) for _ in range(5)
    )
    ours = build_features(sliced, spec=spec).X

    print(f"featuretools on {rows:,} incidents (this takes minutes) ...", flush=True)
    run = subprocess.run(
        [str(_ft_python()), str(helper), str(src), str(dst)],
        check=True,
        capture_output=True,
        text=True,
    )
    ft_seconds = json.loads(run.stdout.strip().splitlines()[-1])["seconds"]
    theirs = pd.read_parquet(dst).set_index("incident_id").loc[slice_frame["incident_id"]]

    known = incidents["perpetrator_id"].notna().to_numpy()  # featuretools: NaN without one
    a = ours.to_numpy(dtype=float)[known]
    b = (
        theirs[["count", "harm_sum", "harm_max"]]
        .fillna({"harm_max": 0.0})
        .to_numpy(dtype=float)[known]
    )
    identical = bool(np.array_equal(a, b))
    print(
        f"values identical     : {identical} ({int(known.sum()):,} incidents with a perpetrator;"
        " featuretools' max of nothing is NaN, ours 0)"
    )
    ours_rate, ft_rate = rows / ours_seconds, rows / ft_seconds
    print(f"featuretools         : {ft_seconds:8.2f} s  ({ft_rate:,.0f} incidents/s)")
    print(f"ours, same features  : {ours_seconds:8.4f} s  ({ours_rate:,.0f} incidents/s)")
    ratio = ours_rate / ft_rate
    print(f"throughput ratio     : {ratio:,.0f}x  (target {TARGET_RATIO:,.0f}x)")
    if not identical:
        raise SystemExit("featuretools and mash-triage disagree")


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--ft-rows", type=int, default=20_000)
    parser.add_argument("--skip-featuretools", action="store_true")
    args = parser.parse_args()
    extract = load_world(args.incidents, args.seed)
    bench_ours(extract, args.threads)
    if not args.skip_featuretools:
        bench_featuretools(extract, args.ft_rows)


if __name__ == "__main__":
    main()
