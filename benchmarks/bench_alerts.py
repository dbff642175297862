"""Time the course-of-conduct alerts on the default synthetic county (about 57,000
incidents) as a batch over the whole extract and online for its latest day; print wall
time, incidents per second and the machine's load; optionally write each rule's
figures on the out-of-time test rows of each label.

    .venv/bin/python benchmarks/bench_alerts.py [--seed 20240601] [--repeat 5]
        [--figures PATH]

The county is synthesised once and cached as Parquet under benchmarks/out/. The
figures (``--figures``) use the test rows of the temporal splits of
``models/escalation.yaml`` for each of its labels, the rows a run's evaluation scores;
they need no model, since an alert does not read the score.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from triage.config import load_model_spec
from triage.contract.names import Extract
from triage.evaluation.alert_figures import alert_figures
from triage.features import build_labels
from triage.features.alerts import build_alerts, load_alert_spec
from triage.models import make_splits
from triage.synth import SynthConfig, generate_world

OUT = Path(__file__).resolve().parent / "out"
TABLES = ("incidents", "people", "orders")


def _synth_digest() -> str:
    """A digest of the generator's source: a changed county is synthesised afresh."""
    source = Path(__file__).resolve().parents[1] / "triage" / "synth"
    digest = hashlib.sha256()
    for path in sorted(source.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def county(seed: int) -> Extract:
    folder = OUT / f"alerts-county-{seed}-{_synth_digest()}"
    if not all((folder / f"{t}.parquet").exists() for t in TABLES):
        print(f"synthesising the default county, seed {seed} (once) ...", flush=True)
        extract = generate_world(SynthConfig(seed=seed)).extract
        folder.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            getattr(extract, name).to_parquet(folder / f"{name}.parquet")
    frames = [pd.read_parquet(folder / f"{t}.parquet") for t in TABLES]
    return Extract(*frames)


def best_of(repeat: int, run: Callable[[], pd.DataFrame]) -> tuple[float, pd.DataFrame]:
    times, out = [], pd.DataFrame()
    for _ in range(repeat):
        start = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - start)
    return min(times), out


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} cores"


def figures_text(extract: Extract, alerts: pd.DataFrame) -> str:
    spec = load_model_spec()
    labels = build_labels(extract, spec.labels)
    lines = []
    for label in spec.labels:
        plan = make_splits(labels, label, spec.splits)
        rows = np.concatenate([s.test for s in plan.splits])
        test = labels.iloc[rows]
        validation = pd.DataFrame(
            {"incident_id": test["incident_id"], "y": test[label.name].astype(int)}
        )
        table = alert_figures(validation, alerts, load_alert_spec())
        first, last = test["reported_at"].min(), test["reported_at"].max()
        lines += [
            "",
            f"label {label.name}: {len(test):,} out-of-time test rows of {len(plan.splits)} "
            f"splits, {first:%Y-%m-%d} to {last:%Y-%m-%d}; {int(validation['y'].sum()):,} "
            f"positives ({validation['y'].mean():.1%})",
            f"{'rule':<20}{'fired':>7}{'fire rate':>11}{'rate with':>11}{'without':>9}"
            f"{'preceded':>10}{'of positives':>14}",
        ]
        for r in table.itertuples():
            lines.append(
                f"{r.rule:<20}{r.fired:>7,}{r.fire_rate:>11.2%}{r.rate_with:>11.1%}"
                f"{r.rate_without:>9.1%}{r.preceded:>10,}{r.preceded_share:>14.1%}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SynthConfig().seed)
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best is reported")
    parser.add_argument("--figures", type=Path, default=None, help="write per-rule figures here")
    args = parser.parse_args()
    extract = county(args.seed)
    incidents = extract.incidents
    n_orders = 0 if extract.orders is None else len(extract.orders)
    print(f"county              : {len(incidents):,} incidents, {n_orders:,} orders")
    print(f"before              : {load()}")
    build_alerts(extract)  # warm: spec, harm table, imports
    wall, alerts = best_of(args.repeat, lambda: build_alerts(extract))
    print(
        f"batch, every incident: {wall:.3f} s (best of {args.repeat}), "
        f"{len(incidents) / wall:,.0f} incidents/s, {len(alerts):,} alerts"
    )
    for rule, n in alerts["rule"].value_counts(sort=False).items():
        print(f"  {rule:<20} {n:>7,}")
    day = incidents["reported_at"].dt.floor("D")
    latest = incidents[day == day.max()]
    online_wall, online = best_of(args.repeat, lambda: build_alerts(extract, latest))
    print(
        f"online, latest day   : {len(latest)} incidents against the history in "
        f"{online_wall * 1000:.0f} ms, {len(online)} alerts"
    )
    print(f"after               : {load()}")
    if args.figures is not None:
        command = " ".join([os.path.relpath(sys.executable), *sys.argv])
        text = f"per-rule alert figures, default county (seed {args.seed})\ncommand: {command}"
        text += "\n" + figures_text(extract, alerts) + "\n"
        args.figures.write_text(text, encoding="utf-8")
        print(text)


if __name__ == "__main__":
    main()
