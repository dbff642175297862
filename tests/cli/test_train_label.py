"""`triage train --label` trains the model of any label the spec defines and registers
it under that label's name, with its own card and its own champion; an unknown label
is refused before any work. Through the real command line and a real MLflow store."""

from __future__ import annotations

import difflib
from pathlib import Path

import pandas as pd
import pytest
import yaml
from synth_support import small_spec, small_world
from typer.testing import CliRunner

from triage.cli import app
from triage.config import DEFAULT_MODEL_SPEC, ModelSpec
from triage.models.bundle import ModelBundle
from triage.paths import spec_path
from triage.pipeline import for_label, prepare, spec_for_label
from triage.registry.gates import MODEL_AUC
from triage.registry.tracking import MlflowRegistry
from triage.synth import write_world

pytestmark = pytest.mark.xdist_group("cli-train-label")  # one module-scoped registry
runner = CliRunner(env={"COLUMNS": "200"})
DEFAULT = "serious_harm_365d"
OTHER = "any_repeat_90d"
REASON = ["--override-reason", "tested on the small world"]


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, " ".join(result.output.split())  # wrapped lines joined


def _small_spec_file(folder: Path) -> Path:
    """The small world's spec, predicting serious harm by default (as the shipped one)."""
    data = small_spec().model_dump(mode="json")
    data["label"] = DEFAULT
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_an_unknown_label_is_refused_naming_the_known_ones_before_any_work(
    tmp_path: Path,
) -> None:
    db, reports = tmp_path / "models" / "mlflow.db", tmp_path / "reports"
    extract = tmp_path / "extract"
    extract.mkdir()  # empty: reading it would be a different error
    code, output = _run(
        "train",
        str(extract),
        "--label",
        "serious_harm_30d",
        "--tracking-uri",
        f"sqlite:///{db}",
        "--reports",
        str(reports),
    )
    assert code == 1
    assert "unknown label 'serious_harm_30d'" in output
    assert "the model spec defines serious_harm_365d, any_repeat_90d" in output
    assert not db.parent.exists()
    assert not reports.exists()


def test_the_truth_is_checked_for_the_chosen_label(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    truth = pd.DataFrame({"incident_id": ["i1", "i2"], f"p_{DEFAULT}": [0.1, 0.2]})
    truth.to_csv(tmp_path / "truth.csv", index=False)
    code, output = _run(
        "train", str(tmp_path), "--label", OTHER, "--tracking-uri", f"sqlite:///{db}"
    )
    assert code == 1
    assert f"p_{OTHER}" in output
    assert not db.exists()


def test_the_spec_for_another_label_keeps_the_text_but_its_label_line() -> None:
    original = spec_path(DEFAULT_MODEL_SPEC).read_text()
    same, text = spec_for_label(DEFAULT_MODEL_SPEC, None)
    assert (same.label, text) == (DEFAULT, original)
    spec, text = spec_for_label(DEFAULT_MODEL_SPEC, OTHER)
    assert spec.label == OTHER
    assert spec.target.window_days == 90
    assert ModelSpec.model_validate(yaml.safe_load(text)) == spec  # the bundle re-checks this
    changed = [
        line for line in difflib.ndiff(original.splitlines(), text.splitlines()) if line[:1] in "+-"
    ]
    assert changed == [f"- label: {DEFAULT}", f"+ label: {OTHER}"]


def test_a_spec_in_flow_style_falls_back_to_its_canonical_text() -> None:
    data = small_spec().model_dump(mode="json")
    text = yaml.safe_dump(data, default_flow_style=True)  # no `label:` line to edit
    spec = ModelSpec.model_validate(data)
    chosen, out = spec_for_label((spec, text), DEFAULT)
    assert chosen.label == DEFAULT
    assert ModelSpec.model_validate(yaml.safe_load(out)) == chosen


def test_for_label_reuses_the_labels_and_features_and_makes_new_splits() -> None:
    prepared = prepare(small_world().extract, small_spec())
    assert prepared.plan.label == OTHER
    other = for_label(prepared, DEFAULT)
    assert other.labels is prepared.labels
    assert other.matrix is prepared.matrix
    assert (other.plan.label, other.plan.window_days) == (DEFAULT, 365)
    assert other.model_spec.target.name == DEFAULT
    assert ModelSpec.model_validate(yaml.safe_load(other.model_text)) == other.model_spec
    newest_training_row = max(max(s.train) for s in other.plan.splits)
    assert newest_training_row < max(max(s.train) for s in prepared.plan.splits)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, str]:
    """The small world trained twice from one spec: its default label, then
    ``--label any_repeat_90d``; the root, the registry and each run's output."""
    root = tmp_path_factory.mktemp("train-label")
    extract = root / "extract"
    write_world(small_world(), extract)
    spec = _small_spec_file(root)
    uri = f"sqlite:///{root / 'models' / 'mlflow.db'}"
    outputs = []
    for label in (DEFAULT, OTHER):
        code, output = _run(
            "train",
            str(extract),
            "--spec",
            str(spec),
            *(["--label", label] if label != DEFAULT else []),
            "--capacity",
            "2",
            "--tracking-uri",
            uri,
            "--reports",
            str(root / f"reports-{label}"),
        )
        assert code == 0, output
        outputs.append(output)
    return root, uri, outputs[0], outputs[1]


