"""Dress the recorded incidents as a police extract: ids, timestamps, relationship
codes, officer-recorded flags, DASH, protective orders and breaches, and the people
table. The result is already normalised as ``triage.contract.names`` describes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from triage.contract.names import (
    DASH_GRADES,
    DASH_QUESTIONS,
    ETHNICITIES,
    ORDER_TYPES,
    RELATIONSHIPS,
    SEXES,
    Extract,
)
from triage.synth import _marks as marks
from triage.synth._config import SynthConfig
from triage.synth._population import KIND_FAMILY, KIND_PARTNER, Population
from triage.synth._process import CRISIS, SEPARATED

__all__ = ["RecordIndex", "build_tables"]

Float = NDArray[np.float64]
Int = NDArray[np.int64]
SECONDS_PER_YEAR = 365.25 * 86400.0
T = {name: i for i, name in enumerate(marks.TYPES)}
_ORDER_DAYS = {
    "dvpn": 2,
    "dvpo": 28,
    "non_molestation": 365,
    "restraining": 730,
    "stalking_protection": 730,
    "bail_conditions": 90,
}


@dataclass(frozen=True)
class RecordIndex:
    """Hidden facts about each row of ``incidents`` (same order), for the truth."""

    dyad: Int
    reported_years: Float
    perp_recorded: NDArray[np.bool_]


def _by_type(types: Int, table: dict[str, float], default: float) -> Float:
    lookup = np.full(len(marks.TYPES), default)
    for name, value in table.items():
        lookup[T[name]] = value
    return lookup[types]


def _flags(
    rng: np.random.Generator, types: Int, pop: Population, dyad: Int, state: Int
) -> dict[str, NDArray[np.bool_]]:
    perp = pop.dyad_perp[dyad]
    n = types.size
    injury_p = _by_type(
        types,
        {
            "assault_with_injury": 1.0,
            "gbh": 1.0,
            "homicide_or_attempt": 0.9,
            "non_fatal_strangulation": 0.5,
            "rape": 0.3,
            "sexual_assault": 0.2,
            "threats_to_kill": 0.05,
            "common_assault": 0.15,
        },
        0.02,
    )
    weapon_p = _by_type(
        types,
        {
            "threats_to_kill": 0.35,
            "gbh": 0.45,
            "homicide_or_attempt": 0.6,
            "assault_with_injury": 0.12,
            "criminal_damage": 0.05,
        },
        0.015,
    ) * (1.0 + 0.3 * (pop.danger[perp] > 1.0))
    assaultive = np.isin(
        types,
        [
            T[t]
            for t in (
                "common_assault",
                "assault_with_injury",
                "gbh",
                "rape",
                "sexual_assault",
                "homicide_or_attempt",
            )
        ],
    )
    strangle_p = np.where(
        types == T["non_fatal_strangulation"],
        1.0,
        np.where(assaultive & (pop.strangler[perp] > 0), 0.25, 0.005),
    )
    children = pop.dyad_children[dyad] > 0
    kids_p = np.where(children, np.where(SEPARATED[state], 0.25, 0.45), 0.03)
    subst_p = np.where(pop.substance[perp] > 0, 0.55, 0.07)
    u = rng.random((5, n))
    return {
        "injury": u[0] < injury_p,
        "weapon": u[1] < np.clip(weapon_p, 0, 1),
        "strangulation": u[2] < strangle_p,
        "children_present": u[3] < kids_p,
        "substance_misuse": u[4] < subst_p,
    }


def _grade_shift(cfg: SynthConfig, pop: Population, victim: Int) -> Float:
    shift = np.zeros(victim.size)
    for bias in cfg.grading_bias:
        groups = pop.victim_group(bias.attribute)[victim]
        shift += np.where(groups == bias.group, bias.shift, 0.0)
    return shift


def _orders(
    rng: np.random.Generator, types: Int, perp: Int, rep_s: Float, perp_recorded: NDArray[np.bool_]
) -> pd.DataFrame:
    trigger = (types >= len(marks.NON_SERIOUS)) | np.isin(
        types, [T["stalking"], T["coercive_control"]]
    )
    issued = trigger & perp_recorded & (rng.random(types.size) < 0.35)
    kinds = np.array(ORDER_TYPES)
    probs = np.array([0.20, 0.12, 0.12, 0.06, 0.05, 0.45])
    kind = kinds[rng.choice(len(kinds), size=int(issued.sum()), p=probs / probs.sum())]
    start = rep_s[issued] + rng.uniform(0.1, 3.0, kind.size) * 86400.0
    end = start + np.array([_ORDER_DAYS[k] for k in kind], dtype=np.float64) * 86400.0
    return pd.DataFrame({"perp": perp[issued], "order_type": kind, "start_s": start, "end_s": end})


def _breaches(
    rng: np.random.Generator, types: Int, perp: Int, rep_s: Float, orders: pd.DataFrame
) -> Int:
    """Non-serious crimes committed while an order binds the perpetrator become breaches."""
    out = types.copy()
    if orders.empty:
        return out
    o = orders.sort_values(["perp", "start_s"])
    key_o = o["perp"].to_numpy() * 1e10 + o["start_s"].to_numpy()
    key_i = perp * 1e10 + rep_s
    pos = np.searchsorted(key_o, key_i, side="right") - 1
    valid = pos >= 0
    posc = np.clip(pos, 0, None)
    same = valid & (o["perp"].to_numpy()[posc] == perp)
    bound = same & (o["end_s"].to_numpy()[posc] > rep_s)
    minor = np.isin(
        types,
        [
            T[t]
            for t in (
                "criminal_damage",
                "malicious_communications",
                "harassment",
                "common_assault",
                "stalking",
            )
        ],
    )
    flip = bound & minor & (rng.random(types.size) < 0.5)
    out[flip] = T["breach_of_order"]
    return out


def _stamp(origin: pd.Timestamp, seconds: Float) -> pd.DatetimeIndex:
    return origin + pd.to_timedelta(np.round(seconds).astype(np.int64), unit="s")


def build_tables(
    cfg: SynthConfig,
    pop: Population,
    rng: np.random.Generator,
    dyad: Int,
    state: Int,
    occ_t: Float,
    rep_t: Float,
    types: Int,
    draw_dash: Callable[..., Any],
    knob_rng: np.random.Generator,
    shuffle_rng: np.random.Generator | None = None,
) -> tuple[Extract, RecordIndex]:
    """The extract and the hidden facts of its rows. ``rng`` draws everything the
    world always has; ``knob_rng`` only what the down-recording knobs leave out;
    ``shuffle_rng`` (group risk off) only how victims' sex and birth are shuffled."""
    order = np.argsort(rep_t, kind="stable")
    dyad, state, occ_t, rep_t, types = (
        dyad[order],
        state[order],
        occ_t[order],
        rep_t[order],
        types[order],
    )
    n = dyad.size
    perp, victim = pop.dyad_perp[dyad], pop.dyad_victim[dyad]
    perp_recorded = rng.random(n) >= cfg.missing_perpetrator_rate
    origin = pd.Timestamp(cfg.start, tz="UTC") - pd.Timedelta(days=cfg.burn_in_years * 365.25)
    rep_s, occ_s = rep_t * SECONDS_PER_YEAR, occ_t * SECONDS_PER_YEAR

    flags = _flags(rng, types, pop, dyad, state)
    down = marks.down_recorded(
        knob_rng, cfg.down_recording, lambda a: pop.victim_group(a)[victim], types
    )
    for name, dropped in down.dropped.items():
        flags[name] = flags[name] & ~dropped
    serious_now = types >= len(marks.NON_SERIOUS)
    signal = (
        0.25 * pop.danger[perp]
        + 0.45 * (state % 3 == CRISIS)
        + 0.3 * SEPARATED[state]
        + 0.4 * flags["injury"]
        + 0.5 * flags["strangulation"]
        + 0.3 * flags["weapon"]
        + 0.2 * flags["children_present"]
        + 0.25 * pop.substance[perp]
        + 0.3 * serious_now
    )
    crime = (types != T["non_crime_domestic"]) & ~down.as_non_crime
    grade, answers = draw_dash(
        rng, signal, crime, _grade_shift(cfg, pop, victim), serious_now, down.withheld
    )
    orders = _orders(rng, types, perp, rep_s, perp_recorded)
    types = _breaches(rng, types, perp, rep_s, orders)
    # orders, breaches and person ids follow what happened; the record then says less
    types[down.as_non_crime] = T["non_crime_domestic"]
    named = perp_recorded & ~down.unnamed

    # pseudonymous ids in order of first appearance; victims and perpetrators share one
    # namespace (key 2i for victim i, 2j + 1 for perpetrator j)
    people = _PersonIds(np.concatenate([victim * 2, perp[perp_recorded] * 2 + 1]))
    victim_id = people.ids_of(victim * 2)
    perp_id = people.ids_of(perp * 2 + 1)
    perp_id[~named] = None

    kind = pop.dyad_kind[dyad]
    relationship = np.where(
        kind == KIND_PARTNER,
        np.where(SEPARATED[state], "ex_partner", "current_partner"),
        np.where(kind == KIND_FAMILY, "family_member", "other"),
    )
    occurred = pd.Series(_stamp(origin, occ_s)).where(rng.random(n) >= 0.03)
    deprivation = pd.array(pop.victim_deprivation[victim], dtype="Int64")
    deprivation[rng.random(n) < 0.04] = pd.NA
    data: dict[str, Any] = {
        "incident_id": pd.array([f"I{i + 1:08d}" for i in range(n)], dtype="string"),
        "reported_at": _stamp(origin, rep_s),
        "occurred_at": occurred,
        "victim_id": pd.array(victim_id, dtype="string"),
        "perpetrator_id": pd.array(perp_id, dtype="string"),
        "relationship": pd.Categorical(relationship, categories=RELATIONSHIPS),
        "incident_type": pd.Categorical(np.array(marks.TYPES)[types], categories=_harm_order()),
        **flags,
        "dash_grade": pd.Categorical(np.array(DASH_GRADES)[grade], categories=DASH_GRADES),
    }
    for j, q in enumerate(DASH_QUESTIONS):
        col = answers[:, j]
        data[q] = pd.arrays.BooleanArray(col == 1, mask=col < 0)
    data["deprivation_decile"] = deprivation
    incidents = pd.DataFrame(data)
    people_df = _people(pop, origin, people, rng, shuffle_rng)
    orders_df = pd.DataFrame(
        {
            "person_id": pd.array(people.ids_of(orders["perp"].to_numpy() * 2 + 1), dtype="string"),
            "order_type": pd.Categorical(orders["order_type"], categories=ORDER_TYPES),
            "start_at": _stamp(origin, orders["start_s"].to_numpy()),
            "end_at": _stamp(origin, orders["end_s"].to_numpy()),
        }
    )
    window_end = (cfg.burn_in_years + cfg.years) * SECONDS_PER_YEAR
    orders_df = (
        orders_df[orders["start_s"].to_numpy() < window_end]
        .sort_values(["start_at", "person_id"])
        .reset_index(drop=True)
    )
    extract = Extract(incidents=incidents, people=people_df, orders=orders_df)
    return extract, RecordIndex(dyad=dyad, reported_years=rep_t, perp_recorded=named)


