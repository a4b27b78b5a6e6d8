"""Shadow mode through the loop: a real scoring service on loopback serving a champion and
a challenger, the scoring stage on a SQLite store, the act robot's library, outcomes coming
back, and ``rpaml model compare NAME``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rpaml_models import ModelRegistry, train_model, training_data_hash
from rpaml_pipeline.child_processes import ManagedProcess
from rpaml_pipeline.cli import main
from rpaml_pipeline.model_spec import decision_policy, feature_schema
from rpaml_pipeline.model_training import TrainingOutcome, labeled_records
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.decision_spec import ShadowSpec
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.secrets_file import SERVICE_KEY, write_service_keys
from rpaml_pipeline.stages import ProcessStage, ScoreStage, run_stage
from rpaml_pipeline.store import Store
from rpaml_pipeline.store.records import StoredRecord
from rpaml_robots.staging import Staging
from rpaml_sandbox.portal.generator import GeneratedClaim
from staged_claims import PROCESS_FILE, act_on_all_decided, process_all, stage

MODEL = "claims_fraud"


def _shadowing(process: ProcessDefinition, enabled: bool = True) -> ProcessDefinition:
    model = process.model.model_copy(update={"shadow": ShadowSpec(enabled=enabled)})
    return process.model_copy(update={"model": model})


@pytest.fixture(scope="module")
def shadow_registry(
    tmp_path_factory: pytest.TempPathFactory,
    trained_registry: tuple[Path, TrainingOutcome],
    process: ProcessDefinition,
) -> Path:
    """The session's registry (champion v1) with challenger v2: another model, trained on
    part of the same history with other parameters, under the same policy."""
    source, _ = trained_registry
    root = tmp_path_factory.mktemp("shadow-registry") / "registry"
    shutil.copytree(source, root)
    with Store.connect(f"sqlite:///{source.parent / 'rpaml.db'}") as history:
        records = labeled_records(history, process)
    frame, labels = records.frame.iloc[:300], records.labels[:300]
    result = train_model(frame, labels, feature_schema(process), {"max_iter": 30}, seed=3)
    registry = ModelRegistry(root)
    metadata = registry.register(
        MODEL,
        result.pipeline,
        schema=feature_schema(process),
        policy=decision_policy(process),
        training_data_hash=training_data_hash(frame, labels),
        metrics=result.metrics,
        params={"max_iter": 30},
    )
    registry.set_challenger(MODEL, metadata.version, reason="not promoted: no better")
    return root


@pytest.fixture(scope="module")
def shadow_service(
    tmp_path_factory: pytest.TempPathFactory, shadow_registry: Path, service_key: str
) -> Iterator[str]:
    """A scoring service process on a free loopback port serving champion and challenger."""
    run_dir = tmp_path_factory.mktemp("shadow-service")
    keys_file = write_service_keys(run_dir, {SERVICE_KEY: service_key})
    command = [sys.executable, "-m", "rpaml_service", "--registry", str(shadow_registry)]
    with ManagedProcess(
        "scoring service",
        [*command, "--port", "0", "--ready-file", str(run_dir / "url")],
        ready_file=run_dir / "url",
        log_file=run_dir / "service.log",
        env={**os.environ, "RPAML_SERVICE_API_KEYS_FILE": str(keys_file)},
    ) as service:
        yield service.url


def _runtime(
    store: Store, process: ProcessDefinition, data_dir: Path, url: str, key: str
) -> Runtime:
    runtime = Runtime.of(store, process, data_dir=data_dir, service_url=url)
    return dataclasses.replace(runtime, service_api_key=key)


def _decided(store: Store, process: ProcessDefinition) -> dict[str, StoredRecord]:
    return {r.record_id: r for chunk in store.iter_records(process.name, "decided") for r in chunk}


def test_shadow_decisions_are_stored_for_every_record_and_only_the_champions_is_acted_on(
    tmp_path: Path,
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    shadow_service: str,
    shadow_registry: Path,
    service_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shadowing = _shadowing(process)
    stage(store, process.name, [c for c in claims if c.status == "open"], "collect_claims")
    process_all(store, process)
    runtime = _runtime(store, shadowing, tmp_path, shadow_service, service_key)
    result = run_stage(runtime, ScoreStage())

    assert result.succeeded, result.error
    decided = {r.record_id: r for c in store.iter_records(process.name, "decided") for r in c}
    assert len(decided) > 20
    assert result.summary["scored"] == result.summary["shadowed"] == len(decided)
    challenger = ModelRegistry(shadow_registry).load(MODEL, "2")
    features = [decided[record_id].features or {} for record_id in sorted(decided)]
    expected = challenger.score(features, explain=False).results
    for record_id, theirs in zip(sorted(decided), expected, strict=True):
        record = decided[record_id]
        assert record.model_version == "1"  # the champion's decision is the record's
        [shadow] = store.shadow.of_record(record_id)
        assert (shadow.model_version, shadow.champion_version) == ("2", "1")
        assert shadow.policy_version == "claims-costs-1" and shadow.run_id == result.run_id
        assert shadow.score == pytest.approx(theirs.score)
        assert shadow.decision == theirs.action
        assert shadow.expected_costs == pytest.approx(theirs.expected_costs)
    differing = [r for r in decided if store.shadow.of_record(r)[0].decision != decided[r].decision]
    assert differing, "the challenger should disagree with the champion on some claims"

    # The act robot's library leases the decided records with the champion's decision.
    monkeypatch.setenv("RPAML_STORE_URL", f"sqlite:///{tmp_path / 'rpaml.db'}")
    monkeypatch.setenv("RPAML_PROCESS_FILE", str(PROCESS_FILE))
    monkeypatch.setenv("RPAML_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("RPAML_RUN_ID", raising=False)
    robot = Staging()
    work = robot.claim_decisions_to_apply(limit=1000)
    robot.store.close()
    assert {item["record_id"]: item["decision"] for item in work} == {
        record_id: record.decision for record_id, record in decided.items()
    }

    # People see it: the record's lineage shows the shadow decision, not acted on.
    first = differing[0]
    shown = CliRunner().invoke(
        main, ["lineage", first], env={"RPAML_DATA_DIR": str(tmp_path)}, catch_exceptions=False
    )
    assert shown.exit_code == 0, shown.output
    shadow = store.shadow.of_record(first)[0]
    assert f"  decision   {decided[first].decision} (score" in shown.output
    assert (
        f"  shadow     {shadow.decision} (score {shadow.score:.3f}, challenger "
        f"claims_fraud v2 beside v1, policy claims-costs-1" in shown.output
    )


def test_shadow_off_stores_nothing_and_asks_for_no_challenger(
    tmp_path: Path,
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    shadow_service: str,
    service_key: str,
) -> None:
    assert process.model.shadow.enabled is False  # the shipped process file: off
    stage(store, process.name, [c for c in claims if c.status == "open"][:20], "collect")
    process_all(store, process)
    runtime = _runtime(store, process, tmp_path, shadow_service, service_key)
    result = run_stage(runtime, ScoreStage())

    assert result.succeeded and result.summary["scored"] == 20
    assert result.summary["shadowed"] == 0
    assert store.shadow.counts(process.name, MODEL) == {}
    assert all(not store.shadow.of_record(record_id) for record_id in _decided(store, process))
    # The same service scores the challenger for a client that asks, and for no other.
    record = next(iter(_decided(store, process).values()))
    items = [("r1", dict(record.features or {}))]
    with runtime.scoring_client() as client:
        assert client.score(MODEL, items)[0].shadow is None
    asking = _runtime(store, _shadowing(process), tmp_path, shadow_service, service_key)
    with asking.scoring_client() as client:
        shadow = client.score(MODEL, items)[0].shadow
    assert shadow is not None and shadow.model_version == "2"


def _realised(process: ProcessDefinition, action: str, label: int, amount: float) -> float:
    policy = process.policy
    assert policy.costs is not None and policy.outcomes is not None
    outcome = next(name for name, value in policy.outcomes.items() if value == label)
    cell = policy.costs[action][outcome]
    return cell.fixed + cell.per_unit * amount


def test_compare_reports_the_realised_cost_of_both_on_the_same_records(
    tmp_path: Path,
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    shadow_service: str,
    service_key: str,
) -> None:
    opened = [c for c in claims if c.status == "open"][:40]
    stage(store, process.name, opened, "collect_claims")
    process_all(store, process)
    runtime = _runtime(store, _shadowing(process), tmp_path, shadow_service, service_key)
    assert run_stage(runtime, ScoreStage()).succeeded
    env = {"RPAML_DATA_DIR": str(tmp_path), "RPAML_REGISTRY_DIR": str(tmp_path / "registry")}
    before = CliRunner().invoke(main, ["model", "compare", MODEL], env=env)
    assert before.exit_code == 0, before.output
    assert "no records of claims_triage have both a champion and a shadow decision" in (
        before.output
    )
    assert "(40 shadow decision(s) stored)" in before.output

    decided = act_on_all_decided(store, process)
    # Three in four close with their outcome; the others are still open.
    closing = opened[:30]
    closed = [
        dataclasses.replace(
            claim,
            status="closed",
            closed_date=dt.date(2026, 4, 20),
            outcome="Fraud confirmed" if n % 3 == 0 else "Paid",
        )
        for n, claim in enumerate(closing)
    ]
    stage(store, process.name, closed, "download_history")
    assert run_stage(Runtime.of(store, process, data_dir=tmp_path), ProcessStage()).succeeded

    shown = CliRunner().invoke(main, ["model", "compare", MODEL, "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    figures = json.loads(shown.output)
    [row] = figures["comparisons"]
    assert row["challenger_version"] == "2" and row["champion_versions"] == ["1"]
    champion, challenger, positives, explored = [], [], 0, 0
    for n, claim in enumerate(closing):
        record = decided[claim.claim_id]
        if (record.reasons or [""])[0].startswith("exploration:"):
            explored += 1  # not the champion's policy that acted: left out
            continue
        label = 1 if n % 3 == 0 else 0
        positives += label
        amount = float((record.features or {})["amount"])
        [shadow] = store.shadow.of_record(record.record_id)
        champion.append(_realised(process, str(record.decision), label, amount))
        challenger.append(_realised(process, shadow.decision, label, amount))
    assert figures["explored"] == explored
    assert figures["records"] == row["records"] == len(closing) - explored == len(champion)
    assert row["positives"] == positives
    assert row["champion"]["mean"] == pytest.approx(np.mean(champion))
    assert row["challenger"]["mean"] == pytest.approx(np.mean(challenger))
    assert row["champion"]["total"] == pytest.approx(sum(champion))
    difference = row["difference"]
    assert difference["mean"] == pytest.approx(np.mean(challenger) - np.mean(champion))
    assert difference["low"] <= difference["mean"] <= difference["high"]
    assert row["verdict"] in {"better", "no better", "worse"}
    # Seeded: the same figures again.
    again = CliRunner().invoke(main, ["model", "compare", MODEL, "--json"], env=env)
    assert json.loads(again.output) == figures
    text = CliRunner().invoke(main, ["model", "compare", MODEL], env=env)
    assert f"on {len(champion)} decided records an outcome judged ({positives} positive" in (
        text.output
    )
    assert f"champion (acted on):   {np.mean(champion):,.2f} per record" in text.output
    assert f"challenger (shadow):   {np.mean(challenger):,.2f} per record" in text.output