@pytest.mark.slow
def test_train_label_registers_the_model_under_its_label(
    both: tuple[Path, str, str, str], tmp_path: Path
) -> None:
    _, uri, first, second = both
    assert f"registered {DEFAULT} version 1" in first
    assert f"registered {OTHER} version 1" in second
    registry = MlflowRegistry(uri)
    info = registry.version(OTHER, 1)
    assert info.tags["label"] == OTHER
    assert info.tags["label_description"].startswith("any further incident of the same")
    assert info.params["training_rows"] != registry.version(DEFAULT, 1).params["training_rows"]
    bundle = ModelBundle.load(registry.download_bundle(OTHER, 1, tmp_path))
    assert bundle.label == OTHER
    assert bundle.model_spec.label == OTHER
    assert bundle.model_spec.target.match == ("pair",)


@pytest.mark.slow
def test_the_card_names_its_own_label_and_never_serious_harm(
    both: tuple[Path, str, str, str],
) -> None:
    root, _, _, _ = both
    card = (root / f"reports-{OTHER}" / "model_card.md").read_text()
    assert f"# Model card: {OTHER} v1" in card
    assert (
        f"- **Predicts:** `{OTHER}`: any further incident of the same victim-perpetrator "
        "pair within 90 days." in card
    )
    assert f"triage audit 1 --model {OTHER}" in card
    assert "serious" not in card.lower()
    assert "serious_harm_365d" in (root / f"reports-{DEFAULT}" / "model_card.md").read_text()


@pytest.mark.slow
def test_each_label_has_its_own_gates_and_champion(
    both: tuple[Path, str, str, str], tmp_path: Path
) -> None:
    _, uri, _, _ = both
    registry = MlflowRegistry(uri)
    own_auc = registry.version(OTHER, 1).metrics[MODEL_AUC]
    code, output = _run("promote", "1", "--model", OTHER, *REASON, "--tracking-uri", uri)
    assert code == 0, output
    assert f"AUC {own_auc:.3f}" in output  # the gates read this label's own run
    assert f"@champion is now {OTHER} v1 (was none)" in output
    assert registry.champion(DEFAULT) is None  # promoting one label leaves the other alone
    code, output = _run("promote", "1", *REASON, "--tracking-uri", uri)
    assert code == 0, output
    assert f"@champion is now {DEFAULT} v1 (was none)" in output
    champions = {name: registry.champion(name) for name in (DEFAULT, OTHER)}
    assert all(c is not None for c in champions.values())
    assert champions[DEFAULT].run_id != champions[OTHER].run_id  # type: ignore[union-attr]
    code, output = _run("models", "--model", OTHER, "--tracking-uri", uri)
    assert code == 0, output
    assert "champion" in output
    code, output = _run("rollback", "--model", OTHER, "--tracking-uri", uri)
    assert code == 1
    assert f"{OTHER} has no previous champion" in output
    reports = registry.download_reports(OTHER, 1, tmp_path)
    promoted = (reports / "model_card.md").read_text()  # logged again on promotion
    assert "**promote**" in promoted
    assert "tested on the small world" in promoted
