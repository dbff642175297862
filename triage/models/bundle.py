"""A trained model as a plain folder that anyone can read and nothing needs to
unpickle::

    booster.txt          the LightGBM model in its own text format
    calibrator.json      raw margin -> probability (Platt a, b or isotonic thresholds)
    logistic.json        the elastic-net logistic baseline (coefficients, scaling)
    feature_schema.json  feature names, dtypes and categories in order
    feature_spec.yaml    the feature spec the matrix was built with (exact text)
    model_spec.yaml      the model spec (exact text)
    manifest.json        sha256 of every file above, and the training metadata

:meth:`ModelBundle.load` checks every hash before it parses anything and refuses a
bundle with a missing or altered file (``BundleIntegrityError`` naming the file).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
import yaml
from pydantic import BaseModel, ValidationError

from triage.config import FeatureSetSpec, ModelSpec
from triage.exceptions import BundleIntegrityError, ConfigError, SchemaError
from triage.models.baselines import LogisticBaseline
from triage.models.calibrators import Calibrator, calibrator_from_json

__all__ = ["BUNDLE_FILES", "FeatureSchema", "ModelBundle", "data_fingerprint", "lightgbm_array"]

Float = npt.NDArray[np.float64]

FORMAT = "mash-triage-bundle/1"
MANIFEST = "manifest.json"
BOOSTER = "booster.txt"
CALIBRATOR = "calibrator.json"
LOGISTIC = "logistic.json"
SCHEMA = "feature_schema.json"
FEATURE_SPEC = "feature_spec.yaml"
MODEL_SPEC = "model_spec.yaml"
#: every file a bundle holds besides its manifest
BUNDLE_FILES = (BOOSTER, CALIBRATOR, LOGISTIC, SCHEMA, FEATURE_SPEC, MODEL_SPEC)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def data_fingerprint(ids: pd.Series, X: pd.DataFrame, y: npt.ArrayLike) -> str:
    """sha256 over the incident ids, every feature column (name, dtype, values;
    category codes and categories for categoricals) and the outcomes, in row order."""
    h = hashlib.sha256()
    h.update("\x1f".join(ids.astype(str)).encode())
    for name in X.columns:
        col = X[name]
        h.update(f"\x1e{name}:{col.dtype}".encode())
        if isinstance(col.dtype, pd.CategoricalDtype):
            h.update("\x1f".join(map(str, col.cat.categories)).encode())
            h.update(np.ascontiguousarray(col.cat.codes.to_numpy()).tobytes())
        else:
            h.update(np.ascontiguousarray(col.to_numpy()).tobytes())
    h.update(np.ascontiguousarray(np.asarray(y, dtype=np.int8)).tobytes())
    return h.hexdigest()


def lightgbm_array(X: pd.DataFrame, pandas_categorical: list[list[Any]] | None) -> npt.NDArray[Any]:
    """``X`` as the array LightGBM's pandas path hands its booster, value for value:
    categories recoded to the training categories (``pandas_categorical``, kept in
    the booster's model text), missing codes as NaN, every column cast to the
    common float type. Predicting from it skips the pandas path's per-call cost
    (milliseconds for one row) and gives the same numbers bit for bit."""
    if len(X.shape) != 2 or X.shape[0] < 1:
        raise ValueError("Input data must be 2 dimensional and non empty.")
    categories = iter(pandas_categorical or [])
    columns: list[npt.NDArray[Any]] = []
    for name in X.columns:
        col = X[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            wanted = next(categories, None)
            if wanted is None:
                raise ValueError("train and valid dataset categorical_feature do not match.")
            if list(col.cat.categories) != list(wanted):
                col = col.cat.set_categories(wanted)
            codes = col.cat.codes.to_numpy()
            columns.append(np.where(codes >= 0, codes, np.nan) if (codes < 0).any() else codes)
        else:
            columns.append(col.to_numpy())
    if next(categories, None) is not None:
        raise ValueError("train and valid dataset categorical_feature do not match.")
    target = np.result_type(*(c.dtype.type for c in columns), np.float32)
    out = np.empty((X.shape[0], len(columns)), dtype=target)
    for j, values in enumerate(columns):
        out[:, j] = values
    return out


@dataclass(frozen=True)
class FeatureSchema:
    """The feature columns a booster was trained on: names, dtypes, categories."""

    names: tuple[str, ...]
    dtypes: tuple[str, ...]
    categories: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, X: pd.DataFrame) -> FeatureSchema:
        cats = tuple(
            (str(c), tuple(str(v) for v in X[c].cat.categories))
            for c in X.columns
            if isinstance(X[c].dtype, pd.CategoricalDtype)
        )
        return cls(tuple(map(str, X.columns)), tuple(str(X[c].dtype) for c in X.columns), cats)

    def check(self, X: pd.DataFrame) -> None:
        """Raise ``SchemaError`` unless ``X`` has these columns, in this order, and the
        same categories in the same order (so category codes mean the same)."""
        names = tuple(map(str, X.columns))
        if names != self.names:
            missing = [n for n in self.names if n not in names]
            extra = [n for n in names if n not in self.names]
            detail = f"missing {missing[:5]}, unexpected {extra[:5]}" if missing or extra else ""
            raise SchemaError(
                [],
                message="the features do not match the model's feature columns "
                f"({detail or 'same names in another order'})",
            )
        for name, cats in self.categories:
            col = X[name]
            got = (
                tuple(map(str, col.cat.categories))
                if isinstance(col.dtype, pd.CategoricalDtype)
                else None
            )
            if got != cats:
                raise SchemaError(
                    [],
                    message=f"feature {name!r} must be categorical with categories {list(cats)}, "
                    f"got {list(got) if got is not None else str(col.dtype)}",
                )

    def to_json(self) -> dict[str, Any]:
        cats = dict(self.categories)
        return {
            "features": [
                {"name": n, "dtype": d, **({"categories": list(cats[n])} if n in cats else {})}
                for n, d in zip(self.names, self.dtypes, strict=True)
            ]
        }

    @classmethod
    def from_json(cls, data: Any) -> FeatureSchema:
        try:
            feats = data["features"]
            return cls(
                tuple(str(f["name"]) for f in feats),
                tuple(str(f["dtype"]) for f in feats),
                tuple(
                    (str(f["name"]), tuple(str(c) for c in f["categories"]))
                    for f in feats
                    if "categories" in f
                ),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a feature schema: {exc!r}") from None


@dataclass(frozen=True)
class ModelBundle:
    """The final model: booster, calibrator, logistic baseline, feature schema, the
    exact spec texts, and the metadata of its training (``metadata``)."""

    booster_text: str
    calibrator: Calibrator
    logistic: LogisticBaseline
    schema: FeatureSchema
    model_spec_yaml: str
    feature_spec_yaml: str
    metadata: Mapping[str, Any]
    booster: lgb.Booster = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "booster", lgb.Booster(model_str=self.booster_text))

    @property
    def label(self) -> str:
        return str(self.metadata["label"])

    @property
    def family(self) -> str:
        """The family that scores: ``lightgbm`` or ``logistic`` (a bundle saved
        before families were compared is LightGBM's)."""
        return str(self.metadata.get("family", "lightgbm"))

    @property
    def model_spec(self) -> ModelSpec:
        return _parse_spec(self.model_spec_yaml, ModelSpec, MODEL_SPEC)

    @property
    def feature_spec(self) -> FeatureSetSpec:
        return _parse_spec(self.feature_spec_yaml, FeatureSetSpec, FEATURE_SPEC)

    def predict_raw(self, X: pd.DataFrame, *, threads: int | None = None) -> Float:
        """The scoring family's raw margin (log-odds before calibration), e.g. for
        explanations. ``threads=1`` suits a few rows: OpenMP's thread team costs
        milliseconds on a busy machine, the rows themselves microseconds (the
        numbers are the same)."""
        self.schema.check(X)
        if self.family == "logistic":
            return self.logistic.decision_function(X)
        array = lightgbm_array(X, self.booster.pandas_categorical)
        options: dict[str, Any] = {} if threads is None else {"num_threads": threads}
        out = np.asarray(self.booster.predict(array, raw_score=True, **options), dtype=np.float64)
        return out

    def predict_proba(self, X: pd.DataFrame, *, threads: int | None = None) -> Float:
        """Calibrated probability of the label for each row of ``X``: the scoring
        family's raw margin through that family's calibrator."""
        raw = self.predict_raw(X, threads=threads)
        if self.family == "logistic":
            return self.logistic.calibrated(raw)
        return self.calibrator(raw)

    def contributions(self, X: pd.DataFrame, *, threads: int | None = None) -> Float:
        """Each feature's exact part in the raw margin, one column per column of
        ``X`` and the base value last; each row sums to :meth:`predict_raw`.
        LightGBM: TreeSHAP (``pred_contrib``); logistic: coefficient times the
        standardised value, summed over a feature's design columns."""
        self.schema.check(X)
        if self.family == "logistic":
            return self.logistic.contributions(X)
        array = lightgbm_array(X, self.booster.pandas_categorical)
        options: dict[str, Any] = {} if threads is None else {"num_threads": threads}
        out = np.asarray(
            self.booster.predict(array, pred_contrib=True, **options), dtype=np.float64
        )
        return out

    def files(self) -> dict[str, bytes]:
        """The bundle's files (without the manifest) as bytes."""
        texts = {
            BOOSTER: self.booster_text,
            CALIBRATOR: _json_text(self.calibrator.to_json()),
            LOGISTIC: _json_text(self.logistic.to_json()),
            SCHEMA: _json_text(self.schema.to_json()),
            FEATURE_SPEC: self.feature_spec_yaml,
            MODEL_SPEC: self.model_spec_yaml,
        }
        return {name: text.encode("utf-8") for name, text in texts.items()}

    def manifest(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "files": {name: _sha256(data) for name, data in self.files().items()},
            "metadata": dict(self.metadata),
        }

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Write the bundle to ``folder`` (all or nothing); returns the folder."""
        target = Path(folder)
        if target.exists() and any(target.iterdir()) and not overwrite:
            raise ConfigError(f"{target} already exists and is not empty (pass overwrite=True)")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for name, data in self.files().items():
                (staging / name).write_bytes(data)
            (staging / MANIFEST).write_text(_json_text(self.manifest()), encoding="utf-8")
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    @classmethod
    def load(cls, folder: str | Path, *, manifest_sha256: str | None = None) -> ModelBundle:
        """Read a bundle, verifying every file's sha256 (and the manifest's own, if
        ``manifest_sha256`` is given) before parsing anything."""
        root = Path(folder)
        manifest_path = root / MANIFEST
        try:
            raw_manifest = manifest_path.read_bytes()
        except OSError as exc:
            raise BundleIntegrityError(f"{manifest_path}: cannot read ({exc.strerror})") from None
        if manifest_sha256 is not None and _sha256(raw_manifest) != manifest_sha256:
            raise BundleIntegrityError(f"{manifest_path}: does not match the expected sha256")
        try:
            manifest = json.loads(raw_manifest)
            recorded: dict[str, str] = dict(manifest["files"])
            metadata = dict(manifest["metadata"])
            fmt = manifest["format"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BundleIntegrityError(f"{manifest_path}: not a bundle manifest ({exc})") from None
        if fmt != FORMAT:
            raise BundleIntegrityError(f"{manifest_path}: format {fmt!r}, expected {FORMAT!r}")
        texts = {name: _verified_text(root, name, recorded) for name in BUNDLE_FILES}
        try:
            bundle = cls(
                booster_text=texts[BOOSTER],
                calibrator=calibrator_from_json(json.loads(texts[CALIBRATOR])),
                logistic=LogisticBaseline.from_json(json.loads(texts[LOGISTIC])),
                schema=FeatureSchema.from_json(json.loads(texts[SCHEMA])),
                model_spec_yaml=texts[MODEL_SPEC],
                feature_spec_yaml=texts[FEATURE_SPEC],
                metadata=metadata,
            )
        except (ValueError, lgb.basic.LightGBMError) as exc:
            raise BundleIntegrityError(f"{root}: a bundle file cannot be read ({exc})") from None
        bundle.check_consistent()
        return bundle

    def check_consistent(self) -> None:
        """Raise ``BundleIntegrityError`` if the parts disagree with each other."""
        try:
            fingerprints = {
                MODEL_SPEC: (
                    self.model_spec.fingerprint(),
                    self.metadata.get("model_spec_fingerprint"),
                ),
                FEATURE_SPEC: (
                    self.feature_spec.fingerprint(),
                    self.metadata.get("feature_spec_fingerprint"),
                ),
            }
        except ConfigError as exc:
            raise BundleIntegrityError(str(exc)) from None
        for name, (actual, recorded) in fingerprints.items():
            if actual != recorded:
                raise BundleIntegrityError(f"{name}: spec fingerprint differs from the manifest")
        if tuple(self.booster.feature_name()) != self.schema.names:
            raise BundleIntegrityError(f"{BOOSTER}: feature names differ from {SCHEMA}")


def _verified_text(root: Path, name: str, recorded: Mapping[str, str]) -> str:
    path = root / name
    if name not in recorded:
        raise BundleIntegrityError(f"{name}: not listed in the bundle's manifest")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleIntegrityError(f"{name}: cannot read {path} ({exc.strerror})") from None
    if _sha256(data) != recorded[name]:
        raise BundleIntegrityError(
            f"{name}: its sha256 does not match the manifest; the bundle at {root} has been "
            "altered or damaged and will not be used"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleIntegrityError(f"{name}: not UTF-8 text") from None


def _json_text(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"


_M = TypeVar("_M", bound=BaseModel)


def _parse_spec(text: str, model: type[_M], name: str) -> _M:
    try:
        return model.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{name}: not a valid spec ({exc})") from None
