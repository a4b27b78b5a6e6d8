"""Sandbox claims staged as the robots stage them, for bench/decisions.py.

History and fresh claims go through the real pipeline: the values a robot reads from the
portal (messy display strings), the policy the enrichment robot looks up in the desktop
application, then cleaning, validation, labeling and the transform. The hidden truth
(each claim's fraud probability given what the portal and the policy application show)
is kept beside the records for measuring only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.store import IncomingRecord, Store
from rpaml_sandbox.desktop.policies import fraud_probability_given_policy, policy_for_claim
from rpaml_sandbox.portal.display import display_values
from rpaml_sandbox.portal.generator import GeneratedClaim, generate_claims

HISTORY_OPEN, HISTORY_CLOSED = 120, 1500
CHUNK = 2000


def history_claims(seed: int) -> list[GeneratedClaim]:
    """The closed claims of the portal the demo starts with ``seed`` (its history export)."""
    return [c for c in generate_claims(seed, HISTORY_OPEN, HISTORY_CLOSED) if c.outcome]


def fresh_claims(seed: int, n: int) -> tuple[int, list[GeneratedClaim]]:
    """``n`` new open claims of the same generator, from a stream of their own."""
    stream = 1_000_003 + seed
    return stream, generate_claims(stream, n, 0)


def truth(claims: Sequence[GeneratedClaim], seed: int) -> dict[str, float]:
    """Claim id -> fraud probability given the claim and its policy record."""
    owners: dict[str, str] = {}
    out: dict[str, float] = {}
    for claim in claims:
        owner = owners.setdefault(claim.policy_number, claim.claim_id)
        out[claim.claim_id] = (
            fraud_probability_given_policy(claim, seed)
            if owner == claim.claim_id
            else claim.fraud_probability
        )
    return out


def stage_and_process(
    store: Store, process: ProcessDefinition, claims: Sequence[GeneratedClaim], seed: int
) -> None:
    """Stage ``claims`` as the collect (or history) and enrichment robots do; process them."""
    policies: dict[str, object] = {}
    for claim in claims:
        policies.setdefault(claim.policy_number, policy_for_claim(claim, seed))
    for start in range(0, len(claims), CHUNK):
        part = claims[start : start + CHUNK]
        run_id = store.start_run(process.name, "collect", robot="bench")
        rows = []
        for claim in part:
            shown = asdict(display_values(claim, seed))
            row = {"claim_id": claim.claim_id, "status": claim.status, **shown}
            if claim.outcome is not None:
                row["outcome"] = claim.outcome
            else:
                row.pop("closed_date")
            rows.append(
                IncomingRecord(
                    natural_key=claim.claim_id,
                    payload=row,
                    source="robot:bench",
                    source_location=f"bench://{claim.claim_id}",
                )
            )
        result = store.ingest(process.name, rows, run_id=run_id)
        for record_id, claim in zip(result.record_ids, part, strict=True):
            shown_policy = display_values(claim, seed).policy_number
            if shown_policy != claim.policy_number:
                store.quarantine(record_id, f"policy {shown_policy} does not exist", run_id=run_id)
                continue
            policy = policies[claim.policy_number]
            store.add_enrichment(
                record_id,
                source="robot:enrich_policies",
                location="policy administration (bench)",
                search_term=shown_policy,
                payload=policy.as_dict(),  # type: ignore[attr-defined]
                run_id=run_id,
            )
        store.finish_run(run_id, "succeeded")
    run_id = store.start_run(process.name, "process")
    summary = process_collected(store, process, run_id).as_dict()
    store.finish_run(run_id, "succeeded", summary)
