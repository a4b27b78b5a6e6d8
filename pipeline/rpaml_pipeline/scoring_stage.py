"""The scoring stage: validated records go to the scoring service and come back decided.

With a ``review:`` section in the process file, the records decided with its action go on
to ``review`` and wait in the review queue (:mod:`rpaml_pipeline.store.review_queue`).

Work is claimed a processed batch at a time (its lease), so two scoring workers never send
the same record; the features are read from the batch, sent in chunks, and each record's
score, decision and reasons are written with one statement per batch. When the service is
down, or refuses the request as a whole (a missing or wrong API key, an unknown model),
the batch's lease is given back and its records stay ``validated``: nothing is lost, the
next run scores them. A record whose features the model refuses (a process file that no
longer matches the served model) is quarantined with the service's reasons rather than
retried for ever.

In shadow mode (``model.shadow.enabled``) the service also answers the challenger's
decision for each record; it is written to ``shadow_decisions`` in the transaction that
stores the champion's decision (:mod:`rpaml_pipeline.store.shadow`), and nothing acts on it.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from rpaml_pipeline.exploration import EXPLORED, Exploration
from rpaml_pipeline.monitoring.drift_check import DriftMonitor
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.scoring import (
    ScoreResult,
    ScoringClient,
    ScoringError,
    ScoringRejectedError,
)
from rpaml_pipeline.store import RecordState, Store, codec, layout
from rpaml_pipeline.store.batches import BatchInfo
from rpaml_pipeline.store.events import record_event
from rpaml_pipeline.store.records import STEPS_KEY
from rpaml_pipeline.store.schema import records
from rpaml_pipeline.store.transitions import Lease, Move

STEP_VERSION = "1"


@dataclass
class ScoringSummary:
    """What a scoring run did."""

    scored: int = 0
    rejected: int = 0
    waiting: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    explored: int = 0
    """Decisions exploration changed (:mod:`rpaml_pipeline.exploration`)."""
    exploration: dict[str, Any] | None = None
    """The exploration applied: shares and the drifted pattern, if any."""
    model_versions: list[str] = field(default_factory=list)
    shadowed: int = 0
    """Records decided with a challenger's decision beside the champion's (shadow mode)."""
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
    lease_seconds: float = 300,
    monitor: DriftMonitor | None = None,
    exploration: Exploration | None = None,
) -> ScoringSummary:
    """Score every validated record of ``process`` and store score and decision.

    With ``monitor``, each batch's stored features and scores are counted into it (the
    run's drift against the training reference, :mod:`rpaml_pipeline.monitoring`). With
    ``exploration``, its picked records get its action (:mod:`rpaml_pipeline.exploration`).
    """
    owner = owner or default_owner("score")
    summary = ScoringSummary()
    decisions: Counter[str] = Counter()
    versions: set[str] = set()
    if exploration is not None:
        summary.exploration = {
            "action": exploration.action,
            "share": exploration.share,
            "share_on_drift": exploration.share_on_drift,
            "drifted_pattern": None
            if exploration.pattern is None
            else {
                "version": exploration.pattern.version,
                "run_id": exploration.pattern.run_id,
                "bins": exploration.pattern.describe(),
            },
            "pattern_learned": exploration.learned,
        }
    while summary.error is None:
        claimed = store.batches.claim(
            process.name, "score", owner=owner, limit=1, lease_seconds=lease_seconds
        )
        if not claimed:
            break
        batch = claimed[0]
        try:
            results, rejected = _score_batch(
                store, process, client, batch, run_id, owner, summary, monitor, exploration
            )
        finally:
            store.batches.release(batch.batch_id, owner)
        for result in results:
            decisions[result.decision] += 1
            versions.add(result.model_version)
            if result.reasons and result.reasons[0].startswith(EXPLORED):
                summary.explored += 1
        summary.scored += len(results)
        summary.shadowed += sum(result.shadow is not None for result in results)
        summary.rejected += len(rejected)
    summary.decisions = dict(decisions)
    summary.model_versions = sorted(versions)
    summary.waiting = store.counts(process.name).get(process.name, {}).get("validated", 0)
    return summary


def _score_batch(
    store: Store,
    process: ProcessDefinition,
    client: ScoringClient,
    batch: BatchInfo,
    run_id: str,
    owner: str,
    summary: ScoringSummary,
    monitor: DriftMonitor | None = None,
    exploration: Exploration | None = None,
) -> tuple[list[ScoreResult], dict[str, str]]:
    """Score the validated records of one processed batch; the batch keeps its pending
    work when some records were not scored."""
    keys: dict[str, str] = {}
    items = _validated_features(store, batch, owner, keys)
    results: list[ScoreResult] = []
    rejected: dict[str, str] = {}
    if items:
        try:
            results = client.score(process.model.name, items)
        except ScoringRejectedError as error:
            results = error.scored
            rejected = _reasons_by_id(error)
        except ScoringError as error:
            # Down, or the whole request refused (e.g. 401): nothing was scored, so the
            # batch goes back at once rather than when its lease expires.
            summary.error = str(error)
            return [], {}
    if exploration is not None:
        results = exploration.apply(results, keys, dict(items))
    now = store.now()
    lease = Lease(owner, free_or_owner=True)
    with store.ctx.write() as conn:
        moved = store.transitions.move(
            conn,
            Move(
                [result.id for result in results],
                RecordState.DECIDED,
                RecordState.VALIDATED,
                values={"model_name": process.model.name},
                per_record={result.id: _decided_values(result) for result in results},
                lease=lease,
                events={
                    result.id: [_decided_event(result, process.model.name, run_id, now)]
                    for result in results
                },
            ),
            now,
        )
        review = process.review
        if review is not None:
            # In the transaction that stored the decisions: no act robot ever sees an
            # escalated record before it is queued for a person.
            store.review.enqueue(
                conn,
                process.name,
                {
                    result.id: result.expected_costs
                    for result in results
                    if result.id in moved and result.decision == review.action
                },
                review_action=review.action,
                sla_seconds=review.sla_seconds,
                run_id=run_id,
                now=now,
            )
        store.shadow.add(
            conn,
            [
                _shadow_row(process, run_id, result)
                for result in results
                if result.id in moved and result.shadow is not None
            ],
        )
        quarantined = {
            record_id: record_event(
                record_id,
                run_id,
                "score",
                RecordState.VALIDATED,
                RecordState.QUARANTINED,
                now,
                {},
                step_version=STEP_VERSION,
            )
            for record_id in rejected
        }
        moved |= store.transitions.move(
            conn,
            Move(
                list(rejected),
                RecordState.QUARANTINED,
                RecordState.VALIDATED,
                per_record={
                    record_id: {"reason": f"the model refused the features: {reason}"}
                    for record_id, reason in rejected.items()
                },
                lease=lease,
                events={record_id: [event] for record_id, event in quarantined.items()},
            ),
            now,
        )
        left = conn.execute(
            select(records.c.record_id)
            .where(
                records.c.batch_id == batch.input_id,
                records.c.data_batch_id == batch.batch_id,
                records.c.state == RecordState.VALIDATED.value,
            )
            .limit(1)
        ).first()
        store.batches.set_pending(conn, [batch.batch_id], "score" if left else None)
    lost = len(results) + len(rejected) - len(moved)
    if lost:
        summary.error = f"{lost} records changed while being scored"
    stored = [r for r in results if r.id in moved]
    if monitor is not None and stored:
        _observe(monitor, items, stored)
    return stored, {k: v for k, v in rejected.items() if k in moved}


def _observe(
    monitor: DriftMonitor,
    items: Sequence[tuple[str, Mapping[str, object]]],
    results: Sequence[ScoreResult],
) -> None:
    """Count the stored results' features and scores, per model version that scored them."""
    features = dict(items)
    by_version: dict[str, list[ScoreResult]] = {}
    for result in results:
        by_version.setdefault(result.model_version, []).append(result)
    for version, scored in by_version.items():
        rows = [features[result.id] for result in scored]
        names = {name for row in rows for name in row}
        columns = {name: [row.get(name) for row in rows] for name in names}
        monitor.add(version, columns, [result.score for result in scored])


