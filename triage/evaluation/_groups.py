"""Audit groups derived from the protected attributes, and the operating point that
turns scores into review flags.

Group labels are plain strings: sexes and ethnicities as recorded, age bands such as
``<25``, ``25-34`` and ``55+``, deprivation quintiles ``1`` (deciles 1-2, the most
deprived areas) to ``5``, and ``female/black`` for victim sex × ethnicity. A missing
value is its own group, ``not recorded`` (for a perpetrator this includes an
unidentified suspect).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from triage.contract.names import ETHNICITIES, SEXES

__all__ = [
    "CLUSTER_COLUMNS",
    "MISSING",
    "REQUIRED_COLUMNS",
    "Codes",
    "cluster_codes",
    "daily_top_k",
    "group_codes",
]

MISSING = "not recorded"
#: the optional columns naming each incident's resampling cluster, per side
CLUSTER_COLUMNS: dict[str, str] = {
    "victim": "victim_cluster",
    "perpetrator": "perpetrator_cluster",
}
Codes = tuple[npt.NDArray[np.int64], tuple[str, ...]]

#: the audit columns each grouping reads
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "victim_sex": ("victim_sex",),
    "victim_age_band": ("victim_age",),
    "victim_ethnicity": ("victim_ethnicity",),
    "victim_sex_ethnicity": ("victim_sex", "victim_ethnicity"),
    "deprivation_quintile": ("deprivation_decile",),
    "perpetrator_sex": ("perpetrator_sex",),
    "perpetrator_age_band": ("perpetrator_age",),
    "perpetrator_ethnicity": ("perpetrator_ethnicity",),
}


def _categorical(values: pd.Series, order: Sequence[str]) -> Codes:
    text = values.astype("string")
    seen = set(text.dropna().unique())
    names = [c for c in order if c in seen] + sorted(seen - set(order))
    lookup = {name: i for i, name in enumerate(names)}
    codes = text.map(lookup).fillna(len(names)).to_numpy(dtype=np.int64)
    return _with_missing(codes, names)


def _with_missing(codes: npt.NDArray[np.int64], names: Sequence[str]) -> Codes:
    """Append the ``not recorded`` group if any code points past ``names``."""
    if (codes >= len(names)).any():
        return codes, (*names, MISSING)
    return codes, tuple(names)


def _bands(edges: Sequence[int]) -> list[str]:
    labels = [f"<{edges[0]}"]
    labels += [f"{a}-{b - 1}" for a, b in itertools.pairwise(edges)]
    return [*labels, f"{edges[-1]}+"]


def _age_band(age: pd.Series, edges: Sequence[int]) -> Codes:
    values = pd.to_numeric(age, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    labels = _bands(edges)
    band = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right")
    codes = np.where(np.isnan(values), len(labels), band).astype(np.int64)
    return _compact(codes, labels)


def _compact(codes: npt.NDArray[np.int64], names: Sequence[str]) -> Codes:
    """Drop groups with no incidents, keeping the order of ``names`` (+ missing)."""
    full = [*names, MISSING]
    present = np.flatnonzero(np.bincount(codes, minlength=len(full)))
    remap = np.full(len(full), -1, dtype=np.int64)
    remap[present] = np.arange(present.size)
    return remap[codes], tuple(full[i] for i in present)


def _quintile(decile: pd.Series) -> Codes:
    values = pd.to_numeric(decile, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    ok = ~np.isnan(values) & (values >= 1) & (values <= 10)
    quint = np.where(ok, (np.nan_to_num(values) - 1) // 2, 5).astype(np.int64)
    return _compact(quint, [str(q) for q in range(1, 6)])


def group_codes(audit: pd.DataFrame, grouping: str, age_bands: Sequence[int]) -> Codes:
    """Each incident's group (a code per row) and the group names, in display order."""
    if grouping in ("victim_sex", "perpetrator_sex"):
        return _categorical(audit[grouping], SEXES)
    if grouping in ("victim_ethnicity", "perpetrator_ethnicity"):
        return _categorical(audit[grouping], ETHNICITIES)
    if grouping in ("victim_age_band", "perpetrator_age_band"):
        return _age_band(audit[grouping.replace("_band", "")], age_bands)
    if grouping == "deprivation_quintile":
        return _quintile(audit["deprivation_decile"])
    if grouping == "victim_sex_ethnicity":
        sex = audit["victim_sex"].astype("string").fillna(MISSING)
        eth = audit["victim_ethnicity"].astype("string").fillna(MISSING)
        order = [f"{s}/{e}" for s in (*SEXES, MISSING) for e in (*ETHNICITIES, MISSING)]
        return _categorical(sex + "/" + eth, order)
    raise ValueError(f"unknown grouping {grouping!r}")


def cluster_codes(values: pd.Series) -> npt.NDArray[np.int64]:
    """Codes ``0..K-1`` in order of first appearance: equal values share a cluster and
    each missing value (e.g. an unnamed suspect) is a cluster of its own. Only the
    order of appearance is kept, so the codes say nothing about the values."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    codes = codes.astype(np.int64)
    missing = codes < 0
    codes[missing] = len(uniques) + np.arange(int(missing.sum()))
    return pd.factorize(codes)[0].astype(np.int64)


def daily_top_k(
    reported_at: pd.Series, score: npt.NDArray[np.float64], k: int, within: pd.Series | None = None
) -> npt.NDArray[np.float64]:
    """The share of each incident that is reviewed when each UTC day's ``k`` highest
    scores are (per ``within`` value, e.g. the temporal split, when given): 1 above
    the cut, 0 below, and a fair share for a block of equal scores at the cut (the
    expected value under a random tie-break, as in the evaluation's recall@k)."""
    day = pd.to_datetime(reported_at, utc=True).dt.floor("D").to_numpy(dtype="datetime64[ns]")
    keys: list[npt.NDArray[np.int64]] = [day.view(np.int64)]
    if within is not None:
        keys.append(pd.factorize(within)[0].astype(np.int64))
    n = len(score)
    # sort by (within, day, -score): np.lexsort takes its primary key last
    order = np.lexsort((-score, *keys[::-1]))
    sorted_keys = np.stack([key[order] for key in keys])
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = (sorted_keys[:, 1:] != sorted_keys[:, :-1]).any(axis=0)
    new_block = new_group.copy()
    new_block[1:] |= score[order][1:] != score[order][:-1]
    starts = np.flatnonzero(new_group)
    position = np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))
    block_starts = np.flatnonzero(new_block)
    sizes = np.diff(np.append(block_starts, n))
    above = np.repeat(position[block_starts], sizes)  # rows of the day scoring higher
    ties = np.repeat(sizes, sizes)
    weights = np.empty(n)
    weights[order] = np.clip((k - above) / ties, 0.0, 1.0)
    return weights
