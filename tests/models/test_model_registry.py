"""ModelRegistry: register, list, promote, load, and refusing bad artifacts."""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
from pathlib import Path

import pytest

from rpaml_models import (
    ArtifactIntegrityError,
    DecisionPolicy,
    FeatureSchema,
    InvalidNameError,
    LibraryMismatchError,
    LoadedModel,
    ModelMetadata,
    ModelNotFoundError,
    ModelRegistry,
    RegistryError,
    TrainingResult,
    library_versions,
    training_data_hash,
)


def register(
    registry: ModelRegistry,
    trained: TrainingResult,
    schema: FeatureSchema,
    policy: DecisionPolicy,
    *,
    name: str = "claims_fraud",
    data_hash: str = "sha256:abc",
) -> ModelMetadata:
    return registry.register(
        name,
        trained.pipeline,
        schema=schema,
        policy=policy,
        training_data_hash=data_hash,
        metrics=trained.metrics,
        params={"max_iter": 60},
        lineage_run_id="run-42",
        baseline=trained.baseline,
    )


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "registry")


def test_register_writes_the_layout_and_metadata(registry, trained, schema, policy, claims):
    frame, labels = claims
    data_hash = training_data_hash(frame, labels)
    metadata = register(registry, trained, schema, policy, data_hash=data_hash)
    version_dir = registry.root / "claims_fraud" / "1"
    assert sorted(p.name for p in version_dir.iterdir()) == [
        "metadata.json",
        "model.joblib",
        "model.onnx",
        "policy.json",
    ]
    assert metadata.version == "1"
    assert metadata.training_data_hash == data_hash
    assert metadata.lineage_run_id == "run-42"
    assert metadata.policy_version == "thresholds-1"
    assert metadata.feature_schema == schema
    assert metadata.metrics == trained.metrics
    assert metadata.baseline == trained.baseline
    assert metadata.library_versions == library_versions()
    assert set(metadata.library_versions) == {"python", "sklearn", "numpy", "pandas", "joblib"}
    artifact = (version_dir / "model.joblib").read_bytes()
    assert metadata.artifact_sha256 == hashlib.sha256(artifact).hexdigest()
    stored = ModelMetadata.model_validate_json((version_dir / "metadata.json").read_bytes())
    assert stored == metadata
    assert not [p for p in (registry.root / "claims_fraud").iterdir() if p.name.startswith(".")]


def test_round_trip_list_promote_load(registry, trained, schema, policy, claims):
    first = register(registry, trained, schema, policy)
    second = register(registry, trained, schema, policy, data_hash="sha256:def")
    assert (first.version, second.version) == ("1", "2")
    assert [(m.name, m.versions, m.champion) for m in registry.list_models()] == [
        ("claims_fraud", ("1", "2"), None)
    ]
    with pytest.raises(ModelNotFoundError, match="no champion"):
        registry.load("claims_fraud")

    registry.promote("claims_fraud", "1", reason="first model", evidence={"roc_auc": 0.8})
    assert registry.champion("claims_fraud") == "1"
    model = registry.load("claims_fraud")
    assert isinstance(model, LoadedModel)
    assert (model.name, model.version, model.policy) == ("claims_fraud", "1", policy)
    assert model.schema == schema

    frame, _ = claims
    expected = trained.pipeline.predict_proba(frame.head(20))[:, 1]
    assert model.score_frame(schema.coerce_frame(frame.head(20))).tolist() == pytest.approx(
        expected.tolist()
    )
    assert registry.load("claims_fraud", "2").version == "2"


