"""The retrain stage: skipped without enough new labels, judged by time, never breaks serving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import rpaml_pipeline.model_training as model_training
from rpaml_models import ModelRegistry
from rpaml_pipeline.cli import main
from rpaml_pipeline.errors import TrainingError
from rpaml_pipeline.model_training import labeled_records, train_from_store
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.decision_spec import RetrainSpec, ShadowSpec
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.stages import RetrainStage, run_stage
from rpaml_pipeline.store import Store
from rpaml_sandbox.portal.generator import GeneratedClaim
from staged_claims import process_all, stage


def _with_retrain(process: ProcessDefinition, **spec: float) -> ProcessDefinition:
    model = process.model.model_copy(update={"retrain": RetrainSpec(**spec)})  # type: ignore[arg-type]
    return process.model_copy(update={"model": model})


def test_too_few_new_labels_skip_with_the_reason_on_the_run(
    tmp_path: Path, store: Store, process: ProcessDefinition, claims: list[GeneratedClaim]
) -> None:
    closed = [c for c in claims if c.status == "closed"]
    stage(store, process.name, closed[:300], "hist-1")
    stage(store, process.name, closed[300:340], "hist-2")
    process_all(store, process)
    registry_dir = tmp_path / "registry"
    runtime = Runtime.of(store, process, data_dir=tmp_path, registry_dir=registry_dir)
    # No champion yet: the first retrain trains one whatever the count.
    first = run_stage(runtime, RetrainStage())
    assert first.succeeded and first.summary["skipped"] is False
    assert first.summary["champion"] == "1"

    stage(store, process.name, closed[340:380], "hist-3")
    process_all(store, process)
    again = run_stage(runtime, RetrainStage())
    assert again.succeeded and again.summary["skipped"] is True
    seen = ModelRegistry(registry_dir).training_keys("claims_fraud", "1") or set()
    new = set(labeled_records(store, process).keys) - seen
    assert again.summary["new_labels"] == len(new) and 30 < len(new) <= 40
    assert "fewer than model.retrain.min_new_labels (100)" in again.summary["reason"]
    [run] = [r for r in store.list_runs(limit=5) if r.run_id == again.run_id]
    assert run.kind == "retrain" and run.status == "succeeded"
    assert ModelRegistry(registry_dir).versions("claims_fraud") == ["1"]


def test_the_challenger_learns_before_the_cutoff_and_is_judged_after_it(
    tmp_path: Path, store: Store, process: ProcessDefinition, claims: list[GeneratedClaim]
) -> None:
    closed = [c for c in claims if c.status == "closed"]
    process = _with_retrain(process, min_new_labels=100, evidence_share=0.5)
    stage(store, process.name, closed[:200], "hist-1")
    process_all(store, process)
    registry_dir = tmp_path / "registry"
    assert train_from_store(store, process, registry_dir).champion == "1"
    stage(store, process.name, closed[200:400], "hist-2")
    process_all(store, process)
    stage(store, process.name, closed[400:600], "hist-3")
    process_all(store, process)

    runtime = Runtime.of(store, process, data_dir=tmp_path, registry_dir=registry_dir)
    result = run_stage(runtime, RetrainStage())

    assert result.succeeded, result.error
    registry = ModelRegistry(registry_dir)
    everything = labeled_records(store, process)
    labeled = set(everything.keys)
    assert result.summary["skipped"] is False
    assert result.summary["new_labels"] == len(
        labeled - (registry.training_keys("claims_fraud", "1") or set())
    )
    challenger = result.summary["version"]
    assert challenger == "2"
    later = {c.claim_id for c in closed[400:600]} & labeled
    learned = registry.training_keys("claims_fraud", challenger)
    assert learned is not None
    # Trained on everything known before the cut-off, none of what came after it.
    assert learned == {c.claim_id for c in closed[:400]} & labeled
    assert not learned & later
    assert result.summary["cutoff"] == max(
        at
        for at, key in zip(everything.captured_at, everything.keys, strict=True)
        if key not in later
    )
    # Judged on the later labels by the evidence rule; the decision is recorded.
    comparison = result.summary["comparison"]
    assert comparison is not None and comparison["records"] == len(later)
    assert result.summary["promoted"] == (comparison["verdict"] == "better")
    assert registry.champion("claims_fraud") == (challenger if result.summary["promoted"] else "1")


def test_a_failed_training_leaves_the_champion_serving(
    tmp_path: Path,
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = [c for c in claims if c.status == "closed"]
    stage(store, process.name, closed[:200], "hist-1")
    process_all(store, process)
    registry_dir = tmp_path / "registry"
    train_from_store(store, process, registry_dir)
    stage(store, process.name, closed[200:600], "hist-2")
    process_all(store, process)

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("the solver did not converge")

    monkeypatch.setattr(model_training, "select_and_train", broken)
    runtime = Runtime.of(store, process, data_dir=tmp_path, registry_dir=registry_dir)
    with pytest.raises(TrainingError, match="the solver did not converge"):
        run_stage(runtime, RetrainStage())

    [run] = [r for r in store.list_runs(limit=10) if r.kind == "retrain"]
    assert run.status == "failed"
    registry = ModelRegistry(registry_dir)
    assert registry.versions("claims_fraud") == ["1"] and registry.champion("claims_fraud") == "1"


@pytest.mark.parametrize("shadow", [True, False], ids=["shadow on", "shadow off"])
def test_an_unpromoted_challenger_shadows_the_champion_only_in_shadow_mode(
    tmp_path: Path,
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    shadow: bool,
) -> None:
    closed = [c for c in claims if c.status == "closed"]
    model = process.model.model_copy(
        update={
            "retrain": RetrainSpec(min_new_labels=50, evidence_share=0.3),
            "shadow": ShadowSpec(enabled=shadow),
        }
    )
    process = process.model_copy(update={"model": model})
    stage(store, process.name, closed[:200], "hist-1")
    process_all(store, process)
    registry_dir = tmp_path / "registry"
    assert train_from_store(store, process, registry_dir).champion == "1"
    # About 100 new labels: the latest 30% are too few evidence to promote on.
    stage(store, process.name, closed[200:300], "hist-2")
    process_all(store, process)

    runtime = Runtime.of(store, process, data_dir=tmp_path, registry_dir=registry_dir)
    result = run_stage(runtime, RetrainStage())

    assert result.succeeded, result.error
    assert result.summary["version"] == "2" and result.summary["promoted"] is False
    registry = ModelRegistry(registry_dir)
    assert registry.champion("claims_fraud") == "1"
    if shadow:
        assert result.summary["shadow_challenger"] == "2"
        record = registry.challenger_record("claims_fraud")
        assert record is not None and (record.version, record.champion) == ("2", "1")
        assert result.run_id in record.reason
        env = {"RPAML_DATA_DIR": str(tmp_path), "RPAML_REGISTRY_DIR": str(registry_dir)}
        listed = CliRunner().invoke(main, ["model", "list", "--json"], env=env)
        assert listed.exit_code == 0, listed.output
        versions = json.loads(listed.output)["versions"]
        assert [(v["champion"], v["challenger"]) for v in versions] == [
            (True, False),
            (False, True),
        ]
        text = CliRunner().invoke(main, ["model", "list"], env=env).output.splitlines()
        assert [line[:3] for line in text] == ["* v", "s v"]
    else:
        assert "shadow_challenger" not in result.summary
        assert registry.challenger("claims_fraud") is None
