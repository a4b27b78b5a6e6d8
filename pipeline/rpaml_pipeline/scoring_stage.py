"""The scoring stage: validated records go to the scoring service and come back decided.

Work is claimed with leases, so two scoring workers never send the same record. When
the service is down, or refuses the request as a whole (a missing or wrong API key, an
unknown model), the leases are given back and the records stay ``validated``: nothing
is lost, the next run scores them. A record whose features the model refuses
(a process file that no longer matches the served model) is quarantined with the
service's reasons rather than retried for ever.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.scoring import (
    ScoreResult,
    ScoringClient,
    ScoringError,
    ScoringRejectedError,
)
from rpaml_pipeline.store import RecordState, StepEvent, Store, StoredRecord, Transition

STEP_VERSION = "1"


@dataclass
class ScoringSummary:
    """What a scoring run did."""

    scored: int = 0
    rejected: int = 0
    waiting: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    model_versions: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def default_owner(stage: str) -> str:
    """A lease owner naming this host and process, readable in the store."""
    return f"{stage}@{socket.gethostname()}:{os.getpid()}"


def score_validated(
    store: Store,
    process: ProcessDefinition,
    client: ScoringClient,
    *,
    run_id: str,
    owner: str | None = None,
    batch_size: int = 500,
    lease_seconds: float = 300,
) -> ScoringSummary:
    """Score every validated record of ``process`` and store score and decision."""
    owner = owner or default_owner("score")
    summary = ScoringSummary()
    decisions: Counter[str] = Counter()
    versions: set[str] = set()
    while True:
        batch = store.claim(
            process.name,
            RecordState.VALIDATED,
            owner=owner,
            limit=batch_size,
            lease_seconds=lease_seconds,
        )
        if not batch:
            break
        items = [(record.record_id, record.features or {}) for record in batch]
        try:
            results = client.score(process.model.name, items)
            rejected: dict[str, str] = {}
        except ScoringRejectedError as error:
            results = error.scored
            rejected = _reasons_by_id(error)
        except ScoringError as error:
            # Down, or the whole request refused (e.g. 401): nothing was scored, so the
            # batch goes back at once rather than when its leases expire.
            _release(store, batch, owner)
            summary.error = str(error)
            break
        by_id = {result.id: result for result in results}
        transitions = [
            _decided(record, by_id[record.record_id], process.model.name)
            for record in batch
            if record.record_id in by_id
        ]
        transitions += [
            Transition(
                record_id=record_id,
                from_state=RecordState.VALIDATED,
                to_state=RecordState.QUARANTINED,
                reason=f"the model refused the features: {reason}",
                events=[StepEvent(step="score", step_version=STEP_VERSION, detail={})],
            )
            for record_id, reason in rejected.items()
        ]
        report = store.transition_many(transitions, run_id=run_id, owner=owner)
        # Records neither scored nor refused (a refused chunk's other records) go back.
        untouched = [r for r in batch if r.record_id not in by_id and r.record_id not in rejected]
        _release(store, untouched, owner)
        for result in results:
            decisions[result.decision] += 1
            versions.add(result.model_version)
        summary.scored += len(results)
        summary.rejected += len(rejected)
        if report.lost:
            summary.error = f"{len(report.lost)} records changed while being scored"
    summary.decisions = dict(decisions)
    summary.model_versions = sorted(versions)
    summary.waiting = store.counts(process.name).get(process.name, {}).get("validated", 0)
    return summary


def _decided(record: StoredRecord, result: ScoreResult, model: str) -> Transition:
    return Transition(
        record_id=record.record_id,
        from_state=RecordState.VALIDATED,
        to_state=RecordState.DECIDED,
        values={
            "score": result.score,
            "decision": result.decision,
            "reasons": list(result.reasons),
            "model_name": model,
            "model_version": result.model_version,
            "policy_version": result.policy_version,
        },
        events=[
            StepEvent(
                step="score",
                step_version=result.model_version,
                config_hash=None,
                detail={
                    "model": model,
                    "model_version": result.model_version,
                    "score": result.score,
                },
            ),
            StepEvent(
                step="decide",
                step_version=result.policy_version,
                detail={"decision": result.decision, "reasons": list(result.reasons)},
            ),
        ],
    )


def _reasons_by_id(error: ScoringRejectedError) -> dict[str, str]:
    reasons: dict[str, list[str]] = {}
    for issue in error.issues:
        where = issue.field or "record"
        reasons.setdefault(issue.id, []).append(f"{where}: {issue.message}")
    return {record_id: "; ".join(parts) for record_id, parts in reasons.items()}


def _release(store: Store, records: list[StoredRecord], owner: str) -> None:
    for record in records:
        store.release(record.record_id, owner)
