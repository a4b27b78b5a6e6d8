"""Outcomes that teach without bias: exploration and label maturity."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from rpaml_models import ModelRegistry
from rpaml_pipeline import decision_quality
from rpaml_pipeline.errors import ProcessFileError
from rpaml_pipeline.exploration import EXPLORED, Exploration, exploration_for
from rpaml_pipeline.model_training import TrainingOutcome, labeled_records
from rpaml_pipeline.monitoring.outcome_frame import decision_outcomes
from rpaml_pipeline.process import ProcessDefinition, load_process
from rpaml_pipeline.process.feedback_spec import ExplorationSpec, MaturitySpec
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.scoring import ScoringClient
from rpaml_pipeline.scoring_stage import score_validated
from rpaml_pipeline.stages import ProcessStage, run_stage
from rpaml_pipeline.store import Store
from rpaml_sandbox.portal.generator import GeneratedClaim
from staged_claims import PROCESS_FILE, act_on_all_decided, process_all, stage


def _score(store: Store, process: ProcessDefinition, url: str, key: str, **kwargs: object) -> None:
    run_id = store.start_run(process.name, "score")
    with ScoringClient(url, api_key=key) as client:
        score_validated(store, process, client, run_id=run_id, **kwargs)  # type: ignore[arg-type]
    store.finish_run(run_id, "succeeded")


def test_the_picked_share_is_seeded_nested_and_close_to_the_declared_one() -> None:
    keys = [f"CLM-{n:06d}" for n in range(20_000)]
    small = {k for k in keys if Exploration("escalate", 0.02, 7).picks(k)}
    large = {k for k in keys if Exploration("escalate", 0.25, 7).picks(k)}
    assert 0.015 < len(small) / len(keys) < 0.025
    assert 0.24 < len(large) / len(keys) < 0.26
    # Raising the share while drift is alerted keeps every record picked before.
    assert small <= large
    # Another seed picks other records; the same seed the same ones.
    assert small != {k for k in keys if Exploration("escalate", 0.02, 8).picks(k)}
    assert small == {k for k in keys if Exploration("escalate", 0.02, 7).picks(k)}


def test_explored_records_are_escalated_with_the_reason_and_their_costs_kept(
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    service_url: str,
    service_key: str,
) -> None:
    opened = [c for c in claims if c.status == "open"]
    stage(store, process.name, opened, "collect_claims")
    process_all(store, process)
    exploring = Exploration("escalate", 0.5, 3)
    _score(store, process, service_url, service_key, exploration=exploring)

    decided = [r for chunk in store.iter_records(process.name, "decided") for r in chunk]
    assert len(decided) > 50  # a generated claim or two fails validation
    explored = [r for r in decided if r.reasons and str(r.reasons[0]).startswith(EXPLORED)]
    assert explored, "half the records picked: some were not escalated by the policy"
    for record in decided:
        assert record.expected_costs is not None
        cheapest = min(record.expected_costs, key=record.expected_costs.__getitem__)
        if record in explored:
            assert record.decision == "escalate" and cheapest != "escalate"
            assert exploring.picks(record.natural_key)
            assert f"escalate instead of {cheapest}" in str((record.reasons or [""])[0])
        else:
            # Not picked, or the policy escalated anyway: the policy's own decision.
            assert record.decision == cheapest or record.decision == "escalate"
            assert not exploring.picks(record.natural_key) or cheapest == "escalate"


def test_while_inputs_drift_the_records_like_what_grew_are_all_explored(
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    trained_registry: tuple[Path, TrainingOutcome],
    service_url: str,
    service_key: str,
) -> None:
    registry_dir, trained = trained_registry
    registry = ModelRegistry(registry_dir)
    spec = ExplorationSpec(action="escalate", share=0.0, share_on_drift=1.0, seed=1)
    process = process.model_copy(
        update={"policy": process.policy.model_copy(update={"exploration": spec})}
    )
    version = trained.version
    reference = registry.metadata("claims_fraud", version).reference
    assert reference is not None
    opened = [c for c in claims if c.status == "open"]
    region = Counter(c.region for c in opened).most_common(1)[0][0]
    grown = reference.features["region"].categories.index(region)

    def scoring_run(judged: bool, levels: dict[str, str]) -> None:
        # The recent rows: the training shares, but ``region`` four times as common.
        counts = {}
        for name in levels:
            binned = reference.features[name]
            counts[name] = [*binned.counts, binned.missing]
        counts["region"][grown] *= 4
        rows = sum(counts["region"])
        drift = {
            "model": "claims_fraud",
            "versions": {
                version: {
                    "judged": judged,
                    "rows": rows,
                    "counts": {"rows": rows, "features": counts, "score": None},
                }
            },
            "alerts": [
                {"kind": "drift", "level": level, "model_version": version, "feature": name}
                for name, level in levels.items()
            ],
        }
        run_id = store.start_run(process.name, "score")
        store.finish_run(run_id, "succeeded", {"drift": drift})

    assert exploration_for(store, process, registry) == Exploration("escalate", 0.0, 1, 1.0)
    scoring_run(True, {"region": "alert", "channel": "warn"})
    found = exploration_for(store, process, registry)
    assert found is not None and found.pattern is not None
    # Only the bin that grew; the channel's shares did not move.
    assert dict(found.pattern.grown) == {"region": frozenset({grown})}
    assert found.pattern.describe() == f"region in {region}"
    # A later run too small for a verdict says nothing: the last verdict stands.
    scoring_run(False, {"region": "alert"})
    assert exploration_for(store, process, registry) == found

    stage(store, process.name, opened, "collect_claims")
    process_all(store, process)
    _score(store, process, service_url, service_key, exploration=found)
    decided = [r for chunk in store.iter_records(process.name, "decided") for r in chunk]
    by_key = {c.claim_id: c for c in opened}
    for record in decided:
        explored = bool(record.reasons) and str(record.reasons[0]).startswith(EXPLORED)
        like_the_drift = by_key[record.natural_key].region == region
        # Every claim of the grown region is escalated (by the policy or by exploration),
        # no other claim is explored (share 0).
        assert explored == (
            like_the_drift
            and min(record.expected_costs or {}, key=(record.expected_costs or {}).__getitem__)
            != "escalate"
        )
        if like_the_drift:
            assert record.decision == "escalate"
        if explored:
            assert f"like the inputs that drifted from v{version}" in str(record.reasons[0])

    # A warning alone is not an alert: a later judged run without an alert ends it.
    scoring_run(True, {"region": "warn"})
    assert exploration_for(store, process, registry) == Exploration("escalate", 0.0, 1, 1.0)


def test_an_approvals_outcome_waits_until_its_cohort_is_mature(
    tmp_path: Path,
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    service_url: str,
    service_key: str,
) -> None:
    maturity = MaturitySpec(
        entered_on="reported_date", observed_on="closed_date", days={"approve": 30}
    )
    retrain = process.model.retrain.model_copy(update={"maturity": maturity})
    process = process.model_copy(
        update={"model": process.model.model_copy(update={"retrain": retrain})}
    )
    opened = [c for c in claims if c.status == "open"]
    # Half the claims were reported 60 days earlier (all their dates move together).
    shift = dt.timedelta(days=60)
    old = {c.claim_id for c in opened[::2]}
    opened = [
        dataclasses.replace(
            c,
            reported_date=c.reported_date - shift,
            incident_date=c.incident_date - shift,
            policy_start_date=c.policy_start_date - shift,
        )
        if c.claim_id in old
        else c
        for c in opened
    ]
    stage(store, process.name, opened, "collect_claims")
    process_all(store, process)
    _score(store, process, service_url, service_key)
    decided = act_on_all_decided(store, process)
    # Everything closes as paid; the newest closing date is 10 days after the latest report.
    today = max(c.reported_date for c in opened) + dt.timedelta(days=10)
    closed = [
        dataclasses.replace(c, status="closed", closed_date=today, outcome="Paid") for c in opened
    ]
    stage(store, process.name, closed, "download_history")
    run_stage(Runtime.of(store, process, data_dir=tmp_path), ProcessStage())

    used = set(labeled_records(store, process).keys)
    approved = {key for key, r in decided.items() if r.decision == "approve"}
    assert approved & old and approved - old, "the fixture's claims give both cohorts approvals"
    for key, record in decided.items():
        young = key not in old and (today - record_reported(opened, key)).days < 30
        if record.decision == "approve" and young:
            assert key not in used, f"{key}: approved {record_reported(opened, key)}, immature"
        else:
            assert key in used, f"{key}: {record.decision}, old={key in old}"
    # Monitoring reads them alike: an immature approval's outcome is still unknown there,
    # and its decision week is that of the day the claim was reported.
    frame = decision_outcomes(store, process).set_index("record_id")
    for key, record in decided.items():
        row = frame.loc[record.record_id]
        assert row["decided_at"].date() == record_reported(opened, key)
        immature = record.decision == "approve" and key not in used
        assert pd.isna(row["label"]) == immature, key
    # Without maturity every outcome teaches at once.
    plain = process.model_copy(
        update={
            "model": process.model.model_copy(
                update={"retrain": retrain.model_copy(update={"maturity": None})}
            )
        }
    )
    assert set(decided) <= set(labeled_records(store, plain).keys)


def record_reported(claims: list[GeneratedClaim], key: str) -> dt.date:
    return next(c.reported_date for c in claims if c.claim_id == key)


@pytest.mark.parametrize(
    ("edit", "key", "expected"),
    [
        (
            ("  exploration: {action: escalate,", "  exploration: {action: audit,"),
            "policy.exploration.action",
            "'audit' is not an action of policy.actions",
        ),
        (
            ("      entered_on: reported_date", "      entered_on: amount"),
            "model.retrain.maturity.entered_on",
            "'amount' is not a date field of the contract",
        ),
        (
            ("      days: {approve: 30}", "      days: {pay: 30}"),
            "model.retrain.maturity.days.pay",
            "'pay' is not an action of policy.actions",
        ),
        (
            ("      days: {approve: 30}", "      days: {approve: -1}"),
            "model.retrain.maturity.days.approve",
            "expected a number of days >= 0",
        ),
        (
            ("share_on_drift: 1.0", "share_on_drift: 1.5"),
            "policy.exploration.share_on_drift",
            "",
        ),
    ],
)
def test_a_wrong_feedback_section_is_refused_naming_the_key(
    tmp_path: Path, edit: tuple[str, str], key: str, expected: str
) -> None:
    text = PROCESS_FILE.read_text()
    assert edit[0] in text
    path = tmp_path / "claims_triage.yaml"
    path.write_text(text.replace(edit[0], edit[1]))
    with pytest.raises(ProcessFileError) as raised:
        load_process(path)
    message = str(raised.value)
    assert str(path) in message and key in message and expected in message


def test_a_promotion_is_costed_on_the_same_claims_by_both_versions(
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    trained_registry: tuple[Path, TrainingOutcome],
    service_url: str,
    service_key: str,
) -> None:
    registry_dir, trained = trained_registry
    opened = [c for c in claims if c.status == "open"]
    stage(store, process.name, opened, "collect_claims")
    process_all(store, process)
    _score(store, process, service_url, service_key)
    decided = list(act_on_all_decided(store, process).values())
    truth = {c.claim_id: c.fraud_probability for c in opened}
    registry = ModelRegistry(registry_dir)
    version = trained.version

    check = decision_quality.versions_on_truth(store, process, registry, (version, version), truth)
    # The served champion decided these claims: scored afresh, the same version's policy
    # costs what its applied decisions cost, and never less than the oracle.
    applied = decision_quality.measure(store, process, truth)["cost_per_record"]
    assert check["records"] == len(decided)
    assert check["cost_per_record"][version] == pytest.approx(
        applied[decision_quality.MODEL_ROW], rel=1e-9
    )
    assert check["oracle"] == pytest.approx(applied["oracle"])
    assert check["oracle"] <= check["cost_per_record"][version]
