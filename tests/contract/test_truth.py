"""The truth table's contract: found beside the extract as Parquet or CSV, checked
before any work, every problem named with its column and row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from triage.cli import app
from triage.contract.checks import Rule
from triage.contract.truth import check_truth_covers, find_truth, read_truth, truth_column
from triage.exceptions import SchemaError

LABEL = "serious_harm_365d"
runner = CliRunner(env={"COLUMNS": "200"})


def _truth(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "incident_id": [f"i{k}" for k in range(n)],
            truth_column(LABEL): [0.1, 0.5, 0.0, 1.0][:n],
            truth_column("any_repeat_90d"): [0.2, 0.3, 0.4, 0.9][:n],
        }
    )


def _problems(
    folder: Path, labels: list[str] | None = None
) -> list[tuple[str | None, int | None, str]]:
    with pytest.raises(SchemaError) as caught:
        read_truth(folder, labels or [LABEL])
    return [(p.column, p.row, p.rule) for p in caught.value.problems]


def test_a_folder_without_truth_has_none(tmp_path: Path) -> None:
    assert find_truth(tmp_path) is None
    assert read_truth(tmp_path, [LABEL]) is None


def test_csv_truth_reads_as_the_parquet_one(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "c").mkdir()
    _truth().to_parquet(tmp_path / "p" / "truth.parquet", index=False)
    _truth().to_csv(tmp_path / "c" / "truth.csv", index=False)
    from_parquet = read_truth(tmp_path / "p", [LABEL, "any_repeat_90d"])
    from_csv = read_truth(tmp_path / "c", [LABEL, "any_repeat_90d"])
    assert from_parquet is not None
    assert from_csv is not None
    pd.testing.assert_frame_equal(from_parquet, from_csv)
    assert list(from_csv.columns) == ["incident_id", "p_serious_harm_365d", "p_any_repeat_90d"]


def test_both_files_at_once_are_refused(tmp_path: Path) -> None:
    _truth().to_parquet(tmp_path / "truth.parquet", index=False)
    _truth().to_csv(tmp_path / "truth.csv", index=False)
    assert _problems(tmp_path) == [(None, None, Rule.AMBIGUOUS_FILE)]


def test_a_missing_label_column_is_named(tmp_path: Path) -> None:
    _truth().drop(columns=[truth_column(LABEL)]).to_csv(tmp_path / "truth.csv", index=False)
    assert _problems(tmp_path) == [("p_serious_harm_365d", None, Rule.MISSING_COLUMN)]


def test_values_that_are_not_probabilities_are_named_by_row(tmp_path: Path) -> None:
    frame = _truth().astype({truth_column(LABEL): object})
    frame.loc[1, truth_column(LABEL)] = "high"
    frame.loc[3, truth_column(LABEL)] = 1.5
    frame.loc[2, "incident_id"] = "i0"
    frame.to_csv(tmp_path / "truth.csv", index=False)
    assert _problems(tmp_path) == [
        ("incident_id", 2, Rule.DUPLICATE_ID),
        ("p_serious_harm_365d", 1, Rule.NOT_A_PROBABILITY),
        ("p_serious_harm_365d", 3, Rule.NOT_A_PROBABILITY),
    ]


def test_a_truth_that_does_not_match_the_extract_is_refused() -> None:
    truth = _truth()
    truth["incident_id"] = truth["incident_id"].astype("string")
    extract_ids = pd.Series(["i0", "i1", "i2", "other"], dtype="string")
    with pytest.raises(SchemaError) as caught:
        check_truth_covers(truth, extract_ids)
    found = [(p.row, p.value, p.rule) for p in caught.value.problems]
    assert found == [
        (3, "i3", Rule.UNKNOWN_INCIDENT),
        (None, "1 incident(s), e.g. other", Rule.INCIDENT_LEFT_OUT),
    ]
    check_truth_covers(truth, truth["incident_id"])  # the same ids: nothing to say


def test_train_refuses_a_broken_truth_before_any_work(tmp_path: Path) -> None:
    folder = tmp_path / "world"
    made = runner.invoke(
        app, ["synth", "--out", str(folder), "--years", "1", "--incidents-per-year", "300"]
    )
    assert made.exit_code == 0, made.output
    truth = pd.read_parquet(folder / "truth.parquet")
    truth.loc[0, truth_column(LABEL)] = 2.0
    truth.to_parquet(folder / "truth.parquet", index=False)
    reports = tmp_path / "reports"
    result = runner.invoke(
        app,
        ["train", str(folder), "--no-register", "--reports", str(reports)],
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "p_serious_harm_365d" in result.output
    assert Rule.NOT_A_PROBABILITY in result.output
    assert not reports.exists()  # refused before any work
