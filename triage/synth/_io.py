"""Write a synthetic world to a folder as a force's extract would arrive: one file per
table (Parquet by default, or CSV), the truth table beside them, and a small manifest.
Files are first written to a hidden scratch folder and moved into place only when all
of them are complete, so a failed run leaves nothing half-written."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import pandas as pd

from triage.contract.truth import TRUTH_FILE
from triage.exceptions import ConfigError
from triage.synth._world import World

__all__ = ["write_world"]

Format = Literal["parquet", "csv"]
MANIFEST = "world.json"


def _csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for name, col in out.items():
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            text = col.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            out[name] = text.where(col.notna(), "")
        elif col.dtype == bool or str(col.dtype) == "boolean":
            out[name] = col.map({True: "true", False: "false"}).astype("string").fillna("")
    return out


def _write(frame: pd.DataFrame, path: Path, fmt: Format) -> None:
    if fmt == "parquet":
        frame.to_parquet(path, index=False, engine="pyarrow", compression="zstd")
    else:
        _csv_ready(frame).to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def write_world(
    world: World, out: str | Path, fmt: Format = "parquet", overwrite: bool = False
) -> list[Path]:
    """Write the extract tables, ``truth`` (if computed) and ``world.json`` into ``out``."""
    if fmt not in ("parquet", "csv"):
        raise ConfigError(f"unknown format {fmt!r}: use 'parquet' or 'csv'")
    target = Path(out)
    tables: dict[str, pd.DataFrame] = {
        "incidents": world.extract.incidents,
        "people": world.extract.people,
    }
    if world.extract.orders is not None:
        tables["orders"] = world.extract.orders
    if world.truth is not None:
        tables[TRUTH_FILE] = world.truth
    names = [f"{name}.{fmt}" for name in tables] + [MANIFEST]
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--out {target} exists and is not a folder")
    clashes = [n for n in names if (target / n).exists()] if target.exists() else []
    stale = (
        [
            p.name
            for p in (target.glob("*.csv") if fmt == "parquet" else target.glob("*.parquet"))
            if p.stem in tables
        ]
        if target.exists()
        else []
    )
    if (clashes or stale) and not overwrite:
        raise ConfigError(
            f"{target} already holds {', '.join(sorted(clashes + stale))}; "
            "choose an empty folder or pass --overwrite"
        )
    target.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".synth-", dir=target))
    try:
        for name, frame in tables.items():
            _write(frame, scratch / f"{name}.{fmt}", fmt)
        manifest = {
            "generator": "triage.synth",
            "config": world.config.model_dump(mode="json"),
            "format": fmt,
            "rows": {name: len(frame) for name, frame in tables.items()},
            "truth": None
            if world.truth is None
            else {"method": "exact", "labels": ["serious_harm_365d", "any_repeat_90d"]},
        }
        (scratch / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        for name in stale:
            (target / name).unlink()
        written = []
        for name in names:
            (scratch / name).replace(target / name)
            written.append(target / name)
        return written
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
