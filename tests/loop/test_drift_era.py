"""The drift's era: evidence about a drifted pattern, and whether the champion learned it,
count only the records captured since the last scoring run judged without drift."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from pathlib import Path

from rpaml_models import ModelRegistry
from rpaml_models.drift import build_reference
from rpaml_models.recipes import build_recipe
from rpaml_pipeline.exploration import exploration_for
from rpaml_pipeline.model_spec import decision_policy, feature_schema
from rpaml_pipeline.model_training import labeled_records
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.feedback_spec import ExplorationSpec
from rpaml_pipeline.promotion import (
    MIN_EVIDENCE,
    LabeledRecords,
    drift_era_like,
    judge,
    unseen_by,
)
from rpaml_pipeline.store import Store
from rpaml_sandbox.portal.generator import GeneratedClaim, generate_claims
from staged_claims import SEED, process_all, stage

MODEL = "claims_fraud"


def _register(registry: ModelRegistry, process: ProcessDefinition, seen: LabeledRecords,
              labels: object, tag: str) -> str:  # fmt: skip
    schema = feature_schema(process)
    fitted = build_recipe(schema, "spline_logistic", {}).fit(seen.frame, labels)
    # The drift reference of its training data, as training stores it.
    reference = build_reference(seen.frame, schema, fitted.predict_proba(seen.frame)[:, 1])
    return registry.register(
        MODEL, fitted, schema=schema, policy=decision_policy(process),
        training_data_hash=f"sha256:{tag}", metrics={}, params={}, training_keys=seen.keys,
        reference=reference,
    ).version  # fmt: skip


def _scoring_run(store: Store, process: ProcessDefinition, registry: ModelRegistry,
                 version: str, grown: int | None) -> None:  # fmt: skip
    """A judged scoring run of ``version``: no drift, or ``region`` bin ``grown`` four
    times as common as at training, alerted."""
    reference = registry.metadata(MODEL, version).reference
    assert reference is not None
    binned = reference.features["region"]
    counts = [*binned.counts, binned.missing]
    if grown is not None:
        counts[grown] *= 4
    rows = sum(counts)
    own = {"rows": rows, "features": {"region": counts}, "score": None}
    figures = {"judged": True, "rows": rows, "counts": own}
    alerts = [] if grown is None else [
        {"kind": "drift", "level": "alert", "model_version": version, "feature": "region"}
    ]  # fmt: skip
    run_id = store.start_run(process.name, "score")
    store.finish_run(
        run_id, "succeeded",
        {"drift": {"model": MODEL, "versions": {version: figures}, "alerts": alerts}},
    )  # fmt: skip


def _exploring(process: ProcessDefinition) -> ProcessDefinition:
    """``process`` exploring nothing but every record of a drifted pattern."""
    spec = ExplorationSpec(action="escalate", share=0.0, share_on_drift=1.0, seed=1)
    policy = process.policy.model_copy(update={"exploration": spec})
    return process.model_copy(update={"policy": policy})


def test_exploration_of_a_drift_stops_once_the_champion_learned_it(
    tmp_path: Path, store: Store, process: ProcessDefinition
) -> None:
    process = _exploring(process)
    registry = ModelRegistry(tmp_path / "registry")
    # More claims than the module's: the drift's era must hold enough records of the
    # pattern both to train on and to judge the champion on.
    closed = [
        c for c in generate_claims(SEED, open_claims=0, closed_claims=1200) if c.status == "closed"
    ]
    stage(store, process.name, closed[:300], "hist-1")
    process_all(store, process)
    before = labeled_records(store, process)
    old = _register(registry, process, before, before.labels, "old")
    registry.promote(MODEL, old, reason="test", evidence={})
    reference = registry.metadata(MODEL, old).reference
    assert reference is not None
    region = Counter(c.region for c in closed[300:]).most_common(1)[0][0]
    grown = reference.features["region"].categories.index(region)

    _scoring_run(store, process, registry, old, None)  # judged, no drift: the era starts
    stage(store, process.name, closed[300:], "hist-2")
    process_all(store, process)
    _scoring_run(store, process, registry, old, grown)

    found = exploration_for(store, process, registry)
    assert found is not None and found.pattern is not None and found.learned is None
    assert found.pattern.since is not None
    # The champion's training records like the pattern are all from before the drift.
    everything = labeled_records(store, process)
    assert len(drift_era_like(registry, MODEL, old, before, found.pattern).keys) == 0

    # Champions trained on half of the era: seeing the pattern is not enough, a champion
    # whose decisions on the other half cost more than exploring them is still explored.
    era = {c.claim_id for c in closed[300:]}
    half = [i for i, key in enumerate(everything.keys) if key not in era or i % 2 == 0]
    trained = everything.subset(half)
    backwards = _register(registry, process, trained, 1 - trained.labels, "backwards")
    registry.promote(MODEL, backwards, reason="test", evidence={})
    still = exploration_for(store, process, registry)
    assert still is not None and still.pattern is not None and still.learned is None

    new = _register(registry, process, trained, trained.labels, "new")
    registry.promote(MODEL, new, reason="test", evidence={})
    stopped = exploration_for(store, process, registry)
    assert stopped is not None and stopped.pattern is None and stopped.learned is not None
    seen = drift_era_like(registry, MODEL, new, trained, found.pattern)
    assert len(seen.keys) >= MIN_EVIDENCE
    assert stopped.learned.startswith(f"v{new} was trained on {len(seen.keys)} records (")
    assert f"region in {region}" in stopped.learned and "it never saw" in stopped.learned

    # Without a known start (no run judged without drift) nothing counts as learned.
    unknown = dataclasses.replace(found.pattern, since=None)
    assert len(drift_era_like(registry, MODEL, new, everything, unknown).keys) == sum(
        1 for value in everything.frame["region"] if value == region
    )


def test_promotion_while_drifting_counts_only_evidence_of_the_drifts_era(
    tmp_path: Path, store: Store, process: ProcessDefinition, claims: list[GeneratedClaim]
) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    closed = [c for c in claims if c.status == "closed"]
    stage(store, process.name, closed[:300], "hist-1")
    process_all(store, process)
    seen = labeled_records(store, process)
    champion = _register(registry, process, seen, 1 - seen.labels, "backwards")
    registry.promote(MODEL, champion, reason="test", evidence={})
    challenger = _register(registry, process, seen, seen.labels, "right")
    region = Counter(c.region for c in closed[300:]).most_common(1)[0][0]
    reference = registry.metadata(MODEL, champion).reference
    assert reference is not None
    _scoring_run(store, process, registry, champion, None)
    stage(store, process.name, closed[300:], "hist-2")
    process_all(store, process)
    _scoring_run(
        store, process, registry, champion, reference.features["region"].categories.index(region)
    )
    evidence = unseen_by(registry, MODEL, [champion, challenger], labeled_records(store, process))
    found = exploration_for(store, _exploring(process), registry)
    assert found is not None and found.pattern is not None
    policy = decision_policy(process)

    judged = judge(registry, MODEL, challenger, champion, evidence, policy, 0, found.pattern)
    like = sum(1 for value in evidence.frame["region"] if value == region)
    assert judged.promote and judged.evidence["pattern_comparison"]["records"] == like

    # The same pattern, had the drift begun after every record was captured: no evidence.
    later = dataclasses.replace(found.pattern, since=dt.datetime.now(dt.UTC))
    waiting = judge(registry, MODEL, challenger, champion, evidence, policy, 0, later)
    assert not waiting.promote and "only 0 evidence records" in waiting.reason
