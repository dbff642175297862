"""Stored rows read back as an extract: built straight in the contract's dtypes, they
equal what validating them again would give (so skipping that check changes nothing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from synth_support import small_world

from triage.contract.validation import validate_frames
from triage.service._frames import COLUMNS, extract_from_records, records_of


def _validated(
    incidents: Sequence[Mapping[str, Any]],
    people: Sequence[Mapping[str, Any]],
    orders: Sequence[Mapping[str, Any]],
) -> Any:
    def frame(table: str, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        columns = COLUMNS[table]
        data = {c: pd.Series([r[c] for r in rows], dtype=object) for c in columns}
        return pd.DataFrame(data, columns=list(columns))

    inc, ords = frame("incidents", incidents), frame("orders", orders)
    for column in ("reported_at", "occurred_at"):
        inc[column] = pd.to_datetime(inc[column], utc=True)
    for column in ("start_at", "end_at"):
        ords[column] = pd.to_datetime(ords[column], utc=True)
    report = validate_frames(inc, frame("people", people), ords)
    assert report.extract is not None
    return report.extract


def test_stored_rows_read_back_as_the_validated_extract() -> None:
    extract = small_world().extract
    assert extract.orders is not None
    incidents = records_of("incidents", extract.incidents)[::-1]  # any stored order
    people = records_of("people", extract.people)
    orders = records_of("orders", extract.orders)
    got = extract_from_records(incidents, people, orders)
    expected = _validated(incidents, people, orders)
    pd.testing.assert_frame_equal(got.incidents, expected.incidents)
    pd.testing.assert_frame_equal(got.people, expected.people)
    assert got.orders is not None
    pd.testing.assert_frame_equal(got.orders, expected.orders)


def test_no_orders_in_the_store_reads_as_no_orders_table() -> None:
    extract = small_world().extract
    incidents = records_of("incidents", extract.incidents.iloc[:5])
    people = records_of("people", extract.people)
    assert extract_from_records(incidents, people, None).orders is None
