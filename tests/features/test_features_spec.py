"""The feature-set spec and the feature catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from triage.config import AggregateGroup, FeatureSetSpec, load_feature_spec
from triage.exceptions import ConfigError
from triage.features.build import catalogue


def test_default_spec_defines_at_least_sixty_uniquely_named_features() -> None:
    infos = catalogue(load_feature_spec())
    names = [f.name for f in infos]
    assert len(names) >= 60
    assert len(set(names)) == len(names)
    assert {f.entity for f in infos} == {"victim", "perpetrator", "pair", "incident"}
    assert {f.window for f in infos} >= {30, 90, 365, "all", None}


def test_every_feature_reads_as_a_sentence() -> None:
    for info in catalogue(load_feature_spec()):
        text = info.describe(3)
        assert "{" not in text, info.name
        assert info.description, info.name
        assert info.dtype in {"int8", "int32", "float32", "float64", "category"}


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        (
            "perpetrator_count_90d",
            3,
            "3 earlier incidents involving this perpetrator in the last 90 days",
        ),
        ("victim_count_all", 1, "1 earlier incidents involving this victim on record"),
        ("strangulation", 1, "strangulation reported in this incident"),
        ("strangulation", 0, "no strangulation reported in this incident"),
        (
            "pair_dash_last_grade",
            3.0,
            "DASH grade at the last assessed incident between this victim and this "
            "perpetrator: high",
        ),
        (
            "victim_days_since_last",
            12.25,
            "12.2 days since the last earlier incident involving this victim",
        ),
        (
            "victim_days_since_last",
            float("nan"),
            "unknown days since the last earlier incident involving this victim",
        ),
        ("relationship", "ex_partner", "relationship: ex partner"),
        (
            "dash_q18",
            float("nan"),
            "DASH yes: the perpetrator has tried to strangle, choke, suffocate or drown the "
            "victim (not recorded)",
        ),
    ],
)
def test_descriptions_render_values_for_reviewers(name: str, value: object, text: str) -> None:
    (info,) = [f for f in catalogue(load_feature_spec()) if f.name == name]
    assert info.describe(value) == text


@pytest.mark.parametrize(
    ("group", "message"),
    [
        (
            {"entities": ["victim"], "windows": [30], "aggregates": ["count", "days_since_last"]},
            "mixes",
        ),
        ({"entities": ["victim"], "aggregates": ["count"]}, "need `windows`"),
        ({"entities": ["victim"], "windows": [30], "aggregates": ["days_since_last"]}, "take no"),
        ({"entities": ["victim"], "windows": [30], "aggregates": ["distinct_victims"]}, "only to"),
        ({"entities": ["pair"], "aggregates": ["order_active"]}, "only to"),
        ({"entities": ["victim"], "windows": ["all"], "aggregates": ["harm_trend"]}, "finite"),
        ({"entities": ["victim"], "windows": [0], "aggregates": ["count"]}, "greater than 0"),
        ({"entities": ["nobody"], "windows": [30], "aggregates": ["count"]}, "victim"),
    ],
)
def test_nonsense_aggregate_groups_are_refused(group: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AggregateGroup.model_validate(group)


def test_a_feature_defined_twice_is_refused() -> None:
    group = AggregateGroup(entities=("victim",), windows=(30,), aggregates=("count",))
    with pytest.raises(ConfigError, match="victim_count_30d"):
        catalogue(FeatureSetSpec(name="twice", history=(group, group)))


def test_spec_file_errors_name_the_file_and_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nhistroy: []\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*histroy"):
        load_feature_spec(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_feature_spec(tmp_path / "missing.yaml")
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_feature_spec(bad)


def test_fingerprint_changes_with_the_spec() -> None:
    spec = load_feature_spec()
    assert spec.fingerprint() == load_feature_spec().fingerprint()
    assert spec.fingerprint() != spec.model_copy(update={"incident": ("ages",)}).fingerprint()
