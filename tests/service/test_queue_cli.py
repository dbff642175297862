"""`triage queue --queue NAME` from the command line: each team's queue ranked by its
own model, early intervention holding only lower-risk incidents, every line within
80 columns with each reason's direction, and clear refusals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import triage.cli._service as service_cli
from triage.cli import app
from triage.cli._app import console, err_console
from triage.contract.names import Extract
from triage.evaluation.explain import Reason
from triage.service.scoring import Bands, Score, Scorer
from triage.settings import Settings

Tables = dict[str, pd.DataFrame]


class TwoWayScorer:
    """Every incident gets one reason raising its probability and one lowering it."""

    def __init__(self, model_version: str) -> None:
        self.model_version = model_version

    def score(self, incidents: pd.DataFrame, history: Extract) -> list[Score]:
        reasons = (
            Reason("injury", "the victim was injured in this incident", 0.4),
            Reason("pair_count_365d", "no earlier incident of this pair in the last year", -0.2),
        )
        return [
            Score(i, 0.2 + 0.1 * n, Bands().of(0.2 + 0.1 * n), reasons, self.model_version)
            for n, i in enumerate(incidents["incident_id"].astype(str))
        ]


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TRIAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setattr(console, "_width", 80)
    monkeypatch.setattr(err_console, "_width", 80)
    return f"sqlite:///{tmp_path / 'cli.db'}"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.output


def _champions(found: dict[str, Scorer]) -> Callable[[Settings, str], Scorer | None]:
    return lambda _settings, name: found.get(name)


@pytest.fixture
def stored(url: str, tables: Tables, write_extract: Callable[..., Path]) -> str:
    assert _run("ingest", str(write_extract(tables)), "--database-url", url, "--no-score")[0] == 0
    return url


def test_each_queue_is_ranked_by_its_model_and_reads_at_80_columns(
    stored: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scorers = {
        "serious_harm_365d": TwoWayScorer("serious_harm_365d/4"),
        "any_repeat_90d": TwoWayScorer("any_repeat_90d/2"),
    }
    monkeypatch.setattr(service_cli, "_load_scorer", _champions(scorers))  # type: ignore[arg-type]
    day = ("--date", "2024-02-01", "--database-url", stored)
    code, mash, output = _run("queue", *day)
    assert code == 0, output
    code, early, output = _run("queue", *day, "--queue", "early_intervention")
    assert code == 0, output
    assert "mash (MASH daily review)" in mash
    assert "serious_harm_365d/4" in mash
    assert "i3" in mash
    assert "i2" in mash
    assert "early_intervention (Early intervention" in early
    assert "any_repeat_90d/2" in early
    assert "capacity 8" in early
    assert "children" in early  # shown first-class in this queue
    assert "children" not in mash
    assert "i2" in early  # not_completed
    assert "i3" not in early  # graded high: not a lower-risk incident
    assert "- lowers no earlier incident of this pair in the last year" in mash
    for out in (mash, early):
        assert "+ raises the victim was injured in this incident" in out
        assert "- lowers " in out
        assert max(len(line) for line in out.splitlines()) <= 80


def test_a_queue_without_a_champion_or_an_unknown_one_is_refused(
    stored: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_mash = {"serious_harm_365d": TwoWayScorer("serious_harm_365d/4")}
    monkeypatch.setattr(service_cli, "_load_scorer", _champions(only_mash))  # type: ignore[arg-type]
    day = ("--date", "2024-02-01", "--database-url", stored)
    code, _, output = _run("queue", *day, "--queue", "early_intervention")
    assert code == 1
    assert "no @champion of any_repeat_90d" in output
    assert "'early_intervention'" in output
    code, _, output = _run("queue", *day, "--queue", "nonesuch")
    assert code == 1
    assert "no queue 'nonesuch'" in output
    assert _run("queue", *day)[0] == 0
