"""Claims staged the way the robots stage them, for tests in any folder.

``stage`` ingests sandbox claims as the collect (or history) robot does and enriches
them as the enrichment robot does, so the pipeline sees what it sees in production.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.store import IncomingRecord, Store
from rpaml_pipeline.store.records import StoredRecord
from rpaml_sandbox.desktop.policies import policy_for_claim
from rpaml_sandbox.portal.display import display_values
from rpaml_sandbox.portal.generator import GeneratedClaim

PROJECT = Path(__file__).resolve().parents[2]
PROCESS_FILE = PROJECT / "pipeline" / "processes" / "claims_triage.yaml"
SEED = 11


def screen_row(claim: GeneratedClaim, seed: int = SEED) -> dict[str, str]:
    """The raw strings a robot reads for ``claim`` (list page + detail page or export)."""
    shown = asdict(display_values(claim, seed))
    row = {"claim_id": claim.claim_id, "status": claim.status, **shown}
    if claim.outcome is not None:
        row["outcome"] = claim.outcome
    else:
        row.pop("closed_date")
    return row


def stage(
    store: Store,
    process: str,
    claims: Sequence[GeneratedClaim],
    source: str,
    *,
    seed: int = SEED,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """Ingest ``claims`` as a robot run would, then enrich them; return the run id.

    ``overrides`` replaces displayed values per claim id (to stage a bad record).
    """
    run_id = store.start_run(process, "collect", robot=source)
    changes = overrides or {}
    result = store.ingest(
        process,
        [
            IncomingRecord(
                natural_key=claim.claim_id,
                payload={**screen_row(claim, seed), **changes.get(claim.claim_id, {})},
                source=f"robot:{source}",
                source_location=f"http://portal.test/claims/{claim.claim_id}",
            )
            for claim in claims
        ],
        run_id=run_id,
    )
    enrich(store, zip(result.record_ids, claims, strict=True), run_id, seed=seed)
    store.finish_run(run_id, "succeeded")
    return run_id


def enrich(
    store: Store, staged: Iterable[tuple[str, GeneratedClaim]], run_id: str, *, seed: int = SEED
) -> None:
    """What the enrichment robot does: look each policy up in the desktop application's
    data and stage it (a policy number the portal shows corrupted is not found there)."""
    for record_id, claim in staged:
        shown = display_values(claim, seed).policy_number
        if shown != claim.policy_number:
            store.quarantine(record_id, f"policy {shown} does not exist", run_id=run_id)
            continue
        store.add_enrichment(
            record_id,
            source="robot:enrich_policies",
            location="policy administration (test data)",
            search_term=shown,
            payload=policy_for_claim(claim, seed).as_dict(),
            run_id=run_id,
        )


def process_all(store: Store, process: ProcessDefinition) -> dict[str, object]:
    """Run the processing stage once over everything collected; return its summary."""
    run_id = store.start_run(process.name, "process")
    summary = process_collected(store, process, run_id).as_dict()
    store.finish_run(run_id, "succeeded", summary)
    return summary


def act_on_all_decided(store: Store, process: ProcessDefinition) -> dict[str, StoredRecord]:
    """Apply every decided record as the act robot would (lease, acting, receipt); return
    the records as they were decided, by natural key."""
    chunks = store.iter_records(process.name, "decided")
    decided = {record.natural_key: record for chunk in chunks for record in chunk}
    store.claim(process.name, "decided", owner="robot", limit=len(decided))
    for record in decided.values():
        store.mark_acting(record.record_id, owner="robot")
        store.record_action(record.record_id, receipt="RCPT-00000001", outcome="applied")
    return decided