def _harm_order() -> list[str]:
    from triage.contract.harm import load_harm_weights

    return load_harm_weights().names


class _PersonIds:
    """Ids ``P0000001``... for person keys, numbered by first appearance."""

    def __init__(self, keys_in_order: Int) -> None:
        self.sorted_keys, first = np.unique(keys_in_order, return_index=True)
        rank = np.empty(first.size, dtype=np.int64)
        rank[np.argsort(first)] = np.arange(first.size)
        self.ids = np.array([f"P{r + 1:07d}" for r in rank], dtype=object)
        self.keys = self.sorted_keys[np.argsort(first)]  # in order of appearance

    def ids_of(self, keys: Int) -> NDArray[np.object_]:
        return self.ids[np.searchsorted(self.sorted_keys, keys)].copy()


def _people(
    pop: Population,
    origin: pd.Timestamp,
    ids: _PersonIds,
    rng: np.random.Generator,
    shuffle: np.random.Generator | None,
) -> pd.DataFrame:
    """The people table; with ``shuffle``, victims' sex and date of birth are shuffled
    among the recorded victims (``SynthConfig.group_risk`` off)."""
    keys = ids.keys
    is_perp = keys % 2 == 1
    idx = keys // 2
    vi, pi = np.where(is_perp, 0, idx), np.where(is_perp, idx, 0)
    sex = np.where(is_perp, pop.perp_sex[pi], pop.victim_sex[vi])
    eth = np.where(is_perp, pop.perp_ethnicity[pi], pop.victim_ethnicity[vi])
    birth = np.where(is_perp, pop.perp_birth[pi], pop.victim_birth[vi])
    if shuffle is not None:
        # dates of birth, not ages: an age at the incident then says nothing of how
        # long the abuse has gone on either
        victims = np.flatnonzero(~is_perp)
        moved = shuffle.permutation(victims)
        sex[victims], birth[victims] = sex[moved], birth[moved]
    year = origin.year + np.floor(birth + (origin.dayofyear - 1) / 365.25).astype(np.int64)
    birth_year = pd.array(year, dtype="Int64")
    birth_year[rng.random(keys.size) < 0.02] = pd.NA
    sex = np.where(rng.random(keys.size) < 0.01, "unknown", sex)
    return pd.DataFrame(
        {
            "person_id": pd.array(ids.ids_of(keys), dtype="string"),
            "sex": pd.Categorical(sex, categories=SEXES),
            "birth_year": birth_year,
            "ethnicity": pd.Categorical(eth, categories=ETHNICITIES),
        }
    )
