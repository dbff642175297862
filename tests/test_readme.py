"""The README's first-hour instructions agree with what the repository does."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_system_packages_named_are_the_ones_ci_installs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    installed = set(re.search(r"apt-get install[^\n]*", ci).group(0).split())  # type: ignore[union-attr]
    for package in ("postgresql", "chromium", "chromium-driver"):
        assert package in installed
        assert f"`{package}`" in README


def test_the_readme_says_how_to_run_triage_after_make_demo() -> None:
    assert ".venv/bin/triage" in README
    assert ".tools/bin/uv run --frozen triage" in README
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "UV := $(TOOLS)/bin/uv" in makefile and "TOOLS := .tools" in makefile  # noqa: PT018
    assert 'triage = "triage.cli:main"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_the_notebooks_command_runs_from_the_locked_environment() -> None:
    text = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    command = next(line for line in text.splitlines() if "jupyter lab" in line)
    assert command.strip().startswith(".tools/bin/uv run --frozen --with jupyterlab ")
