"""Worker functions run in separate processes by test_store_concurrency (importable by spawn)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline_claims import claim

from rpaml_pipeline.store import IncomingRecord, RecordState, StepEvent, Store, Transition

PROCESS = "claims_triage"


def ingest_then_claim(url: str, worker: str, shared: int, own: int, barrier: Any, out: str) -> None:
    """Ingest ``shared`` keys both workers also ingest plus ``own`` unique ones, in small
    batches, wait for the other worker, then claim and finish records until none is left."""
    store = Store.connect(url)
    run = store.start_run(PROCESS, "collect", worker)
    numbers = list(range(shared)) + [100_000 * (1 + int(worker[-1])) + n for n in range(own)]
    items = [
        IncomingRecord(f"CLM-{n:06d}" if n < 1_000_000 else f"CLM-{n}", claim(n), f"robot:{worker}")
        for n in numbers
    ]
    new = unchanged = revised = 0
    for start in range(0, len(items), 25):
        result = store.ingest(PROCESS, items[start : start + 25], run_id=run)
        new, unchanged, revised = (
            new + result.new,
            unchanged + result.unchanged,
            revised + result.revised,
        )
    barrier.wait(timeout=60)
    claimed: list[str] = []
    applied = 0
    while True:
        batch = store.claim(
            PROCESS, RecordState.COLLECTED, owner=worker, limit=9, lease_seconds=600
        )
        if not batch:
            break
        claimed.extend(r.record_id for r in batch)
        report = store.transition_many(
            [
                Transition(
                    record_id=r.record_id,
                    from_state=RecordState.COLLECTED,
                    to_state=RecordState.VALIDATED,
                    events=[StepEvent("check", "1", None, {"worker": worker})],
                )
                for r in batch
            ],
            run_id=run,
            owner=worker,
        )
        applied += report.applied
    store.close()
    Path(out).write_text(
        json.dumps(
            {
                "new": new,
                "unchanged": unchanged,
                "revised": revised,
                "claimed": claimed,
                "applied": applied,
            }
        )
    )