def test_promotion_history_and_champion_record(registry, trained, schema, policy):
    register(registry, trained, schema, policy)
    register(registry, trained, schema, policy)
    registry.promote("claims_fraud", "1", reason="baseline", evidence={"roc_auc": 0.80})
    registry.promote(
        "claims_fraud",
        "2",
        reason="better on replay",
        evidence={"challenger": {"roc_auc": 0.85}, "champion": {"roc_auc": 0.80}},
    )
    record = registry.champion_record("claims_fraud")
    assert record is not None
    assert (record.version, record.previous, record.reason) == ("2", "1", "better on replay")
    assert record.evidence["challenger"] == {"roc_auc": 0.85}
    on_disk = json.loads((registry.root / "claims_fraud" / "champion.json").read_text())
    assert set(on_disk) == {
        "version",
        "reason",
        "evidence",
        "promoted_at",
        "previous",
        "verdict",
        "override",
    }
    history = registry.promotions("claims_fraud")
    assert [(r.version, r.previous) for r in history] == [("1", None), ("2", "1")]
    lines = (registry.root / "claims_fraud" / "promotions.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert history[0].promoted_at <= history[1].promoted_at


def test_promotion_errors(registry, trained, schema, policy):
    register(registry, trained, schema, policy)
    with pytest.raises(ModelNotFoundError, match="has no version '7' \\(versions: 1\\)"):
        registry.promote("claims_fraud", "7", reason="x", evidence={})
    with pytest.raises(ValueError, match="needs a reason"):
        registry.promote("claims_fraud", "1", reason=" ", evidence={})
    with pytest.raises(ValueError, match="JSON-serialisable"):
        registry.promote("claims_fraud", "1", reason="x", evidence={"bad": object()})
    assert registry.champion("claims_fraud") is None


def test_unknown_model_and_version(registry, trained, schema, policy):
    assert registry.list_models() == []
    assert registry.champion("nothing") is None
    with pytest.raises(ModelNotFoundError):
        registry.load("nothing", "1")
    register(registry, trained, schema, policy)
    with pytest.raises(ModelNotFoundError, match="versions: 1"):
        registry.load("claims_fraud", "9")


def test_find_by_training_hash(registry, trained, schema, policy):
    register(registry, trained, schema, policy, data_hash="sha256:aaa")
    register(registry, trained, schema, policy, data_hash="sha256:bbb")
    register(registry, trained, schema, policy, data_hash="sha256:aaa")
    found = registry.find_by_training_hash("claims_fraud", "sha256:aaa")
    assert found is not None and found.version == "3"
    assert registry.find_by_training_hash("claims_fraud", "sha256:ccc") is None
    assert registry.find_by_training_hash("other", "sha256:aaa") is None


def test_tampered_artifact_is_refused(registry, trained, schema, policy):
    metadata = register(registry, trained, schema, policy)
    artifact = registry.root / "claims_fraud" / "1" / "model.joblib"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0x01
    artifact.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError) as caught:
        registry.load("claims_fraud", "1")
    message = str(caught.value)
    assert str(artifact) in message
    assert metadata.artifact_sha256 in message
    assert hashlib.sha256(bytes(data)).hexdigest() in message
    assert isinstance(caught.value, RegistryError)


