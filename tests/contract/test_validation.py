"""The data contract: each kind of damage is reported with its table, column and row,
alone (no echo from a second rule), and a valid extract comes back normalised."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import triage.contract.validation
from triage.contract.checks import Problem, Rule
from triage.contract.harm import load_harm_weights
from triage.contract.names import (
    BOOL_FLAGS,
    DASH_GRADES,
    DASH_QUESTIONS,
    INCIDENT_COLUMNS,
    RELATIONSHIPS,
    SEXES,
)
from triage.contract.validation import load_extract, validate_extract, validate_frames
from triage.exceptions import SchemaError

Tables = dict[str, pd.DataFrame]
Key = tuple[str, str | None, int | None, str]


def keys(problems: list[Problem]) -> set[Key]:
    return {(p.table, p.column, p.row, p.rule) for p in problems}


def _set(table: str, row: int, column: str, value: str) -> Callable[[Tables], None]:
    def damage(tables: Tables) -> None:
        tables[table].loc[row, column] = value

    return damage


def _drop_column(table: str, column: str) -> Callable[[Tables], None]:
    def damage(tables: Tables) -> None:
        tables[table] = tables[table].drop(columns=[column])

    return damage


def _rename_person(old: str, new: str) -> Callable[[Tables], None]:
    """Give a person a new id everywhere, so only the id itself is wrong."""

    def damage(tables: Tables) -> None:
        for frame in tables.values():
            for column in ("person_id", "victim_id", "perpetrator_id"):
                if column in frame:
                    frame[column] = frame[column].replace(old, new)

    return damage


def _add_column(tables: Tables) -> None:
    tables["incidents"]["officer_notes"] = "x"


def _repeat_person(tables: Tables) -> None:
    tables["people"] = pd.concat([tables["people"], tables["people"].iloc[[0]]], ignore_index=True)


DAMAGE: dict[str, tuple[Callable[[Tables], None], set[Key]]] = {
    "missing_column": (
        _drop_column("incidents", "victim_id"),
        {("incidents", "victim_id", None, Rule.MISSING_COLUMN)},
    ),
    "unknown_column": (
        _add_column,
        {("incidents", "officer_notes", None, Rule.UNKNOWN_COLUMN)},
    ),
    "text_in_birth_year": (
        _set("people", 1, "birth_year", "nineteen"),
        {("people", "birth_year", 1, Rule.NOT_INTEGER)},
    ),
    "fraction_in_decile": (
        _set("incidents", 0, "deprivation_decile", "3.5"),
        {("incidents", "deprivation_decile", 0, Rule.NOT_INTEGER)},
    ),
    "maybe_in_flag": (
        _set("incidents", 2, "weapon", "maybe"),
        {("incidents", "weapon", 2, Rule.NOT_BOOLEAN)},
    ),
    "maybe_in_dash_question": (
        _set("incidents", 3, "dash_q07", "maybe"),
        {("incidents", "dash_q07", 3, Rule.NOT_BOOLEAN)},
    ),
    "unknown_relationship": (
        _set("incidents", 0, "relationship", "spouse"),
        {("incidents", "relationship", 0, Rule.UNKNOWN_CATEGORY)},
    ),
    "unknown_incident_type": (
        _set("incidents", 1, "incident_type", "burglary"),
        {("incidents", "incident_type", 1, Rule.UNKNOWN_CATEGORY)},
    ),
    "unknown_dash_grade": (
        _set("incidents", 2, "dash_grade", "very high"),
        {("incidents", "dash_grade", 2, Rule.UNKNOWN_CATEGORY)},
    ),
    "unknown_sex": (
        _set("people", 0, "sex", "F"),
        {("people", "sex", 0, Rule.UNKNOWN_CATEGORY)},
    ),
    "unknown_ethnicity": (
        _set("people", 3, "ethnicity", "martian"),
        {("people", "ethnicity", 3, Rule.UNKNOWN_CATEGORY)},
    ),
    "unknown_order_type": (
        _set("orders", 1, "order_type", "asbo"),
        {("orders", "order_type", 1, Rule.UNKNOWN_CATEGORY)},
    ),
    "duplicate_incident_id": (
        _set("incidents", 3, "incident_id", "i1"),
        {
            ("incidents", "incident_id", 1, Rule.DUPLICATE_ID),
            ("incidents", "incident_id", 3, Rule.DUPLICATE_ID),
        },
    ),
    "duplicate_person_id": (
        _repeat_person,
        {
            ("people", "person_id", 0, Rule.DUPLICATE_ID),
            ("people", "person_id", 4, Rule.DUPLICATE_ID),
        },
    ),
    "victim_not_in_people": (
        _set("incidents", 2, "victim_id", "p99"),
        {("incidents", "victim_id", 2, Rule.UNKNOWN_PERSON)},
    ),
    "perpetrator_not_in_people": (
        _set("incidents", 0, "perpetrator_id", "p98"),
        {("incidents", "perpetrator_id", 0, Rule.UNKNOWN_PERSON)},
    ),
    "order_person_not_in_people": (
        _set("orders", 1, "person_id", "p97"),
        {("orders", "person_id", 1, Rule.UNKNOWN_PERSON)},
    ),
    "occurred_after_reported": (
        _set("incidents", 0, "occurred_at", "2024-03-02T00:00:00"),
        {("incidents", "occurred_at", 0, Rule.OCCURRED_AFTER_REPORTED)},
    ),
    "reported_in_future": (
        _set("incidents", 1, "reported_at", "2200-01-01T00:00:00"),
        {("incidents", "reported_at", 1, Rule.REPORTED_IN_FUTURE)},
    ),
    "unparseable_timestamp": (
        _set("incidents", 3, "occurred_at", "31/02/2024"),
        {("incidents", "occurred_at", 3, Rule.UNPARSEABLE_TIMESTAMP)},
    ),
    "missing_reported_at": (
        _set("incidents", 0, "reported_at", ""),
        {("incidents", "reported_at", 0, Rule.MISSING_VALUE)},
    ),
    "blank_incident_id": (
        _set("incidents", 2, "incident_id", "   "),
        {("incidents", "incident_id", 2, Rule.MISSING_VALUE)},
    ),
    "incident_id_with_a_slash": (
        _set("incidents", 2, "incident_id", "i/2"),
        {("incidents", "incident_id", 2, Rule.BAD_ID)},
    ),
    "incident_id_too_long": (
        _set("incidents", 1, "incident_id", "i" * 65),
        {("incidents", "incident_id", 1, Rule.BAD_ID)},
    ),
    "incident_id_with_a_zero_width_space": (
        _set("incidents", 2, "incident_id", "i\u200b2"),
        {("incidents", "incident_id", 2, Rule.BAD_ID)},
    ),
    "person_with_a_bidi_override": (
        _rename_person("p3", "p\u202e3"),
        {("people", "person_id", 2, Rule.BAD_ID), ("incidents", "victim_id", 2, Rule.BAD_ID)},
    ),
    "person_with_a_byte_order_mark": (
        _rename_person("p4", "\ufeffp4"),
        {
            ("people", "person_id", 3, Rule.BAD_ID),
            ("incidents", "perpetrator_id", 3, Rule.BAD_ID),
            ("orders", "person_id", 1, Rule.BAD_ID),
        },
    ),
    "person_with_isolates_and_a_joiner": (
        _rename_person("p3", "p\u2066\u200d3\u2069"),
        {("people", "person_id", 2, Rule.BAD_ID), ("incidents", "victim_id", 2, Rule.BAD_ID)},
    ),
    "incident_id_a_dot": (
        _set("incidents", 1, "incident_id", "."),
        {("incidents", "incident_id", 1, Rule.BAD_ID)},
    ),
    "incident_id_two_dots": (
        _set("incidents", 3, "incident_id", ".."),
        {("incidents", "incident_id", 3, Rule.BAD_ID)},
    ),
    "person_two_dots": (
        _rename_person("p3", ".."),
        {("people", "person_id", 2, Rule.BAD_ID), ("incidents", "victim_id", 2, Rule.BAD_ID)},
    ),
    "missing_victim_id": (
        _set("incidents", 1, "victim_id", ""),
        {("incidents", "victim_id", 1, Rule.MISSING_VALUE)},
    ),
    "missing_flag": (
        _set("incidents", 1, "injury", ""),
        {("incidents", "injury", 1, Rule.MISSING_VALUE)},
    ),
    "missing_category": (
        _set("people", 2, "sex", ""),
        {("people", "sex", 2, Rule.MISSING_VALUE)},
    ),
    "decile_out_of_range": (
        _set("incidents", 1, "deprivation_decile", "11"),
        {("incidents", "deprivation_decile", 1, Rule.DECILE_OUT_OF_RANGE)},
    ),
    "implausible_birth_year": (
        _set("people", 0, "birth_year", "1850"),
        {("people", "birth_year", 0, Rule.IMPLAUSIBLE_BIRTH_YEAR)},
    ),
    "order_ends_before_start": (
        _set("orders", 0, "end_at", "2024-01-01"),
        {("orders", "end_at", 0, Rule.END_BEFORE_START)},
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_each_damage_is_reported_once_with_table_column_and_row(
    damage: str, tables: Tables, write_extract: Callable[..., Path]
) -> None:
    apply, expected = DAMAGE[damage]
    apply(tables)
    report = validate_extract(write_extract(tables))
    assert keys(report.problems) == expected
    assert len(report.problems) == len(expected)
    assert report.extract is None
    assert not report.ok


def test_offending_value_is_reported(tables: Tables, write_extract: Callable[..., Path]) -> None:
    tables["incidents"].loc[2, "weapon"] = "maybe"
    (problem,) = validate_extract(write_extract(tables)).problems
    assert problem == Problem("incidents", "weapon", 2, "maybe", Rule.NOT_BOOLEAN)


def test_missing_required_file_is_reported(
    tables: Tables, write_extract: Callable[..., Path]
) -> None:
    folder = write_extract(tables)
    (folder / "people.csv").unlink()
    (problem,) = validate_extract(folder).problems
    assert (problem.table, problem.row, problem.rule) == ("people", None, Rule.MISSING_FILE)


def test_empty_file_is_reported(tables: Tables, write_extract: Callable[..., Path]) -> None:
    folder = write_extract(tables)
    (folder / "people.csv").write_text("")
    (folder / "incidents.csv").write_text(",".join(INCIDENT_COLUMNS) + "\n")
    assert keys(validate_extract(folder).problems) == {
        ("incidents", None, None, Rule.EMPTY_FILE),
        ("people", None, None, Rule.EMPTY_FILE),
    }


def test_invalid_utf8_names_file_and_row(
    tables: Tables, write_extract: Callable[..., Path]
) -> None:
    folder = write_extract(tables)
    people = (folder / "people.csv").read_text().replace("p3,", "Zo\u00eb,")
    (folder / "people.csv").write_bytes(people.encode("latin-1"))
    (problem,) = validate_extract(folder).problems
    assert (problem.table, problem.row, problem.rule) == ("people", 2, Rule.NOT_UTF8)
    assert problem.value is not None
    assert "people.csv line 4" in problem.value


def test_csv_and_parquet_for_one_table_is_ambiguous(
    tables: Tables, write_extract: Callable[..., Path]
) -> None:
    folder = write_extract(tables)
    tables["people"].to_parquet(folder / "people.parquet")
    (problem,) = validate_extract(folder).problems
    assert (problem.table, problem.column, problem.rule) == ("people", None, Rule.AMBIGUOUS_FILE)


def test_corrupt_parquet_is_reported_not_raised(
    tables: Tables, write_extract: Callable[..., Path]
) -> None:
    folder = write_extract({k: v for k, v in tables.items() if k != "orders"})
    (folder / "orders.parquet").write_bytes(b"not parquet at all")
    (problem,) = validate_extract(folder).problems
    assert (problem.table, problem.rule) == ("orders", Rule.UNREADABLE)


def test_ragged_csv_row_is_reported(tables: Tables, write_extract: Callable[..., Path]) -> None:
    folder = write_extract(tables)
    with (folder / "people.csv").open("a") as handle:
        handle.write("p5,female,1990,white,extra,cells\n")
    (problem,) = validate_extract(folder).problems
    assert (problem.table, problem.row, problem.rule) == ("people", 4, Rule.UNREADABLE)


def test_path_that_is_not_a_folder_is_reported(tmp_path: Path) -> None:
    (problem,) = validate_extract(tmp_path / "nowhere").problems
    assert problem.rule == Rule.NOT_A_FOLDER


def test_every_problem_is_reported_in_one_run(
    tables: Tables, write_extract: Callable[..., Path]
) -> None:
    expected: set[Key] = set()
    for name in ("maybe_in_flag", "unknown_sex", "order_ends_before_start", "victim_not_in_people"):
        apply, wanted = DAMAGE[name]
        apply(tables)
        expected |= wanted
    report = validate_extract(write_extract(tables))
    assert keys(report.problems) == expected
    assert report.problems == sorted(report.problems, key=Problem.sort_key)


def test_valid_extract_is_normalised(tables: Tables, write_extract: Callable[..., Path]) -> None:
    report = validate_extract(write_extract(tables))
    assert report.ok
    assert report.row_counts == {"incidents": 4, "people": 4, "orders": 2}
    assert report.reported_from == pd.Timestamp("2024-01-05 10:00", tz="UTC")
    assert report.reported_to == pd.Timestamp("2024-03-01 09:00", tz="UTC")
    extract = report.extract
    assert extract is not None
    incidents = extract.incidents
    assert tuple(incidents.columns) == INCIDENT_COLUMNS
    assert isinstance(incidents.index, pd.RangeIndex)
    # i2 at 08:30+01:00 and i3 at 07:30Z tie on reported_at: incident_id breaks the tie
    assert list(incidents["incident_id"]) == ["i1", "i2", "i3", "i4"]
    assert incidents["incident_id"].dtype == "string"
    assert incidents["reported_at"].dtype == pd.DatetimeTZDtype("ns", "UTC")
    assert incidents["reported_at"][1] == pd.Timestamp("2024-02-01 07:30", tz="UTC")
    assert incidents["perpetrator_id"].isna().tolist() == [False, True, False, False]
    assert list(incidents["relationship"].cat.categories) == list(RELATIONSHIPS)
    assert list(incidents["incident_type"].cat.categories) == load_harm_weights().names
    assert list(incidents["dash_grade"].cat.categories) == list(DASH_GRADES)
    assert all(incidents[f].dtype == bool for f in BOOL_FLAGS)
    assert incidents["injury"].tolist() == [True, False, True, False]
    assert all(incidents[q].dtype == "boolean" for q in DASH_QUESTIONS)
    assert incidents["dash_q01"].isna().tolist() == [True, False, False, False]
    assert incidents["deprivation_decile"].dtype == "Int64"
    assert list(extract.people["sex"].cat.categories) == list(SEXES)
    assert extract.people["birth_year"].dtype == "Int64"
    assert extract.orders is not None
    assert extract.orders["end_at"].isna().tolist() == [False, True]
    triage.contract.validation.incidents_schema().validate(incidents)
    triage.contract.validation.people_schema().validate(extract.people)
    triage.contract.validation.orders_schema().validate(extract.orders)


def test_parquet_round_trips_to_the_same_extract(
    tables: Tables, write_extract: Callable[..., Path], tmp_path: Path
) -> None:
    from_csv = load_extract(write_extract(tables))
    folder = tmp_path / "typed"
    folder.mkdir()
    from_csv.incidents.to_parquet(folder / "incidents.parquet")
    from_csv.people.to_parquet(folder / "people.parquet")
    pd.DataFrame({"secret": [1]}).to_parquet(folder / "truth.parquet")
    from_parquet = load_extract(folder)
    pd.testing.assert_frame_equal(from_parquet.incidents, from_csv.incidents)
    pd.testing.assert_frame_equal(from_parquet.people, from_csv.people)
    assert from_parquet.orders is None


def test_parquet_text_columns_load(tables: Tables, write_extract: Callable[..., Path]) -> None:
    assert validate_extract(write_extract(tables, fmt="parquet")).ok


def test_parquet_integers_are_not_booleans(
    tables: Tables, write_extract: Callable[..., Path]
) -> None:
    tables["incidents"]["injury"] = [0, 1, 0, 2]
    problems = validate_extract(write_extract(tables, fmt="parquet")).problems
    assert keys(problems) == {("incidents", "injury", r, Rule.NOT_BOOLEAN) for r in range(4)}


def test_load_extract_raises_with_every_problem(
    tables: Tables, write_extract: Callable[..., Path]
) -> None:
    tables["people"].loc[0, "sex"] = "F"
    tables["people"].loc[1, "birth_year"] = "1850"
    with pytest.raises(SchemaError) as caught:
        load_extract(write_extract(tables))
    assert keys(caught.value.problems) == {
        ("people", "sex", 0, Rule.UNKNOWN_CATEGORY),
        ("people", "birth_year", 1, Rule.IMPLAUSIBLE_BIRTH_YEAR),
    }


def test_in_memory_batch_validates_like_a_folder() -> None:
    incidents = pd.DataFrame(
        [
            {
                "incident_id": "b1",
                "reported_at": "2024-05-01T10:00:00Z",
                "occurred_at": None,
                "victim_id": "v1",
                "perpetrator_id": None,
                "relationship": "ex_partner",
                "incident_type": "harassment",
                **dict.fromkeys(BOOL_FLAGS, False),
                "dash_grade": "high",
                **dict.fromkeys(DASH_QUESTIONS, None),
                "deprivation_decile": 4,
            }
        ]
    )
    people = pd.DataFrame(
        [{"person_id": "v1", "sex": "female", "birth_year": 1990, "ethnicity": "white"}]
    )
    report = validate_frames(incidents, people)
    assert report.ok, report.problems
    assert report.extract is not None
    assert report.extract.incidents["dash_q01"].dtype == "boolean"
    incidents.loc[0, "victim_id"] = "nobody"
    assert keys(validate_frames(incidents, people).problems) == {
        ("incidents", "victim_id", 0, Rule.UNKNOWN_PERSON)
    }


def test_public_names_are_exactly_all() -> None:
    assert set(triage.contract.validation.__all__) == {
        "ValidationReport",
        "incidents_schema",
        "load_extract",
        "orders_schema",
        "people_schema",
        "validate_extract",
        "validate_frames",
    }


def test_an_invisible_character_in_an_id_is_shown_escaped(
    tables: Tables, write_extract: Callable[..., Path]
) -> None:
    tables["incidents"].loc[2, "incident_id"] = "i\u200b2"
    (problem,) = validate_extract(write_extract(tables)).problems
    assert problem == Problem("incidents", "incident_id", 2, "i\\u200b2", Rule.BAD_ID)


def test_a_frame_batch_refuses_the_same_ids_with_rows(tables: Tables) -> None:
    incidents = tables["incidents"].copy()
    incidents.loc[1, "incident_id"] = "."
    incidents.loc[3, "incident_id"] = "i\u20603"
    report = validate_frames(incidents, tables["people"], tables["orders"])
    assert keys(report.problems) == {
        ("incidents", "incident_id", 1, Rule.BAD_ID),
        ("incidents", "incident_id", 3, Rule.BAD_ID),
    }


def test_the_invisible_class_covers_every_control_and_format_character() -> None:
    import re
    import unicodedata

    from triage.contract.text import INVISIBLE, has_visible_text

    invisible = re.compile(f"[{INVISIBLE}]")
    missed = [
        hex(c)
        for c in range(0x110000)
        if unicodedata.category(chr(c)) in ("Cc", "Cf") and not invisible.match(chr(c))
    ]
    assert missed == []
    assert not has_visible_text(" \u200b\u200c\u200d\u2060\ufeff\u202a\u202e\u2066\u2069\t ")
    assert has_visible_text("\u200b a reason \u200b")
