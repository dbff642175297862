"""The group-risk knob: with it off, victims' recorded sex and age say nothing of risk.

In the default world a victim's age follows the relationship (an elderly parent abused
by an adult child, partners of about the perpetrator's age, whose age shapes the
abuse) and men and women suffer different kinds of serious harm, so victim groups by
sex and age differ in risk. ``SynthConfig(group_risk=False)`` is the same world with
victims' recorded sex and date of birth shuffled among them: the audit's null world.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from triage.synth import SynthConfig, World, generate_world

BASE = SynthConfig(seed=3, years=3.0, incidents_per_year=4000)


@cache
def _worlds() -> tuple[World, World]:
    return generate_world(BASE), generate_world(BASE.model_copy(update={"group_risk": False}))


def _victims(world: World) -> pd.DataFrame:
    """Each victim once, with the relationship and year of their first incident."""
    incidents = world.extract.incidents.sort_values("reported_at", kind="stable")
    first = incidents.drop_duplicates("victim_id")[["victim_id", "relationship", "reported_at"]]
    people = world.extract.people.set_index("person_id")
    out = first.join(people[["sex", "birth_year"]], on="victim_id")
    out["age"] = out["reported_at"].dt.year - out["birth_year"].astype("float64")
    return out.reset_index(drop=True)


def test_without_group_risk_only_victims_recorded_sex_and_age_change() -> None:
    lifelike, null = _worlds()
    for name in ("incidents", "orders"):
        pd.testing.assert_frame_equal(getattr(lifelike.extract, name), getattr(null.extract, name))
    assert lifelike.truth is not None
    assert null.truth is not None
    pd.testing.assert_frame_equal(lifelike.truth, null.truth)

    before, after = lifelike.extract.people, null.extract.people
    for column in ("person_id", "ethnicity"):
        assert before[column].equals(after[column])
    victims = before["person_id"].isin(lifelike.extract.incidents["victim_id"]).to_numpy()
    perpetrators = ~victims
    pd.testing.assert_frame_equal(before[perpetrators], after[perpetrators])
    # shuffled among victims: the same mix, given to other people
    for column in ("sex", "birth_year"):
        moved = (before[column] != after[column]).fillna(True).to_numpy()
        assert moved[victims].mean() > 0.2, column
    assert (
        before.loc[victims, "sex"].value_counts().sort_index()
        - after.loc[victims, "sex"].value_counts().sort_index()
    ).abs().max() < 0.01 * victims.sum()  # a few "unknown" are redrawn per person


def test_without_group_risk_victims_sex_and_age_no_longer_follow_the_relationship() -> None:
    lifelike, null = _worlds()

    def by_relationship(world: World) -> pd.DataFrame:
        victims = _victims(world)
        victims["female"] = victims["sex"] == "female"
        partner = victims["relationship"].isin(["current_partner", "ex_partner"])
        victims["relationship"] = victims["relationship"].astype(str).where(~partner, "partner")
        return victims.groupby("relationship")[["female", "age"]].mean()

    real, shuffled = by_relationship(lifelike), by_relationship(null)
    # in life, victims of a family member are older and more often men
    assert real.loc["family_member", "age"] - real.loc["partner", "age"] > 10
    assert real.loc["partner", "female"] - real.loc["family_member", "female"] > 0.1
    # shuffled, neither says which relationship, hence which risk, a victim is in
    assert abs(shuffled.loc["family_member", "age"] - shuffled.loc["partner", "age"]) < 2.5
    assert abs(shuffled.loc["partner", "female"] - shuffled.loc["family_member", "female"]) < 0.04
