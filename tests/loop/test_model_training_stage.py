"""Training from the store: labeled records in, a registered, promoted model out."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpaml_models import ModelRegistry
from rpaml_pipeline.errors import TrainingError
from rpaml_pipeline.model_training import TrainingOutcome, train_from_store
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import Store
from rpaml_sandbox.portal.generator import GeneratedClaim
from staged_claims import process_all, stage


def test_first_model_is_trained_registered_and_promoted(
    trained_registry: tuple[Path, TrainingOutcome],
) -> None:
    registry_dir, outcome = trained_registry
    assert outcome.trained and outcome.promoted
    assert outcome.champion == outcome.version == "1"
    # The sandbox's fraud is learnable from the features the process derives.
    assert outcome.metrics["roc_auc"] > 0.65
    registry = ModelRegistry(registry_dir)
    assert registry.champion("claims_fraud") == "1"
    metadata = registry.metadata("claims_fraud", "1")
    assert metadata.training_data_hash == outcome.training_data_hash
    assert metadata.policy_version == "claims-costs-1"
    assert [f.name for f in metadata.feature_schema.features][:3] == [
        "amount",
        "claimant_age",
        "prior_claims",
    ]


def test_training_again_on_the_same_data_registers_nothing(
    tmp_path: Path, store: Store, process: ProcessDefinition, claims: list[GeneratedClaim]
) -> None:
    stage(store, process.name, [c for c in claims if c.status == "closed"], "hist")
    process_all(store, process)
    first = train_from_store(store, process, tmp_path / "registry")
    again = train_from_store(store, process, tmp_path / "registry")
    assert first.trained and not again.trained
    assert again.version == first.version
    assert ModelRegistry(tmp_path / "registry").versions("claims_fraud") == ["1"]


def test_too_few_labels_is_a_clear_error(
    tmp_path: Path, store: Store, process: ProcessDefinition, claims: list[GeneratedClaim]
) -> None:
    stage(store, process.name, [c for c in claims if c.status == "closed"][:20], "hist")
    process_all(store, process)
    with pytest.raises(TrainingError, match="not enough labeled records"):
        train_from_store(store, process, tmp_path / "registry")


def test_same_data_in_another_store_give_the_same_model(
    tmp_path: Path,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    trained_registry: tuple[Path, TrainingOutcome],
) -> None:
    # Record ids are random per store; the model must not depend on them.
    _, reference = trained_registry
    with Store.connect(f"sqlite:///{tmp_path / 'other.db'}") as other:
        stage(other, process.name, [c for c in reversed(claims) if c.status == "closed"], "h")
        process_all(other, process)
        again = train_from_store(other, process, tmp_path / "registry")
    assert again.training_data_hash == reference.training_data_hash
    assert again.metrics == reference.metrics
