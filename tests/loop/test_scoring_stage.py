"""The scoring stage against a real scoring service: decisions stored, nothing lost."""

from __future__ import annotations

import pytest

from rpaml_pipeline.process import ProcessDefinition, ReviewChoice, ReviewSpec
from rpaml_pipeline.scoring import ScoringClient
from rpaml_pipeline.scoring_stage import score_validated
from rpaml_pipeline.store import Store
from rpaml_sandbox.portal.generator import GeneratedClaim
from staged_claims import process_all, stage


def _open_claims(claims: list[GeneratedClaim]) -> list[GeneratedClaim]:
    return [c for c in claims if c.status == "open"]


def test_validated_records_are_scored_and_decided(
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    service_url: str,
    service_key: str,
) -> None:
    stage(store, process.name, _open_claims(claims), "collect")
    process_all(store, process)
    validated = store.counts(process.name)[process.name]["validated"]
    run_id = store.start_run(process.name, "score")
    with ScoringClient(service_url, api_key=service_key, chunk_size=7) as client:
        summary = score_validated(store, process, client, run_id=run_id)
    assert summary.error is None
    assert summary.scored == validated
    assert summary.waiting == 0
    assert sum(summary.decisions.values()) == validated
    assert summary.model_versions == ["1"]
    states = store.counts(process.name)[process.name]
    assert states.get("decided") == validated and "validated" not in states
    decided = [r for chunk in store.iter_records(process.name, "decided") for r in chunk]
    for record in decided:
        assert record.decision in {"approve", "escalate", "reject"}
        assert record.model_name == "claims_fraud" and record.model_version == "1"
        assert record.policy_version == "claims-costs-1"
        assert record.reasons and record.score is not None
        # The decision is the cheapest action, and the reasons list every action's cost.
        assert record.expected_costs is not None
        assert set(record.expected_costs) == {"approve", "escalate", "reject"}
        cheapest = min(record.expected_costs, key=record.expected_costs.__getitem__)
        assert record.decision == cheapest
        assert record.reasons[0].startswith("expected cost: approve ")
        assert record.reasons[0].endswith(f"-> {record.decision}")
        steps = [event.step for event in store.record_events(record.record_id)]
        assert steps[-2:] == ["score", "decide"]


def test_service_down_leaves_records_validated(
    store: Store, process: ProcessDefinition, claims: list[GeneratedClaim]
) -> None:
    stage(store, process.name, _open_claims(claims), "collect")
    process_all(store, process)
    before = store.counts(process.name)[process.name]["validated"]
    run_id = store.start_run(process.name, "score")
    # Port 9 on loopback: nothing listens there, so every attempt is refused.
    with ScoringClient("http://127.0.0.1:9", retries=1, backoff=0.01) as client:
        summary = score_validated(store, process, client, run_id=run_id)
    assert summary.error is not None and summary.scored == 0
    assert summary.waiting == before
    # The leases were given back: the next run can claim every record at once.
    assert len(store.claim(process.name, "validated", owner="next", limit=10_000)) == before


@pytest.mark.parametrize("key", [None, "not-the-key"], ids=["no key", "wrong key"])
def test_a_refused_key_leaves_records_validated(
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    service_url: str,
    key: str | None,
) -> None:
    stage(store, process.name, _open_claims(claims), "collect")
    process_all(store, process)
    before = store.counts(process.name)[process.name]["validated"]
    run_id = store.start_run(process.name, "score")
    with ScoringClient(service_url, api_key=key) as client:
        summary = score_validated(store, process, client, run_id=run_id)
    assert summary.error is not None and "answered 401" in summary.error
    assert "X-API-Key" in summary.error and summary.scored == 0
    assert summary.waiting == before
    # Given back at once, not when the leases expire.
    assert len(store.claim(process.name, "validated", owner="next", limit=10_000)) == before


def test_escalations_from_the_service_wait_in_the_review_queue(
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    service_url: str,
    service_key: str,
) -> None:
    review = ReviewSpec(
        action="escalate",
        sla_hours=24,
        choices={
            "approve": ReviewChoice(key="a", action="approve", outcome="legitimate"),
            "reject": ReviewChoice(key="r", action="reject", outcome="fraud"),
        },
    )
    reviewed = process.model_copy(update={"review": review})
    stage(store, process.name, _open_claims(claims), "collect")
    process_all(store, reviewed)
    run_id = store.start_run(process.name, "score")
    with ScoringClient(service_url, api_key=service_key) as client:
        summary = score_validated(store, reviewed, client, run_id=run_id)
    escalated = summary.decisions.get("escalate", 0)
    assert escalated > 0, summary.decisions
    states = store.counts(process.name)[process.name]
    assert states.get("review") == escalated
    assert states.get("decided", 0) == summary.scored - escalated
    queued = store.review.listing(process.name, limit=1000)
    assert len(queued) == escalated
    assert [item.value for item in queued] == sorted((i.value for i in queued), reverse=True)
    assert all(item.value >= 0 for item in queued)
    # The act robot is never offered an escalated record.
    offered = store.claim(process.name, "decided", owner="act", limit=1000)
    assert all(record.decision != "escalate" for record in offered)
