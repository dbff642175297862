"""Column mappings: a force's names and codes land on the contract, and a bad mapping
file is a clear ``ConfigError``."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from triage.contract import mapping as _mapping
from triage.contract.checks import Rule
from triage.contract.mapping import ColumnMapping, read_mapping
from triage.contract.validation import load_extract, validate_extract
from triage.exceptions import ConfigError

Tables = dict[str, pd.DataFrame]

FORCE_MAPPING = """
values:
  gender: {"F": female, "M": male, "U": unknown}
tables:
  incidents:
    columns: {OCC_REF: incident_id, REL: relationship, INJ: injury}
    values:
      REL: {"PARTNER": current_partner, "EX": ex_partner, "FAM": family_member}
      injury: {"Y": true, "N": false}
  people:
    columns: {NOMINAL: person_id, gender: sex}
  orders:
    columns: {NOMINAL: person_id}
"""


def _as_force_export(tables: Tables) -> Tables:
    incidents = tables["incidents"].rename(
        columns={"incident_id": "OCC_REF", "relationship": "REL", "injury": "INJ"}
    )
    incidents["REL"] = incidents["REL"].replace(
        {"current_partner": "PARTNER", "ex_partner": "EX", "family_member": "FAM"}
    )
    incidents["INJ"] = ["N", "Y", "N", "Y"]
    people = tables["people"].rename(columns={"person_id": "NOMINAL", "sex": "gender"})
    people["gender"] = people["gender"].replace({"female": "F", "male": "M", "unknown": "U"})
    orders = tables["orders"].rename(columns={"person_id": "NOMINAL"})
    return {"incidents": incidents, "people": people, "orders": orders}


def _write_mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    return path


def test_mapping_renames_and_recodes_onto_the_contract(
    tables: Tables, write_extract: Callable[..., Path], tmp_path: Path
) -> None:
    expected = load_extract(write_extract(tables))
    force = tmp_path / "force"
    force.mkdir()
    for name, frame in _as_force_export(tables).items():
        frame.to_csv(force / f"{name}.csv", index=False)
    assert not validate_extract(force).ok
    mapped = load_extract(force, mapping=_write_mapping(tmp_path, FORCE_MAPPING))
    pd.testing.assert_frame_equal(mapped.incidents, expected.incidents)
    pd.testing.assert_frame_equal(mapped.people, expected.people)
    assert mapped.orders is not None
    assert expected.orders is not None
    pd.testing.assert_frame_equal(mapped.orders, expected.orders)


def test_unmapped_codes_are_still_reported(
    tables: Tables, write_extract: Callable[..., Path], tmp_path: Path
) -> None:
    tables["people"].loc[1, "sex"] = "X"
    mapping = ColumnMapping.model_validate({"values": {"sex": {"F": "female"}}})
    (problem,) = validate_extract(write_extract(tables), mapping=mapping).problems
    assert (problem.table, problem.column, problem.row, problem.value) == ("people", "sex", 1, "X")


def test_per_table_codes_win_over_shared_ones() -> None:
    mapping = ColumnMapping.model_validate(
        {
            "values": {"sex": {"F": "female", "M": "male"}},
            "tables": {"people": {"values": {"sex": {"M": "unknown"}}}},
        }
    )
    assert mapping.recodes_for("people") == {"sex": {"F": "female", "M": "unknown"}}


def test_naive_timestamps_are_read_in_the_mapping_timezone(
    tables: Tables, write_extract: Callable[..., Path]
) -> None:
    mapping = ColumnMapping(naive_timezone="Europe/London")
    tables["incidents"].loc[1, "reported_at"] = "2024-07-01 10:00"  # BST: 09:00 UTC
    extract = load_extract(write_extract(tables), mapping=mapping)
    reported = extract.incidents.set_index("incident_id")["reported_at"]
    assert reported["i1"] == pd.Timestamp("2024-07-01 09:00", tz="UTC")
    assert reported["i3"] == pd.Timestamp("2024-02-01 07:30", tz="UTC")  # had an offset


def test_local_time_skipped_by_the_clocks_is_reported(
    tables: Tables, write_extract: Callable[..., Path]
) -> None:
    tables["incidents"].loc[0, "occurred_at"] = "2024-03-31 01:30"
    tables["incidents"].loc[0, "reported_at"] = "2024-04-01 09:00"
    mapping = ColumnMapping(naive_timezone="Europe/London")
    (problem,) = validate_extract(write_extract(tables), mapping=mapping).problems
    assert (problem.column, problem.row, problem.rule) == (
        "occurred_at",
        0,
        Rule.INVALID_LOCAL_TIME,
    )


def test_timestamp_format_and_missing_codes(
    tables: Tables, write_extract: Callable[..., Path]
) -> None:
    tables["orders"]["start_at"] = ["06/01/2024 00:00", "02/02/2024 12:00"]
    tables["orders"]["end_at"] = ["03/02/2024 00:00", "N/K"]
    tables["incidents"]["reported_at"] = [
        "01/03/2024 09:00",
        "05/01/2024 10:00",
        "01/02/2024 07:30",
        "01/02/2024 07:30",
    ]
    tables["incidents"]["occurred_at"] = "NULL"
    mapping = ColumnMapping(timestamp_format="%d/%m/%Y %H:%M", missing_values=["NULL", "N/K"])
    extract = load_extract(write_extract(tables), mapping=mapping)
    assert extract.orders is not None
    assert extract.orders["start_at"][1] == pd.Timestamp("2024-02-02 12:00", tz="UTC")
    assert extract.orders["end_at"].isna().tolist() == [False, True]
    assert extract.incidents["occurred_at"].isna().all()


def test_example_mapping_file_is_valid() -> None:
    mapping = read_mapping(Path(__file__).parents[2] / "examples" / "mapping.example.yaml")
    assert mapping.renames_for("people")["gender"] == "sex"
    assert mapping.recodes_for("people")["sex"]["F"] == "female"


BAD_MAPPINGS = {
    "unknown_key": ("colums: {A: incident_id}\n", "Extra inputs are not permitted"),
    "target_not_in_contract": (
        "columns: {A: victim}\n",
        _mapping.MESSAGE_NOT_CONTRACT_COLUMN.format(target="victim", where=""),
    ),
    "target_in_wrong_table": (
        "tables: {people: {columns: {A: incident_id}}}\n",
        _mapping.MESSAGE_NOT_CONTRACT_COLUMN.format(target="incident_id", where=" (tables.people)"),
    ),
    "two_sources_one_target": (
        "columns: {A: sex, B: sex}\n",
        _mapping.MESSAGE_TWO_SOURCES.format(first="A", second="B", target="sex", where=""),
    ),
    "recode_for_unknown_column": (
        "values: {gender: {F: female}}\n",
        _mapping.MESSAGE_UNKNOWN_RECODE.format(key="gender", where=""),
    ),
    "yaml_boolean_key": (
        "values: {injury: {yes: true}}\n",
        _mapping.MESSAGE_YAML_BOOL_KEY.format(key=True, column="injury"),
    ),
    "unknown_zone": (
        "naive_timezone: Mars/Olympus\n",
        _mapping.MESSAGE_UNKNOWN_ZONE.format(zone="Mars/Olympus"),
    ),
    "unknown_table": ("tables: {victims: {}}\n", "tables.victims"),
    "not_yaml": ("columns: [unclosed\n", "not valid YAML"),
}


@pytest.mark.parametrize("case", list(BAD_MAPPINGS), ids=list(BAD_MAPPINGS))
def test_bad_mapping_file_is_a_config_error(case: str, tmp_path: Path) -> None:
    text, message = BAD_MAPPINGS[case]
    with pytest.raises(ConfigError, match=re.escape(message)):
        read_mapping(_write_mapping(tmp_path, text))


def test_missing_mapping_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read mapping file"):
        read_mapping(tmp_path / "absent.yaml")
