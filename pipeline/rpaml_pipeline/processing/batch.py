"""One raw batch through the steps, and its outcome written in one transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from rpaml_pipeline.process.definition import ProcessDefinition
from rpaml_pipeline.processing.frame import processed_frame
from rpaml_pipeline.processing.record import RawRecord, RecordOutcome, finish, prepare
from rpaml_pipeline.processing.steps import PipelineSteps
from rpaml_pipeline.quality.drift import DriftCheck, DriftFinding, profile_records
from rpaml_pipeline.steps.contract_schema import ContractSchema
from rpaml_pipeline.steps.validate import validate
from rpaml_pipeline.store import codec, layout
from rpaml_pipeline.store.batches import PROCESSED, BatchInfo
from rpaml_pipeline.store.context import batch_ids
from rpaml_pipeline.store.events import BATCH_STEPS_KEY, batch_event
from rpaml_pipeline.store.records import Enrichment
from rpaml_pipeline.store.schema import record_events, records
from rpaml_pipeline.store.states import RecordState
from rpaml_pipeline.store.store import Store
from rpaml_pipeline.store.transitions import Lease, Move


@dataclass
class BatchWork:
    """What every batch of one processing run shares."""

    store: Store
    process: ProcessDefinition
    steps: PipelineSteps
    run_id: str
    owner: str
    baseline: Mapping[str, Any]
    chunk_size: int
    checks: dict[str, DriftCheck] = field(default_factory=dict)
    """Per source, its drift baseline compiled once."""
    schema: ContractSchema | None = None

    def check(self, source: str) -> DriftCheck | None:
        """The drift check of ``source`` (None when the process checks no drift)."""
        drift = self.process.quality.drift if self.process.quality is not None else None
        if drift is None:
            return None
        if source not in self.checks:
            self.checks[source] = DriftCheck(
                source, self.baseline.get(source), self.process.contract, drift
            )
        return self.checks[source]


@dataclass
class BatchDone:
    """What processing one raw batch did."""

    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    findings: list[tuple[str, DriftFinding]] = field(default_factory=list)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)


def process_batch(work: BatchWork, batch: BatchInfo) -> BatchDone:
    """Process the collected records of raw batch ``batch`` (its lease held by the run,
    which gives it back when the run ends: a batch with records still waiting for their
    enrichment is not taken again by the same run)."""
    store, done = work.store, BatchDone()
    try:
        ready, waiting = _ready(work, batch)
        done.counts["waiting"] += len(waiting)
        for start in range(0, len(ready), work.chunk_size):
            _process_slice(work, batch, ready[start : start + work.chunk_size], done)
    finally:
        with store.ctx.write() as conn:
            left = conn.execute(
                select(records.c.record_id)
                .where(records.c.batch_id == batch.batch_id, records.c.state == "collected")
                .limit(1)
            ).first()
            store.batches.set_pending(conn, [batch.batch_id], "process" if left else None)
    return done


def _ready(
    work: BatchWork, batch: BatchInfo
) -> tuple[list[tuple[RawRecord, Enrichment | None]], list[str]]:
    """The batch's collected records free to process (with their enrichment), and those
    still waiting for a required enrichment."""
    store = work.store
    now = store.now()
    with store.ctx.read() as conn:
        rows = conn.execute(
            select(
                records.c.record_id,
                records.c.source,
                records.c.batch_row,
                records.c.lease_owner,
                records.c.lease_expires_at,
            )
            .where(records.c.batch_id == batch.batch_id, records.c.state == "collected")
            .order_by(records.c.batch_row)
        ).all()
    free = [
        row
        for row in rows
        if row.lease_owner is None
        or row.lease_owner == work.owner
        or (row.lease_expires_at is not None and row.lease_expires_at < now)
    ]
    if not free:
        return [], []
    frame = store.batches.frame(batch.batch_id)
    payloads = codec.decode(frame[[int(row.batch_row) for row in free]], layout.PAYLOAD)
    found: dict[str, Enrichment] = {}
    enrichment = work.process.enrichment
    if enrichment is not None:
        found = store.latest_enrichments(row.record_id for row in free)
    ready: list[tuple[RawRecord, Enrichment | None]] = []
    waiting: list[str] = []
    for row, payload in zip(free, payloads, strict=True):
        if enrichment is not None and enrichment.required and row.record_id not in found:
            waiting.append(row.record_id)
            continue
        ready.append((RawRecord(row.record_id, row.source, payload), found.get(row.record_id)))
    return ready, waiting


def _outcomes(
    work: BatchWork, items: Sequence[tuple[RawRecord, Enrichment | None]]
) -> list[RecordOutcome]:
    """The reference steps for every record, validated in one pandera pass."""
    process, steps = work.process, work.steps
    prepared = [prepare(record, process, steps, enrichment) for record, enrichment in items]
    ready = [outcome for outcome in prepared if outcome.reason is None]
    if work.schema is None:
        work.schema = ContractSchema(process.contract)
    try:
        checked = work.schema.validate([(o.cleaned, o.raw) for o in ready])
    except Exception:  # a bug in the batch path: fall back to the per-record reference
        checked = [validate(o.cleaned, process.contract, raw=o.raw) for o in ready]
    issues = dict(zip((id(o) for o in ready), checked, strict=True))
    sources = {record.record_id: record.source for record, _ in items}
    return [
        outcome
        if outcome.reason is not None
        else finish(
            outcome, issues[id(outcome)], process, steps, work.check(sources[outcome.record_id])
        )
        for outcome in prepared
    ]


def _process_slice(
    work: BatchWork,
    batch: BatchInfo,
    items: Sequence[tuple[RawRecord, Enrichment | None]],
    done: BatchDone,
) -> None:
    store, steps = work.store, work.steps
    outcomes = _outcomes(work, items)
    sources = {record.record_id: record.source for record, _ in items}
    frame = processed_frame(outcomes)
    data_id, _ = batch_ids(0)
    groups = _groups(outcomes)
    with store.ctx.write() as conn:
        now = store.now()
        digest = store.batches.write(
            conn,
            batch_id=data_id,
            process=work.process.name,
            kind=PROCESSED,
            run_id=work.run_id,
            frame=frame,
            source=batch.source,
            input_id=batch.batch_id,
            pending="score" if any(o.to_state is RecordState.VALIDATED for o in outcomes) else None,
        )
        moved: set[str] = set()
        for state, members in groups:
            own = {o.record_id: _own_values(o, state) for o in members}
            moved |= store.transitions.move(
                conn,
                Move(
                    [o.record_id for o in members],
                    state,
                    RecordState.COLLECTED,
                    values={"data_batch_id": data_id},
                    per_record=own if any(own.values()) else {},
                    lease=Lease(work.owner, free_or_owner=True),
                ),
                now,
            )
        conn.execute(
            record_events.insert().values(
                batch_event(
                    data_id,
                    work.run_id,
                    steps.clean.name,
                    RecordState.COLLECTED,
                    None,
                    now,
                    {
                        BATCH_STEPS_KEY: [
                            [step.name, step.version, step.config_hash] for step in steps.in_order()
                        ],
                        "input_batch": batch.batch_id,
                        "input_sha256": batch.sha256,
                        "output_sha256": digest,
                        "records": len(outcomes),
                    },
                    step_version=steps.clean.version,
                    config_hash=steps.clean.config_hash,
                )
            )
        )
    for outcome in outcomes:
        if outcome.record_id not in moved:
            done.counts["lost"] += 1
            continue
        done.counts[outcome.to_state.value] += 1
        done.reasons.update(outcome.summaries)
        done.findings.extend((sources[outcome.record_id], f) for f in outcome.drift)
    if work.check(batch.source or "") is not None:
        by_source: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
        for outcome in outcomes:
            if outcome.record_id in moved and outcome.to_state is not RecordState.QUARANTINED:
                by_source.setdefault(sources[outcome.record_id], []).append(
                    (outcome.raw, outcome.cleaned)
                )
        for source, rows in by_source.items():
            done.profiles[source] = profile_records(rows, work.process.contract)


def _groups(outcomes: Sequence[RecordOutcome]) -> list[tuple[RecordState, list[RecordOutcome]]]:
    """The moves of a slice: plain valid records (no values of their own: one statement),
    weakly labeled valid ones, labeled ones and quarantined ones."""
    plain = [o for o in outcomes if o.to_state is RecordState.VALIDATED and o.label is None]
    weak = [o for o in outcomes if o.to_state is RecordState.VALIDATED and o.label is not None]
    labeled = [o for o in outcomes if o.to_state is RecordState.LABELED]
    quarantined = [o for o in outcomes if o.to_state is RecordState.QUARANTINED]
    return [
        (RecordState.VALIDATED, plain),
        (RecordState.VALIDATED, weak),
        (RecordState.LABELED, labeled),
        (RecordState.QUARANTINED, quarantined),
    ]


def _own_values(outcome: RecordOutcome, state: RecordState) -> dict[str, Any]:
    if state is RecordState.QUARANTINED:
        return {"reason": outcome.reason}
    if outcome.label is not None:
        return {"label": outcome.label, "label_source": outcome.label_source}
    return {}
