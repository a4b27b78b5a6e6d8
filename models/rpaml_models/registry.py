"""The model registry: versioned artifacts on disk, promotion records, verified loading.

Layout under the registry root::

    <name>/<version>/model.joblib     the fitted pipeline
    <name>/<version>/model.onnx       its compiled classifier, when parity passed
    <name>/<version>/metadata.json    ModelMetadata, written last
    <name>/<version>/policy.json      the DecisionPolicy registered with it
    <name>/champion.json              the current PromotionRecord
    <name>/challenger.json            the version scored in shadow (rpaml_models.challenger)
    <name>/promotions.jsonl           every PromotionRecord, oldest first

A version directory is assembled under a temporary name and renamed into place, so it
appears complete or not at all; the rename fails if another process took the number
first, and registration retries with the next one. A joblib file is code, so loading
hashes the bytes and checks library versions before anything is unpickled.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import hmac
import io
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from pydantic import ValidationError
from sklearn.pipeline import Pipeline

from rpaml_models.challenger import CHALLENGER_FILE, ChallengerPointer
from rpaml_models.compiled import (
    ONNX_FILE,
    CompilationReport,
    CompiledClassifier,
    classifier_layout,
    compile_model,
)
from rpaml_models.drift import DriftReference
from rpaml_models.errors import (
    ArtifactIntegrityError,
    CompilationError,
    InvalidNameError,
    LibraryMismatchError,
    ModelNotFoundError,
    RegistryError,
)
from rpaml_models.explain import BaselineValue
from rpaml_models.linear_path import LinearPath
from rpaml_models.loaded import LoadedModel
from rpaml_models.metadata import (
    CHECKED_LIBRARIES,
    ModelMetadata,
    ModelSummary,
    PromotionRecord,
    library_versions,
)
from rpaml_models.policy import DecisionPolicy
from rpaml_models.schema import FeatureSchema

ARTIFACT_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
POLICY_FILE = "policy.json"
CHAMPION_FILE = "champion.json"
PROMOTIONS_FILE = "promotions.jsonl"
TRAINING_KEYS_FILE = "training_keys.json"

# Names and versions become path components: restricting their alphabet (no dots, no
# separators) is what makes reaching outside the root impossible.
_NAME_PATTERN = re.compile(r"[a-z0-9_-]{1,64}")
_VERSION_PATTERN = re.compile(r"[1-9][0-9]{0,8}")
_RENAME_CONFLICTS = {errno.EEXIST, errno.ENOTEMPTY}


class ModelRegistry(ChallengerPointer):
    """Models stored as files under ``root``.

    Parameters
    ----------
    root : Path or str
        Registry directory; created on first registration.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.root)!r})"

    # -- writing -----------------------------------------------------------------

    def register(
        self,
        name: str,
        pipeline: Pipeline,
        *,
        schema: FeatureSchema,
        policy: DecisionPolicy,
        training_data_hash: str,
        metrics: Mapping[str, float],
        params: Mapping[str, object],
        lineage_run_id: str | None = None,
        baseline: Mapping[str, BaselineValue] | None = None,
        holdout: pd.DataFrame | None = None,
        compile: bool = True,
        evaluation: Mapping[str, Any] | None = None,
        training_keys: Sequence[str] | None = None,
        reference: DriftReference | None = None,
    ) -> ModelMetadata:
        """Store a fitted pipeline as the next version of ``name``.

        Parameters
        ----------
        name : str
            Model name: lowercase letters, digits, ``_`` and ``-``.
        pipeline : sklearn.pipeline.Pipeline
            Fitted on a frame with exactly the schema's columns.
        schema : FeatureSchema
            The model's inputs.
        policy : DecisionPolicy
            Decision policy served with this version.
        training_data_hash : str
            From :func:`rpaml_models.training_data_hash`.
        metrics : mapping of str to float
            Holdout metrics.
        params : mapping
            Parameters the pipeline was built with.
        lineage_run_id : str, default=None
            Pipeline run that produced the training data.
        baseline : mapping, default=None
            Feature baseline for explanations (``TrainingResult.baseline``); without
            it the model gives only policy reasons.
        holdout : pandas.DataFrame, default=None
            Held-out rows with the schema's columns for the compiled path's parity
            check (threshold probe rows are always added).
        compile : bool, default=True
            Compile the model to ONNX and check parity (see
            :mod:`rpaml_models.compiled`); the result, and the runtime the service
            will use, is recorded in ``metadata.compilation``.
        evaluation : mapping, default=None
            JSON-ready evidence of how the version was chosen (``SelectionResult``).
        training_keys : sequence of str, default=None
            Keys of the records trained on, so a later comparison can use only
            records neither version saw (:meth:`training_keys`).
        reference : DriftReference, default=None
            The training distributions monitoring compares live data with
            (:func:`rpaml_models.drift.build_reference`).

        Returns
        -------
        ModelMetadata
            As written to ``metadata.json``; ``version`` is the new version.

        Raises
        ------
        InvalidNameError
            If ``name`` is not a valid model name.
        ValueError
            If the pipeline was not fitted on the schema's columns.
        """
        fitted = getattr(pipeline, "feature_names_in_", None)
        if fitted is None or tuple(map(str, fitted)) != schema.names:
            raise ValueError(
                "the pipeline must be fitted on a frame with the schema's columns "
                f"{list(schema.names)}, found {None if fitted is None else list(fitted)}"
            )
        if baseline is not None:
            missing = [n for n in schema.names if n not in baseline]
            if missing:
                raise ValueError(f"baseline lacks features: {', '.join(missing)}")
        model_dir = self._model_dir(name)
        model_dir.mkdir(parents=True, exist_ok=True)
        staging = model_dir / f".incoming-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            buffer = io.BytesIO()
            joblib.dump(pipeline, buffer)
            artifact = buffer.getvalue()
            _write_file(staging / ARTIFACT_FILE, artifact)
            _write_file(staging / POLICY_FILE, policy.model_dump_json(indent=2).encode())
            if training_keys is not None:
                keys = json.dumps(sorted(training_keys)).encode()
                _write_file(staging / TRAINING_KEYS_FILE, keys)
            compilation: CompilationReport | None = None
            if compile:
                onnx_bytes, compilation = compile_model(pipeline, schema, policy, holdout)
                if onnx_bytes is not None:
                    _write_file(staging / ONNX_FILE, onnx_bytes)
            draft = ModelMetadata(
                name=name,
                version="0",
                created_at=datetime.now(UTC),
                training_data_hash=training_data_hash,
                lineage_run_id=lineage_run_id,
                params=dict(params),
                metrics={key: float(value) for key, value in metrics.items()},
                feature_schema=schema,
                policy_version=policy.version,
                library_versions=library_versions(),
                artifact_sha256=hashlib.sha256(artifact).hexdigest(),
                baseline=None if baseline is None else dict(baseline),
                compilation=compilation,
                evaluation=None if evaluation is None else dict(evaluation),
                reference=reference,
            )
            while True:
                version = str(self._highest_number(model_dir) + 1)
                metadata = draft.model_copy(
                    update={"version": version, "created_at": datetime.now(UTC)}
                )
                _write_file(staging / METADATA_FILE, metadata.model_dump_json(indent=2).encode())
                try:
                    # Atomic: the directory appears complete, or the number was taken.
                    staging.rename(model_dir / version)
                except OSError as error:
                    if error.errno in _RENAME_CONFLICTS:
                        continue
                    raise
                _fsync_directory(model_dir)
                return metadata
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def promote(
        self,
        name: str,
        version: str,
        *,
        reason: str,
        evidence: Mapping[str, object],
        verdict: str | None = None,
        override: bool = False,
    ) -> None:
        """Make ``version`` the champion of ``name`` and record why; clears the challenger.

        Parameters
        ----------
        name, version : str
            An existing model version.
        reason : str
            Why it is promoted.
        evidence : mapping
            JSON-serialisable support for the decision, e.g. replay metrics.

        Raises
        ------
        ModelNotFoundError
            If the version does not exist.
        ValueError
            If ``reason`` is empty or ``evidence`` cannot be stored as JSON.
        """
        if not reason.strip():
            raise ValueError("a promotion needs a reason")
        self.metadata(name, version)
        model_dir = self._model_dir(name)
        with _locked(model_dir / ".promotion.lock"):
            try:
                record = PromotionRecord(
                    version=version,
                    reason=reason,
                    evidence=dict(evidence),
                    promoted_at=datetime.now(UTC),
                    previous=self.champion(name),
                    verdict=verdict,
                    override=override,
                )
                line = record.model_dump_json()
            except (ValidationError, ValueError, TypeError) as error:
                raise ValueError(f"evidence must be JSON-serialisable: {error}") from error
            _write_file(model_dir / CHAMPION_FILE, record.model_dump_json(indent=2).encode())
            # A challenger was judged against the champion this promotion replaces.
            (model_dir / CHALLENGER_FILE).unlink(missing_ok=True)
            with (model_dir / PROMOTIONS_FILE).open("a", encoding="utf-8") as history:
                history.write(line + "\n")
                history.flush()
                os.fsync(history.fileno())

    # -- reading -----------------------------------------------------------------

    def list_models(self) -> list[ModelSummary]:
        """Every model with at least one version, sorted by name."""
        if not self.root.is_dir():
            return []
        summaries = []
        for entry in sorted(self.root.iterdir()):
            if not (entry.is_dir() and _NAME_PATTERN.fullmatch(entry.name)):
                continue
            versions = self.versions(entry.name)
            if versions:
                summaries.append(
                    ModelSummary(
                        name=entry.name,
                        versions=tuple(versions),
                        champion=self.champion(entry.name),
                    )
                )
        return summaries

    def versions(self, name: str) -> list[str]:
        """Complete versions of ``name``, oldest first (empty for an unknown name)."""
        model_dir = self._model_dir(name)
        if not model_dir.is_dir():
            return []
        numbers = [
            int(entry.name)
            for entry in model_dir.iterdir()
            if _VERSION_PATTERN.fullmatch(entry.name) and (entry / METADATA_FILE).is_file()
        ]
        return [str(number) for number in sorted(numbers)]

    def champion(self, name: str) -> str | None:
        """The champion version of ``name``, or None if none was promoted."""
        record = self.champion_record(name)
        return None if record is None else record.version

    def champion_record(self, name: str) -> PromotionRecord | None:
        """The promotion record of the current champion, or None."""
        path = self._model_dir(name) / CHAMPION_FILE
        if not path.is_file():
            return None
        return PromotionRecord.model_validate_json(path.read_bytes())

    def promotions(self, name: str) -> list[PromotionRecord]:
        """Every promotion of ``name``, oldest first."""
        path = self._model_dir(name) / PROMOTIONS_FILE
        if not path.is_file():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [PromotionRecord.model_validate_json(line) for line in lines if line.strip()]

    def metadata(self, name: str, version: str) -> ModelMetadata:
        """Metadata of one version.

        Raises
        ------
        ModelNotFoundError
            If the version does not exist.
        RegistryError
            If ``metadata.json`` is unreadable or describes another model.
        """
        path = self._version_dir(name, version) / METADATA_FILE
        if not path.is_file():
            known = ", ".join(self.versions(name)) or "none"
            raise ModelNotFoundError(
                f"model {name!r} has no version {version!r} (versions: {known})"
            )
        try:
            metadata = ModelMetadata.model_validate_json(path.read_bytes())
        except ValidationError as error:
            raise RegistryError(f"{path}: invalid metadata: {error}") from error
        if metadata.name != name or metadata.version != version:
            raise RegistryError(
                f"{path}: describes {metadata.name} version {metadata.version}, "
                f"not {name} version {version}"
            )
        return metadata

    def training_keys(self, name: str, version: str) -> set[str] | None:
        """Keys of the records ``version`` was trained on; None if not recorded."""
        path = self._version_dir(name, version) / TRAINING_KEYS_FILE
        if not path.is_file():
            return None
        return set(json.loads(path.read_text(encoding="utf-8")))

    def find_by_training_hash(self, name: str, training_data_hash: str) -> ModelMetadata | None:
        """The newest version of ``name`` trained on data with this hash, or None.

        Lets a retraining job skip work when the labelled data has not changed.
        """
        for version in reversed(self.versions(name)):
            metadata = self.metadata(name, version)
            if metadata.training_data_hash == training_data_hash:
                return metadata
        return None

    def load(self, name: str, version: str | None = None) -> LoadedModel:
        """Verify and load a model version (the champion when ``version`` is None).

        The artifact's bytes are read once, hashed and compared with the metadata;
        the recorded scikit-learn, NumPy and joblib versions must match the installed
        ones in major.minor. Only then are those same bytes unpickled, so a file
        swapped after the check is never loaded.

        Raises
        ------
        ModelNotFoundError
            Unknown name or version, or no champion.
        InvalidNameError
            A name or version that is not a valid path component.
        ArtifactIntegrityError
            The artifact's (or the compiled ``model.onnx``'s) SHA-256 differs from
            the metadata.
        LibraryMismatchError
            A checked library's major.minor differs.
        RegistryError
            Unreadable metadata or policy, or an artifact that is not a Pipeline.
        """
        if version is None:
            version = self.champion(name)
            if version is None:
                known = ", ".join(self.versions(name)) or "none"
                raise ModelNotFoundError(
                    f"model {name!r} has no champion (versions: {known}); promote one first"
                )
        metadata = self.metadata(name, version)
        version_dir = self._version_dir(name, version)
        artifact_path = version_dir / ARTIFACT_FILE
        try:
            artifact = artifact_path.read_bytes()
        except FileNotFoundError as error:
            raise ArtifactIntegrityError(
                artifact_path, metadata.artifact_sha256, "missing"
            ) from error
        actual = hashlib.sha256(artifact).hexdigest()
        if not hmac.compare_digest(actual, metadata.artifact_sha256):
            raise ArtifactIntegrityError(artifact_path, metadata.artifact_sha256, actual)
        check_library_versions(metadata.library_versions)
        policy_path = version_dir / POLICY_FILE
        try:
            policy = DecisionPolicy.model_validate_json(policy_path.read_bytes())
        except (OSError, ValidationError) as error:
            raise RegistryError(f"{policy_path}: unreadable policy: {error}") from error
        if policy.version != metadata.policy_version:
            raise RegistryError(
                f"{policy_path}: policy version {policy.version} differs from the "
                f"registered {metadata.policy_version}"
            )
        onnx_bytes = self._compiled_artifact(version_dir, metadata)
        pipeline = joblib.load(io.BytesIO(artifact))
        if not isinstance(pipeline, Pipeline):
            raise RegistryError(f"{artifact_path}: holds {type(pipeline).__name__}, not a Pipeline")
        compilation = metadata.compilation
        reason = "registered without compilation" if compilation is None else compilation.reason
        compiled: CompiledClassifier | LinearPath | None = None
        try:
            if onnx_bytes is not None:
                compiled = CompiledClassifier(onnx_bytes, classifier_layout(pipeline))
            elif compilation is not None and compilation.runtime == "numpy":
                # Rebuilt from the verified artifact: nothing else is stored for it.
                compiled = LinearPath(pipeline[-1])
        except CompilationError as error:
            reason = f"compiled path unavailable here ({error}); serving scikit-learn"
        return LoadedModel(
            metadata=metadata,
            policy=policy,
            pipeline=pipeline,
            compiled=compiled,
            runtime_reason=reason,
        )

    @staticmethod
    def _compiled_artifact(version_dir: Path, metadata: ModelMetadata) -> bytes | None:
        """The verified ONNX bytes of a version served compiled, else None."""
        compilation = metadata.compilation
        if compilation is None or compilation.onnx_sha256 is None:
            return None
        path = version_dir / ONNX_FILE
        try:
            onnx_bytes = path.read_bytes()
        except FileNotFoundError as error:
            raise ArtifactIntegrityError(path, compilation.onnx_sha256, "missing") from error
        actual = hashlib.sha256(onnx_bytes).hexdigest()
        if not hmac.compare_digest(actual, compilation.onnx_sha256):
            raise ArtifactIntegrityError(path, compilation.onnx_sha256, actual)
        return onnx_bytes

    # -- paths -------------------------------------------------------------------

    def _model_dir(self, name: str) -> Path:
        if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
            raise InvalidNameError(
                f"invalid model name {name!r}: use 1-64 lowercase letters, digits, '_' or '-'"
            )
        return self._inside_root(self.root / name)

    def _version_dir(self, name: str, version: str) -> Path:
        if not isinstance(version, str) or not _VERSION_PATTERN.fullmatch(version):
            raise InvalidNameError(
                f"invalid version {version!r}: versions are positive integers such as '3'"
            )
        return self._inside_root(self._model_dir(name) / version)

    def _inside_root(self, path: Path) -> Path:
        # The patterns already exclude separators and dots; this also catches a
        # symlink inside the registry that points elsewhere.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise InvalidNameError(f"{path} resolves outside the registry {self.root}")
        return path

    @staticmethod
    def _highest_number(model_dir: Path) -> int:
        # Counts incomplete directories too, so a number is never reused.
        numbers = [
            int(entry.name)
            for entry in model_dir.iterdir()
            if _VERSION_PATTERN.fullmatch(entry.name)
        ]
        return max(numbers, default=0)


def check_library_versions(recorded: Mapping[str, str]) -> None:
    """Refuse a model built with another major.minor of a checked library.

    Parameters
    ----------
    recorded : mapping of str to str
        ``ModelMetadata.library_versions``.

    Raises
    ------
    LibraryMismatchError
        Naming the library, the recorded version and the installed one.
    """
    installed = library_versions()
    for library in CHECKED_LIBRARIES:
        built_with = recorded.get(library, "unknown")
        if _major_minor(built_with) != _major_minor(installed[library]):
            raise LibraryMismatchError(library, built_with, installed[library])


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def _write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file, fsync, os.replace."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock, serialising promotions across processes."""
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