class _TouchOnUnpickle:
    """A payload whose unpickling creates a file: proof of code execution."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_replaced_artifact_is_never_unpickled(registry, trained, schema, policy, tmp_path):
    register(registry, trained, schema, policy)
    marker = tmp_path / "executed"
    artifact = registry.root / "claims_fraud" / "1" / "model.joblib"
    artifact.write_bytes(pickle.dumps(_TouchOnUnpickle(marker)))
    pickle.loads(pickle.dumps(_TouchOnUnpickle(tmp_path / "control")))
    assert (tmp_path / "control").exists()  # the payload does run when unpickled

    with pytest.raises(ArtifactIntegrityError):
        registry.load("claims_fraud", "1")
    assert not marker.exists()


def test_library_mismatch_is_refused(registry, trained, schema, policy, tmp_path):
    register(registry, trained, schema, policy)
    path = registry.root / "claims_fraud" / "1" / "metadata.json"
    stored = json.loads(path.read_text())
    installed = stored["library_versions"]["sklearn"]
    stored["library_versions"]["sklearn"] = "1.2.2"
    path.write_text(json.dumps(stored))
    with pytest.raises(LibraryMismatchError) as caught:
        registry.load("claims_fraud", "1")
    assert (caught.value.library, caught.value.built_with, caught.value.installed) == (
        "sklearn",
        "1.2.2",
        installed,
    )
    assert "1.2.2" in str(caught.value) and installed in str(caught.value)

    # A different patch release is compatible.
    major, minor, *_ = installed.split(".")
    stored["library_versions"]["sklearn"] = f"{major}.{minor}.999"
    path.write_text(json.dumps(stored))
    assert registry.load("claims_fraud", "1").version == "1"


@pytest.mark.parametrize(
    "name", ["../escape", "..", "a/b", "Claims", "", "x.y", "/etc", "a\\b", "a" * 65]
)
def test_invalid_model_names_are_refused(registry, name):
    with pytest.raises(InvalidNameError):
        registry.load(name, "1")
    with pytest.raises(InvalidNameError):
        registry.champion(name)


@pytest.mark.parametrize("version", ["../1", "01", "0", "1/../2", "abc", "", "-1", "1.0"])
def test_invalid_versions_are_refused(registry, trained, schema, policy, version):
    register(registry, trained, schema, policy)
    with pytest.raises(InvalidNameError):
        registry.load("claims_fraud", version)
    with pytest.raises(InvalidNameError):
        registry.promote("claims_fraud", version, reason="x", evidence={})


def test_symlink_out_of_the_registry_is_refused(registry, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    registry.root.mkdir(parents=True)
    (registry.root / "sneaky").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidNameError, match="outside the registry"):
        registry.load("sneaky", "1")


def test_register_refuses_mismatched_pipeline(registry, trained, policy):
    other = FeatureSchema.model_validate({"features": [{"name": "amount", "kind": "numeric"}]})
    with pytest.raises(ValueError, match="fitted on a frame with the schema's columns"):
        registry.register(
            "claims_fraud",
            trained.pipeline,
            schema=other,
            policy=policy,
            training_data_hash="sha256:x",
            metrics={},
            params={},
        )


def test_concurrent_registrations_get_distinct_versions(registry, trained, schema, policy):
    n_workers = 8
    barrier = threading.Barrier(n_workers)
    results: list[str] = []
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait()
            metadata = register(registry, trained, schema, policy, data_hash=f"sha256:{index}")
            results.append(metadata.version)
        except BaseException as error:  # collected and re-raised by the test
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results, key=int) == [str(v) for v in range(1, n_workers + 1)]
    assert registry.versions("claims_fraud") == sorted(results, key=int)
    # Each version holds the metadata of the registration that got its number.
    hashes = {registry.metadata("claims_fraud", v).training_data_hash for v in results}
    assert len(hashes) == n_workers


def test_incomplete_version_directories_are_ignored_and_not_reused(
    registry, trained, schema, policy
):
    register(registry, trained, schema, policy)
    (registry.root / "claims_fraud" / "2").mkdir()  # e.g. left by a crash
    assert registry.versions("claims_fraud") == ["1"]
    assert register(registry, trained, schema, policy).version == "3"


def test_challenger_pointer_is_set_replaced_and_cleared_by_promotion(
    registry, trained, schema, policy
):
    for _ in range(3):
        register(registry, trained, schema, policy)
    assert registry.challenger("claims_fraud") is None
    registry.promote("claims_fraud", "1", reason="first", evidence={})
    with pytest.raises(RegistryError, match="v1 is the champion"):
        registry.set_challenger("claims_fraud", "1", reason="x")
    with pytest.raises(ModelNotFoundError, match="has no version '9'"):
        registry.set_challenger("claims_fraud", "9", reason="x")
    registry.set_challenger("claims_fraud", "2", reason="not promoted (no better)")
    record = registry.challenger_record("claims_fraud")
    assert record is not None
    assert (record.version, record.champion, record.reason) == (
        "2",
        "1",
        "not promoted (no better)",
    )
    # Replaced by the next challenger; the champion is untouched.
    registry.set_challenger("claims_fraud", "3", reason="later retrain")
    assert registry.challenger("claims_fraud") == "3"
    assert registry.champion("claims_fraud") == "1"
    # Promoting the challenger makes it champion and leaves no challenger.
    registry.promote("claims_fraud", "3", reason="better", evidence={})
    assert (registry.champion("claims_fraud"), registry.challenger("claims_fraud")) == ("3", None)
    registry.set_challenger("claims_fraud", "2", reason="again")
    registry.clear_challenger("claims_fraud")
    assert registry.challenger("claims_fraud") is None
