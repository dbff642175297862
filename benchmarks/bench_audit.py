"""The full fairness audit of 100,000 scored incidents with 200 bootstrap resamples,
against a plain loop of fairlearn ``MetricFrame(..., n_boot=200)`` calls.

Target: the audit (every grouping of ``evaluation/audit.yaml``, point estimates,
intervals resampling victims and perpetrators, flags, the ThresholdOptimizer option)
in <= 30 s on 2 cores. The incidents belong to about 40,000 victims and 35,000
perpetrators (one in ten suspects unnamed), as logged predictions number them.

The MetricFrame loop computes the same per-group point estimates (checked equal) and
fairlearn's own bootstrap intervals, one MetricFrame per grouping. It costs seconds
per resample at this size, so by default it runs ``--fairlearn-resamples`` (5)
resamples and extrapolates to 200 from the measured cost per resample; ``--full``
runs all 200 (hours).

    .venv/bin/python benchmarks/bench_audit.py [--incidents 100000] [--full] [--audit-only]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from triage.contract.names import ETHNICITIES
from triage.evaluation._groups import daily_top_k, group_codes
from triage.evaluation.fairness import audit_fairness, load_audit_spec, metric_frame

TARGET_SECONDS = 30.0
RESAMPLES = 200


def scored_incidents(n: int, seed: int) -> pd.DataFrame:
    """Synthetic scored incidents: about 33 a day, realistic group mixes, scores that
    rank escalations moderately well (AUC about 0.75)."""
    rng = np.random.default_rng(seed)
    eth_p = np.array([0.80, 0.035, 0.085, 0.045, 0.015, 0.02])
    risk = rng.normal(-2.2, 1.0, n)
    y = rng.random(n) < 1 / (1 + np.exp(-risk))
    score = 1 / (1 + np.exp(-(risk + rng.normal(0, 0.9, n))))
    start = pd.Timestamp("2021-01-01", tz="UTC")
    seconds = np.sort(rng.integers(0, 86_400 * round(n / 33), n))
    perpetrator = pd.array(rng.integers(0, max(1, round(n / 2.9)), n), dtype="Int64")
    perpetrator[rng.random(n) < 0.1] = pd.NA  # unnamed suspects: a cluster each
    return pd.DataFrame(
        {
            "incident_id": [f"I{i:07d}" for i in range(n)],
            "reported_at": start + pd.to_timedelta(seconds, unit="s"),
            "y": y,
            "score": score,
            "victim_sex": rng.choice(["female", "male", "unknown"], n, p=[0.75, 0.24, 0.01]),
            "victim_ethnicity": rng.choice(ETHNICITIES, n, p=eth_p),
            "perpetrator_ethnicity": rng.choice(ETHNICITIES, n, p=eth_p),
            "victim_age": np.where(rng.random(n) < 0.02, np.nan, 16 + rng.gamma(2.2, 8.0, n)),
            "deprivation_decile": pd.array(rng.integers(1, 11, n), dtype="Int64"),
            "victim_cluster": rng.integers(0, max(1, round(n / 2.5)), n),
            "perpetrator_cluster": perpetrator,
        }
    )


def metricframe_loop(frame: pd.DataFrame, n_boot: int | None) -> tuple[float, list[pd.DataFrame]]:
    """One MetricFrame per grouping of the spec, as a user of fairlearn would write it."""
    spec = load_audit_spec()
    s = frame["score"].to_numpy()
    top_k = daily_top_k(frame["reported_at"], s, spec.operating_point.capacity)
    started = time.perf_counter()
    out = []
    for attribute in spec.attributes:
        codes, names = group_codes(frame, attribute.name, spec.age_bands)
        groups = pd.Series(np.asarray(names, dtype=object)[codes], name=attribute.name)
        mf = metric_frame(
            frame["y"].to_numpy(),
            top_k,
            groups,
            score=s,
            top_k=top_k,
            metrics=["n", "positives", *attribute.tests, *attribute.report],
            n_boot=n_boot,
            ci_quantiles=[0.025, 0.975] if n_boot else None,
            random_state=1 if n_boot else None,
        )
        out.append(mf.by_group)
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fairlearn-resamples", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="run MetricFrame with n_boot=200")
    parser.add_argument("--audit-only", action="store_true", help="skip the MetricFrame loop")
    args = parser.parse_args()

    frame = scored_incidents(args.incidents, args.seed)
    spec = load_audit_spec()
    started = time.perf_counter()
    report = audit_fairness(frame, spec)
    ours = time.perf_counter() - started
    n_groups = sum(len(a.groups) for a in report.attributes)
    print(f"incidents           : {len(frame):,} over {report.operating_point.days} days")
    print(f"groupings / groups  : {len(report.attributes)} / {n_groups}")
    print(
        f"audit ({spec.bootstrap.resamples} resamples): {ours:.1f} s  "
        f"(target {TARGET_SECONDS:.0f} s, ratio {ours / TARGET_SECONDS:.2f})"
    )
    print(f"resampling          : {report.victim_resampling} / {report.perpetrator_resampling}")
    if args.audit_only:
        return

    point_time, frames = metricframe_loop(frame, None)
    for attribute, by_group in zip(report.attributes, frames, strict=True):
        for g in attribute.groups:
            for metric in by_group.columns:
                theirs = float(np.asarray(by_group.loc[g.group, metric], dtype=np.float64))
                mine = float(getattr(g, metric))
                assert np.isclose(mine, theirs, rtol=1e-9, equal_nan=True), (g.group, metric)
    print(f"MetricFrame, points : {point_time:.1f} s (same point estimates: checked)")
    n_boot = RESAMPLES if args.full else args.fairlearn_resamples
    boot_time, _ = metricframe_loop(frame, n_boot)
    per_resample = max(boot_time - point_time, 0.0) / n_boot
    fairlearn = boot_time if args.full else point_time + RESAMPLES * per_resample
    how = "measured" if args.full else f"extrapolated from n_boot={n_boot}: {boot_time:.1f} s"
    print(
        f"MetricFrame, n_boot={RESAMPLES}: {fairlearn:,.0f} s ({how}; "
        f"{per_resample:.1f} s per resample)"
    )
    print(f"speed-up (MetricFrame loop / audit): {fairlearn / ours:,.0f}x")


if __name__ == "__main__":
    main()
