"""Point-in-time features (docs/architecture.md §5): one function for training matrices and for
scoring one new incident.

The rule: a feature of incident *i* uses only records whose ``reported_at`` is
strictly earlier than *i*'s, plus *i*'s own attributes. Records at the same instant
(including *i* itself, if the history holds it) are excluded, so scoring an incident
against a store that already contains it gives the same numbers as scoring it
before it was stored. A window of *w* days covers ``[t_i - w days, t_i)``: a record
exactly *w* days earlier counts, one at ``t_i`` does not. ``all`` covers ``(-inf, t_i)``.

Matching is by role: the *victim* entity is the records with the same ``victim_id``,
*perpetrator* those with the same ``perpetrator_id``, *pair* those with the same
(victim, perpetrator) pair. A missing ``perpetrator_id`` matches nothing: such an
incident has zero perpetrator and pair history (``perpetrator_known`` says so).
Counting aggregates read the harm table: ``crimes`` and ``serious`` by type,
``stalking_harassment`` = types stalking or harassment, ``breaches`` = breach of
order; ``injury`` and ``strangulation`` count the flag or a type that implies it.
Harm is summed in exact thousandths of a day, so results never depend on which
other records share the history. Protective orders are known from their
``start_at``; an order is in force at *t* if it started before *t* and has not ended
before *t*. Without an orders table, order features are missing (NaN), not zero.

Categorical features use the fixed category lists of the contract and the harm
table, so training and scoring encode them identically. Protected attributes go to
a separate audit frame and become features only where the spec opts in.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from triage.config import FeatureSetSpec, load_feature_spec
from triage.contract.harm import HarmWeights, load_harm_weights
from triage.contract.names import Extract
from triage.exceptions import SchemaError
from triage.features.catalogue import FeatureInfo, build_catalogue
from triage.features.history import Orders, Queries, Records, entity_features
from triage.features.incident import Incidents, Values, ages, audit_frame, own_values, records
from triage.features.windows import (
    IntArray,
    Timeline,
    code_ids,
    id_values,
    pair_codes,
    rows_of,
    to_ns,
)

__all__ = ["FeatureInfo", "FeatureMatrix", "Progress", "build_features", "catalogue"]

logger = logging.getLogger(__name__)

#: called as ``progress(step, done, total)`` while features are built
Progress = Callable[[str, int, int], None]

_PARALLEL_FROM = 50_000  # history records; below this, threads cost more than they save
_KEY_COLUMNS = ("incident_id", "reported_at", "victim_id", "perpetrator_id", "incident_type")
_T = TypeVar("_T")


@dataclass(frozen=True)
class FeatureMatrix:
    """Features of a set of query incidents, row for row in query order.

    ``ids`` holds ``incident_id`` and ``reported_at``; ``X`` the features in
    catalogue order; ``audit`` the protected attributes (never features unless the
    spec opted in). ``spec_fingerprint`` and ``harm_sha256`` name the exact inputs.
    """

    ids: pd.DataFrame
    X: pd.DataFrame
    audit: pd.DataFrame
    catalogue: tuple[FeatureInfo, ...]
    spec_fingerprint: str
    harm_sha256: str

    def to_frame(self) -> pd.DataFrame:
        """``ids`` and ``X`` side by side, e.g. to write one Parquet file."""
        return pd.concat([self.ids, self.X], axis=1)


def catalogue(
    spec: FeatureSetSpec | None = None, *, harm_weights: HarmWeights | None = None
) -> tuple[FeatureInfo, ...]:
    """Every feature ``spec`` defines (name, description template, entity, window,
    aggregate, dtype), in matrix column order."""
    spec = spec if spec is not None else load_feature_spec()
    return build_catalogue(spec, harm_weights if harm_weights is not None else load_harm_weights())


@dataclass(frozen=True)
class _Context:
    """Everything the history aggregates share: codes, the timeline, record arrays."""

    rec: Records
    q: Queries
    timeline: Timeline
    q_inc: Incidents
    orders: Orders | None
    victim_row: IntArray  # row in ``people`` of each query's victim (-1: none)
    perp_row: IntArray

    @classmethod
    def build(
        cls, history: Extract, query: pd.DataFrame, harm: HarmWeights, pool: Executor | None
    ) -> _Context:
        hist, people, orders = history.incidents, history.people, history.orders
        same = query is hist
        ids = [hist["victim_id"], hist["perpetrator_id"]]
        if orders is not None:
            ids.append(orders["person_id"])
        if not same:
            ids += [query["victim_id"], query["perpetrator_id"]]
        # People are coded with the incidents' ids, so their rows need no second lookup.
        # The coding reads no frame: it runs while this thread reads the other columns.
        coding = _later(pool, code_ids, *id_values(*ids, people["person_id"]))
        h_inc = Incidents.of(hist, harm)
        q_inc = h_inc if same else Incidents.of(query, harm)
        order_ns = [to_ns(orders[c]) for c in ("start_at", "end_at")] if orders is not None else []
        *codes, person_code = coding()
        distinct = max(int(c.max(initial=-1)) for c in codes) + 1
        hv, hp = codes[:2]
        qv, qp = (hv, hp) if same else (codes[-2], codes[-1])
        if same:
            h_pairs = q_pairs = pair_codes(hv, hp)
        else:
            pairs = pair_codes(np.concatenate([hv, qv]), np.concatenate([hp, qp]))
            h_pairs, q_pairs = pairs[: len(hv)], pairs[len(hv) :]
        timeline = Timeline([h_inc.ns, *([] if same else [q_inc.ns]), *order_ns])
        q_codes = {"victim": qv, "perpetrator": qp, "pair": q_pairs}
        q = Queries(q_inc.ns, timeline.first_at_or_after(q_inc.ns), q_codes, timeline, same)
        h_codes = {"victim": hv, "perpetrator": hp, "pair": h_pairs}
        rec = records(h_inc, timeline.first_at_or_after(h_inc.ns), h_codes, harm)
        person_row = rows_of(person_code, distinct)
        order_data = _orders(orders, codes[2] if orders is not None else None, timeline)
        return cls(rec, q, timeline, q_inc, order_data, person_row[qv], person_row[qp])


def _later(pool: Executor | None, fn: Callable[..., _T], *args: Any) -> Callable[[], _T]:
    """``fn(*args)`` in ``pool`` if there is one (else now); call the result to wait."""
    if pool is None:
        value = fn(*args)
        return lambda: value
    return pool.submit(fn, *args).result


def _default_threads() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, cores or 1))


def build_features(
    history: Extract,
    queries: pd.DataFrame | None = None,
    spec: FeatureSetSpec | None = None,
    *,
    harm_weights: HarmWeights | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
) -> FeatureMatrix:
    """Features of ``queries`` as of each one's ``reported_at``, from ``history``.

    Batch: ``queries=None`` uses every incident of ``history``. Online: pass the new
    incident(s) as a frame with the contract's incident columns; ``history`` may or
    may not already contain them. Same inputs, same numbers, bit for bit (the entity
    kinds are independent, so ``threads`` only changes the speed).
    """
    spec = spec if spec is not None else load_feature_spec()
    harm = harm_weights if harm_weights is not None else load_harm_weights()
    infos = build_catalogue(spec, harm)
    query = history.incidents if queries is None else queries.reset_index(drop=True)
    missing = [c for c in _KEY_COLUMNS if c not in query]
    if missing:
        raise SchemaError([], message=f"query incidents lack the columns {missing}")
    report = progress if progress is not None else (lambda _s, _d, _t: None)

    workers = threads or (_default_threads() if len(history.incidents) >= _PARALLEL_FROM else 1)
    with ThreadPoolExecutor(max_workers=workers) if workers > 1 else nullcontext() as pool:
        ctx = _Context.build(history, query, harm, pool)
        age = ages(ctx.q_inc, history.people, ctx.victim_row, ctx.perp_row)
        values: dict[str, Values] = own_values(
            query, ctx.q_inc, ctx.q.codes["perpetrator"], harm, infos, age
        )
        tasks = _history_tasks(infos, ctx)
        report("incident attributes", 1, len(tasks) + 1)
        finished: Iterator[tuple[str, dict[str, npt.NDArray[np.generic]]]]
        if pool is None:
            finished = ((name, task()) for name, task in tasks)
        else:
            futures = {pool.submit(task): name for name, task in tasks}
            finished = ((futures[f], f.result()) for f in as_completed(futures))
        # The history tasks read arrays only, so pandas is read by one thread at a time.
        audit = _later(pool, audit_frame, query, history.people, ctx.victim_row, ctx.perp_row, age)
        for done, (name, result) in enumerate(finished, start=2):
            values.update(result)
            report(name, done, len(tasks) + 1)
        audit_values = audit()

    for info in infos:
        if info.name not in values:  # protected attributes the spec opted in
            column = audit_values[info.name]
            values[info.name] = (
                pd.Categorical(column)
                if info.dtype == "category"
                else column.to_numpy(dtype=np.float64, na_value=np.nan)
            )
    X = pd.DataFrame({f.name: _typed(values[f.name], f) for f in infos}, copy=False)
    ids = pd.DataFrame(
        {
            "incident_id": pd.array(query["incident_id"].to_numpy(), dtype="string"),
            "reported_at": query["reported_at"].reset_index(drop=True),
        }
    )
    logger.info("built %d features for %d incidents", X.shape[1], X.shape[0])
    return FeatureMatrix(ids, X, audit_values, infos, spec.fingerprint(), harm.sha256)


Task = Callable[[], dict[str, npt.NDArray[np.generic]]]


def _history_tasks(infos: Sequence[FeatureInfo], ctx: _Context) -> list[tuple[str, Task]]:
    """One independent task per entity kind."""
    tasks: list[tuple[str, Task]] = []
    for entity in ("victim", "perpetrator", "pair"):
        mine = [f for f in infos if f.entity == entity]
        if mine:
            task = partial(entity_features, entity, mine, ctx.rec, ctx.q, ctx.timeline, ctx.orders)
            tasks.append((f"{entity} history", task))
    return tasks


def _orders(
    orders: pd.DataFrame | None, person: IntArray | None, timeline: Timeline
) -> Orders | None:
    if orders is None or person is None:
        return None
    start = timeline.first_at_or_after(to_ns(orders["start_at"]))
    end_ns = to_ns(orders["end_at"])
    end = np.where(end_ns == np.iinfo(np.int64).min, -1, timeline.first_at_or_after(end_ns))
    return Orders(person, start, np.where(end >= 0, np.maximum(end, start), -1))


def _typed(value: Values, info: FeatureInfo) -> pd.Categorical | npt.NDArray[np.generic]:
    if info.dtype == "category":
        if isinstance(value, pd.Categorical):
            return value
        return pd.Categorical(value, categories=list(info.categories or ()))
    return np.asarray(value).astype(info.dtype, copy=False)
