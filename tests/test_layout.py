"""The package's layout rules (docs/architecture.md §2), checked on the source so a
change that breaks one fails here, not in a review:

- the root holds at most eight modules, and no module is much over 400 lines;
- every exception class is defined in ``triage/exceptions.py``;
- data flows one way: a stage imports only itself, the stages before it and the
  shared root modules;
- no module imports a private name (``_x``) or a private module from another package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "triage"
ROOT_MODULES = {"__init__", "exceptions", "config", "settings", "paths", "pipeline"}
SHARED = {"triage", "triage.exceptions", "triage.config", "triage.settings", "triage.paths"}
#: a stage may import a stage of the same or a lower rank, never a higher one
RANK = {
    "contract": 0,
    "features": 1,
    "models": 2,
    "synth": 2,
    "evaluation": 3,
    "registry": 4,
    "pipeline": 5,
    "service": 5,
    "cli": 6,
}
MAX_LINES = 400


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path))
    return found


def _stage(module: str) -> str | None:
    parts = module.split(".")
    if module in SHARED or len(parts) < 2:
        return None
    return parts[1]


def _runtime_imports(tree: ast.Module) -> list[ast.ImportFrom | ast.Import]:
    """Imports that run: those under ``if TYPE_CHECKING:`` are only for the checker."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom) and id(n) not in skipped
    ]


def _imported(node: ast.ImportFrom | ast.Import) -> list[tuple[str, str | None]]:
    """(module, name) pairs of the ``triage`` imports in ``node``."""
    if isinstance(node, ast.Import):
        return [(a.name, None) for a in node.names if a.name.split(".")[0] == "triage"]
    if node.module is None or node.module.split(".")[0] != "triage" or node.level:
        return []
    return [(node.module, a.name) for a in node.names]


def test_the_root_holds_only_shared_modules_and_the_pipeline() -> None:
    root = {p.stem for p in PACKAGE.glob("*.py")}
    assert root == ROOT_MODULES
    assert len(root) <= 8


@pytest.mark.parametrize(("name", "path"), _modules(), ids=lambda v: str(v))
def test_no_module_is_far_over_four_hundred_lines(name: str, path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


def test_every_exception_is_defined_in_the_exceptions_module() -> None:
    elsewhere = []
    for name, path in _modules():
        if name == "triage.exceptions":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b) for b in node.bases}
                if any(b.endswith(("Exception", "Error")) or b in _EXCEPTIONS for b in bases):
                    elsewhere.append(f"{name}.{node.name}")
    assert elsewhere == []


_EXCEPTIONS = {
    node.name
    for node in ast.walk(ast.parse((PACKAGE / "exceptions.py").read_text(encoding="utf-8")))
    if isinstance(node, ast.ClassDef)
}


def test_data_flows_one_way_between_stages() -> None:
    backwards = []
    for name, path in _modules():
        stage = "pipeline" if name == "triage.pipeline" else _stage(name)
        if stage is None:
            # a shared root module imports no stage at run time
            for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
                backwards += [
                    f"{name} -> {mod}" for mod, _ in _imported(node) if _stage(mod) is not None
                ]
            continue
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            for mod, _ in _imported(node):
                target = "pipeline" if mod == "triage.pipeline" else _stage(mod)
                if target is not None and RANK[target] > RANK[stage]:
                    backwards.append(f"{name} -> {mod}")
    assert backwards == []


def test_no_private_name_crosses_a_package_boundary() -> None:
    crossing = []
    for name, path in _modules():
        here = _stage(name) or name
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            for mod, imported in _imported(node):
                if (_stage(mod) or mod) == here or imported == "__version__":
                    continue
                private_module = any(p.startswith("_") for p in mod.split(".")[1:])
                private_name = imported is not None and imported.startswith("_")
                if private_module or private_name:
                    crossing.append(f"{name}: from {mod} import {imported}")
    assert crossing == []
