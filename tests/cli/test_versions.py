"""A version can be named by number or by alias (`champion`, `@champion`, `previous`)
on the command line, against a real MLflow SQLite registry; and MLflow's own
download progress bars never reach our output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from registry_support import LENIENT, audit_spec, fresh_registry, register_small
from typer.testing import CliRunner

from triage.cli import app
from triage.registry.tracking import MlflowRegistry

pytestmark = pytest.mark.xdist_group("cli-versions")
runner = CliRunner(env={"COLUMNS": "200"})
NAME = "any_repeat_90d"
REASON = ["--override-reason", "tested on the small world"]
#: what tqdm and MLflow print while fetching artifacts
PROGRESS = ("Downloading artifacts", "it/s", "%|", "\r")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> MlflowRegistry:
    """Two versions, promoted v1 then v2: v2 is @champion and v1 the previous one."""
    registry = fresh_registry(tmp_path_factory, "cli-versions-store")
    folder = tmp_path_factory.mktemp("cli-versions")
    for seed in (0, 1):
        register_small(registry, folder, audit=audit_spec(**LENIENT), seed=seed)
    for version in ("1", "2"):
        code, output = _run("promote", version, *REASON, uri=registry.tracking_uri)
        assert code == 0, output
    return registry


def _run(*args: str, uri: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--model", NAME, "--tracking-uri", uri])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def _champion_and_previous(registry: MlflowRegistry) -> tuple[int, int]:
    champion = registry.champion(NAME)
    assert champion is not None
    return champion.version, registry.version(NAME, "previous").version


@pytest.mark.parametrize("alias", ["champion", "@champion", " @champion "])
def test_promote_resolves_the_champion_alias_like_its_number(
    registry: MlflowRegistry, alias: str
) -> None:
    champion, _ = _champion_and_previous(registry)
    by_number = _run("promote", str(champion), uri=registry.tracking_uri)
    by_alias = _run("promote", alias, uri=registry.tracking_uri)
    assert by_number[0] == by_alias[0] == 1
    refused = f"{NAME} v{champion} is already the champion"
    assert refused in " ".join(by_number[1].split())
    assert refused in " ".join(by_alias[1].split())


def test_promote_previous_brings_back_the_champion_before(registry: MlflowRegistry) -> None:
    champion, previous = _champion_and_previous(registry)
    assert previous != champion
    code, output = _run("promote", "previous", *REASON, uri=registry.tracking_uri)
    assert code == 0, output
    assert f"@champion is now {NAME} v{previous} (was v{champion})" in output
    assert _champion_and_previous(registry) == (previous, champion)


@pytest.mark.parametrize("alias", ["champion", "@champion", "previous"])
def test_evaluate_fetches_the_version_an_alias_names(
    registry: MlflowRegistry, alias: str, tmp_path: Path
) -> None:
    number = registry.version(NAME, alias).version
    code, output = _run("evaluate", alias, "--out", str(tmp_path), uri=registry.tracking_uri)
    assert code == 0, output
    assert f"{NAME}-v{number}" in "".join(output.split())
    assert (tmp_path / f"{NAME}-v{number}" / "reports" / "evaluation.json").exists()


def test_an_alias_that_names_no_version_is_a_clear_error(registry: MlflowRegistry) -> None:
    code, output = _run("promote", "@nosuchalias", uri=registry.tracking_uri)
    assert code == 1
    assert f"{NAME!r} has no version or alias 'nosuchalias'" in output


def test_mlflow_progress_bars_never_reach_the_output(
    registry: MlflowRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tables: dict[str, pd.DataFrame],
    write_extract: Callable[..., Path],
) -> None:
    for name in ("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "TQDM_DISABLE"):
        monkeypatch.setenv(name, "")  # so that the delete below is undone afterwards
        monkeypatch.delenv(name)
    store = f"sqlite:///{tmp_path / 'store.db'}"
    champion = registry.champion(NAME)
    assert champion is not None
    commands = (
        ["evaluate", "1", "--out", str(tmp_path)],
        ["audit", "2", "--out", str(tmp_path)],
        ["ingest", str(write_extract(tables)), "--database-url", store],  # fetches the bundle
    )
    for command in commands:
        code, output = _run(*command, uri=registry.tracking_uri)
        assert code == 0, output
        for text in PROGRESS:
            assert text not in output, (command, text)
    assert f"with {NAME}/{champion.version}" in " ".join(output.split())
