"""Promotion on evidence: both versions scored on labeled records neither was trained on."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpaml_models import ModelRegistry
from rpaml_models.drift import bin_categorical
from rpaml_models.recipes import build_recipe
from rpaml_pipeline.drifted_pattern import DriftedPattern
from rpaml_pipeline.errors import TrainingError
from rpaml_pipeline.model_spec import decision_policy, feature_schema
from rpaml_pipeline.model_training import labeled_records, train_from_store
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.promotion import compare_in_store, judge, promote_by_hand, unseen_by
from rpaml_pipeline.store import Store
from rpaml_sandbox.portal.generator import GeneratedClaim
from staged_claims import process_all, stage


def test_a_worse_challenger_is_refused_and_only_an_override_promotes_it(
    tmp_path: Path, store: Store, process: ProcessDefinition, claims: list[GeneratedClaim]
) -> None:
    closed = [c for c in claims if c.status == "closed"]
    registry_dir = tmp_path / "registry"
    stage(store, process.name, closed[:400], "hist-1")
    process_all(store, process)
    first = train_from_store(store, process, registry_dir)
    assert first.promoted and first.version == "1"
    registry = ModelRegistry(registry_dir)
    seen = labeled_records(store, process)
    assert registry.training_keys("claims_fraud", "1") == set(seen.keys)

    # A challenger that learned the labels backwards: clearly worse on any evidence.
    schema = feature_schema(process)
    backwards = build_recipe(schema, "spline_logistic", {}).fit(seen.frame, 1 - seen.labels)
    policy = decision_policy(process)
    worse = registry.register(
        "claims_fraud",
        backwards,
        schema=schema,
        policy=policy,
        training_data_hash="sha256:backwards",
        metrics={},
        params={},
        training_keys=seen.keys,
    )
    stage(store, process.name, closed[400:], "hist-2")
    process_all(store, process)
    everything = labeled_records(store, process)

    comparison = compare_in_store(registry, "claims_fraud", worse.version, "1", everything, policy)
    assert comparison["records"] == len(everything.keys) - len(seen.keys)
    assert comparison["verdict"] == "worse"
    assert comparison["difference"]["low"] > 0
    assert comparison["records_hash"].startswith("sha256:")

    with pytest.raises(TrainingError, match=r"refusing to promote .* 'worse'"):
        promote_by_hand(
            registry, "claims_fraud", worse.version, everything, policy,
            reason="looks fine to me", override=False,
        )  # fmt: skip
    assert registry.champion("claims_fraud") == "1"

    promote_by_hand(
        registry, "claims_fraud", worse.version, everything, policy,
        reason="testing the override", override=True,
    )  # fmt: skip
    record = registry.champion_record("claims_fraud")
    assert record is not None and record.version == worse.version
    assert record.override and record.verdict == "worse"
    assert record.evidence["comparison"]["records_hash"] == comparison["records_hash"]


def test_retraining_compares_on_records_the_champion_never_saw(
    tmp_path: Path, store: Store, process: ProcessDefinition, claims: list[GeneratedClaim]
) -> None:
    closed = [c for c in claims if c.status == "closed"]
    registry_dir = tmp_path / "registry"
    stage(store, process.name, closed[:300], "hist-1")
    process_all(store, process)
    first = train_from_store(store, process, registry_dir)
    stage(store, process.name, closed[300:], "hist-2")
    process_all(store, process)

    second = train_from_store(store, process, registry_dir)

    assert second.trained and second.version == "2"
    comparison = second.comparison
    assert comparison is not None
    registry = ModelRegistry(registry_dir)
    # The evidence is new to the champion and kept out of the challenger's training.
    assert comparison["records"] > 0
    trained_on = registry.training_keys("claims_fraud", "2")
    assert trained_on is not None
    assert len(trained_on) + comparison["records"] == len(labeled_records(store, process).keys)
    assert second.promoted == (comparison["verdict"] == "better")
    assert registry.champion("claims_fraud") == (
        second.version if second.promoted else first.version
    )


def test_while_inputs_drift_a_challenger_waits_for_evidence_like_the_drift(
    tmp_path: Path, store: Store, process: ProcessDefinition, claims: list[GeneratedClaim]
) -> None:
    closed = [c for c in claims if c.status == "closed"]
    registry_dir = tmp_path / "registry"
    registry = ModelRegistry(registry_dir)
    stage(store, process.name, closed[:300], "hist-1")
    process_all(store, process)
    seen = labeled_records(store, process)
    schema = feature_schema(process)
    policy = decision_policy(process)

    def register(labels: object, tag: str) -> str:
        fitted = build_recipe(schema, "spline_logistic", {}).fit(seen.frame, labels)
        return registry.register(
            "claims_fraud",
            fitted,
            schema=schema,
            policy=policy,
            training_data_hash=f"sha256:{tag}",
            metrics={},
            params={},
            training_keys=seen.keys,
        ).version

    # A champion that learned the labels backwards, a challenger that learned them right.
    champion = register(1 - seen.labels, "backwards")
    registry.promote("claims_fraud", champion, reason="test", evidence={})
    challenger = register(seen.labels, "right")
    stage(store, process.name, closed[300:], "hist-2")
    process_all(store, process)
    evidence = unseen_by(
        registry, "claims_fraud", [champion, challenger], labeled_records(store, process)
    )
    assert len(evidence.keys) >= 250

    steady = judge(registry, "claims_fraud", challenger, champion, evidence, policy, 0)
    assert steady.promote and steady.verdict == "better"

    region = bin_categorical(seen.frame["region"])
    references = {"region": region}
    # Drifting, but towards a region none of the evidence is from: nothing to judge on.
    unseen_bin = len(region.categories)  # the "other" bucket
    elsewhere = DriftedPattern(champion, "run-1", references, {"region": frozenset({unseen_bin})})
    waiting = judge(registry, "claims_fraud", challenger, champion, evidence, policy, 0, elsewhere)
    assert not waiting.promote
    assert "waiting" in waiting.reason and "region in other" in waiting.reason
    assert "only 0 evidence records" in waiting.reason

    # Drifting towards two regions the evidence holds: judged on those records alone.
    two = frozenset({0, 1})
    here = DriftedPattern(champion, "run-1", references, {"region": two})
    judged = judge(registry, "claims_fraud", challenger, champion, evidence, policy, 0, here)
    like = list(region.categories[:2])
    expected = sum(1 for value in evidence.frame["region"] if value in like)
    assert judged.evidence["pattern_comparison"]["records"] == expected < len(evidence.keys)
    assert judged.promote and judged.verdict == "better"
    assert f"on the {expected} evidence records like them" in judged.reason