def _validated_features(
    store: Store, batch: BatchInfo, owner: str, keys: dict[str, str]
) -> list[tuple[str, Mapping[str, object]]]:
    """``(record_id, features)`` of the batch's validated records free to score; their
    natural keys are put in ``keys``."""
    now = store.now()
    with store.ctx.read() as conn:
        rows = conn.execute(
            select(
                records.c.record_id,
                records.c.natural_key,
                records.c.lease_owner,
                records.c.lease_expires_at,
            )
            .where(
                records.c.batch_id == batch.input_id,
                records.c.data_batch_id == batch.batch_id,
                records.c.state == RecordState.VALIDATED.value,
            )
            .order_by(records.c.record_id)
        ).all()
    keys.update((row.record_id, row.natural_key) for row in rows)
    ids = [
        row.record_id
        for row in rows
        if row.lease_owner in (None, owner)
        or (row.lease_expires_at is not None and row.lease_expires_at < now)
    ]
    if not ids:
        return []
    frame = store.batches.frame(batch.batch_id)
    positions = store.reading.positions(batch.batch_id, frame)
    picked = frame[[positions[record_id] for record_id in ids]]
    features = codec.decode(picked, layout.FEATURES)
    return list(zip(ids, features, strict=True))


def _decided_values(result: ScoreResult) -> dict[str, Any]:
    return {
        "score": result.score,
        "decision": result.decision,
        "reasons": list(result.reasons),
        "model_version": result.model_version,
        "policy_version": result.policy_version,
        "expected_costs": result.expected_costs,
    }


def _shadow_row(process: ProcessDefinition, run_id: str, result: ScoreResult) -> dict[str, Any]:
    shadow = result.shadow
    assert shadow is not None
    return {
        "process": process.name,
        "record_id": result.id,
        "run_id": run_id,
        "model_name": process.model.name,
        "model_version": shadow.model_version,
        "champion_version": result.model_version,
        "policy_version": shadow.policy_version,
        "score": shadow.score,
        "decision": shadow.decision,
        "expected_costs": shadow.expected_costs,
    }


def _decided_event(result: ScoreResult, model: str, run_id: str, now: Any) -> dict[str, Any]:
    """The record's ``score`` and ``decide`` steps, as one lineage row."""
    steps: Sequence[list[Any]] = [
        ["score", result.model_version, None,
         {"model": model, "model_version": result.model_version, "score": result.score}],
        ["decide", result.policy_version, None,
         {"decision": result.decision, "reasons": list(result.reasons)}],
    ]  # fmt: skip
    return record_event(
        result.id,
        run_id,
        "score",
        RecordState.VALIDATED,
        RecordState.DECIDED,
        now,
        {STEPS_KEY: steps},
        step_version=result.model_version,
    )


def _reasons_by_id(error: ScoringRejectedError) -> dict[str, str]:
    reasons: dict[str, list[str]] = {}
    for issue in error.issues:
        where = issue.field or "record"
        reasons.setdefault(issue.id, []).append(f"{where}: {issue.message}")
    return {record_id: "; ".join(parts) for record_id, parts in reasons.items()}
