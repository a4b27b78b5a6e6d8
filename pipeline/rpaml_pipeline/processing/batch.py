"""One raw batch through the steps, and its outcome written in one transaction."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.engine import Connection

from rpaml_pipeline.process.definition import ProcessDefinition
from rpaml_pipeline.processing.columns import SliceResult, columns_apply, process_columns
from rpaml_pipeline.processing.frame import processed_frame
from rpaml_pipeline.processing.gating import Gated, gate_detail, gate_slice, held
from rpaml_pipeline.processing.record import RawRecord, finish, prepare
from rpaml_pipeline.processing.steps import PipelineSteps
from rpaml_pipeline.quality.drift import DriftCheck, DriftFinding, merge_profiles, profile_records
from rpaml_pipeline.quality.gate import BatchGate, GateVerdict, merge_history
from rpaml_pipeline.steps.contract_schema import ContractSchema
from rpaml_pipeline.steps.validate import validate
from rpaml_pipeline.store import codec, layout
from rpaml_pipeline.store.batches import HELD, PROCESSED, RELEASED, BatchInfo
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
    gate: BatchGate | None = None
    """The batch gate (None when the process has none)."""

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
    histories: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per source, the gate's figures of what it let through."""
    held: list[dict[str, Any]] = field(default_factory=list)
    """The batches the gate held (alerts of the run)."""


def process_batch(work: BatchWork, batch: BatchInfo) -> BatchDone:
    """Process the collected records of raw batch ``batch`` (its lease held by the run,
    which gives it back when the run ends: a batch with records still waiting for their
    enrichment is not taken again by the same run)."""
    store, done = work.store, BatchDone()
    try:
        ready, rows, waiting = _ready(work, batch)
        done.counts["waiting"] += len(waiting)
        verdict: GateVerdict | None = None
        for start in range(0, len(ready), work.chunk_size):
            end = start + work.chunk_size
            # Once one slice is held, so is the rest of its batch.
            verdict = _process_slice(work, batch, ready[start:end], rows[start:end], done, verdict)
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
) -> tuple[list[tuple[RawRecord, Enrichment | None]], list[int], list[str]]:
    """The batch's collected records free to process (with their enrichment) and their rows
    in the raw batch, and those still waiting for a required enrichment."""
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
        return [], [], []
    found: dict[str, Enrichment] = {}
    enrichment = work.process.enrichment
    if enrichment is not None:
        found = store.latest_enrichments(row.record_id for row in free)
    ready: list[tuple[RawRecord, Enrichment | None]] = []
    positions: list[int] = []
    waiting: list[str] = []
    for row in free:
        if enrichment is not None and enrichment.required and row.record_id not in found:
            waiting.append(row.record_id)
            continue
        # The payload is read later: the column path never builds one mapping per record.
        ready.append((RawRecord(row.record_id, row.source, {}), found.get(row.record_id)))
        positions.append(int(row.batch_row))
    return ready, positions, waiting


def _slice_result(
    work: BatchWork,
    batch: BatchInfo,
    items: Sequence[tuple[RawRecord, Enrichment | None]],
    raw: pl.DataFrame,
) -> SliceResult:
    """The column path's result when it takes the slice, else the reference path's."""
    enriched = any(enrichment is not None for _, enrichment in items)
    if not enriched and columns_apply(raw, work.process, work.steps):
        try:
            result = process_columns(raw, work.process, work.steps, work.check(batch.source or ""))
        except Exception:  # a bug in the column path must not lose records: the reference
            result = None
        if result is not None:
            return result
    payloads = codec.decode(raw, layout.PAYLOAD)
    full = [
        (RawRecord(record.record_id, record.source, payload), enrichment)
        for (record, enrichment), payload in zip(items, payloads, strict=True)
    ]
    return reference_slice(work, full)


def reference_slice(
    work: BatchWork, items: Sequence[tuple[RawRecord, Enrichment | None]]
) -> SliceResult:
    """The reference steps for every record (validated in one pandera pass), as a slice."""
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
    outcomes = [
        outcome
        if outcome.reason is not None
        else finish(
            outcome, issues[id(outcome)], process, steps, work.check(sources[outcome.record_id])
        )
        for outcome in prepared
    ]
    valid = [(o.raw, o.cleaned) for o in outcomes if o.to_state is not RecordState.QUARANTINED]
    profile = (
        profile_records(valid, process.contract)
        if valid and process.quality is not None and process.quality.drift is not None
        else None
    )
    return SliceResult(
        frame=processed_frame(outcomes),
        record_ids=[o.record_id for o in outcomes],
        states=[o.to_state for o in outcomes],
        reasons=[o.reason for o in outcomes],
        labels=[o.label for o in outcomes],
        label_sources=[o.label_source for o in outcomes],
        summaries=[o.summaries for o in outcomes],
        findings=[o.drift for o in outcomes],
        profile=profile,
    )


def _process_slice(
    work: BatchWork,
    batch: BatchInfo,
    items: Sequence[tuple[RawRecord, Enrichment | None]],
    rows: Sequence[int],
    done: BatchDone,
    verdict: GateVerdict | None,
) -> GateVerdict | None:
    """Process one slice; return the gate's verdict when it held the slice."""
    store, steps = work.store, work.steps
    raw = store.batches.frame(batch.batch_id)[list(rows)]
    source = batch.source or ""
    result = _slice_result(work, batch, items, raw)
    if verdict is not None:
        gated = Gated(held(result, verdict), verdict, None)
    else:
        gated = gate_slice(work.gate, source, raw, result, judge=batch.status != RELEASED)
    result = gated.result
    stopped = gated.verdict if gated.verdict is not None and gated.verdict.held else None
    data_id, _ = batch_ids(0)
    with store.ctx.write() as conn:
        now = store.now()
        digest = store.batches.write(
            conn,
            batch_id=data_id,
            process=work.process.name,
            kind=PROCESSED,
            run_id=work.run_id,
            frame=result.frame,
            source=batch.source,
            input_id=batch.batch_id,
            pending="score" if RecordState.VALIDATED in result.states else None,
        )
        moved: set[str] = set()
        for state, members, own in _groups(result):
            moved |= store.transitions.move(
                conn,
                Move(
                    members,
                    state,
                    RecordState.COLLECTED,
                    values={"data_batch_id": data_id},
                    per_record=own,
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
                        "records": len(result.record_ids),
                    },
                    step_version=steps.clean.version,
                    config_hash=steps.clean.config_hash,
                )
            )
        )
        if stopped is not None:
            _hold(conn, work, batch, data_id, stopped, now)
        elif gated.verdict is not None and gated.verdict.against is not None:
            store.batches.set_status(conn, batch.batch_id, batch.status, gated.verdict.as_dict())
    if stopped is not None:
        done.held.append(
            {
                "batch": batch.batch_id,
                "source": source,
                "records": len(result.record_ids),
                "reason": stopped.reason,
                "findings": [finding.as_dict() for finding in stopped.findings],
            }
        )
    if gated.history is not None:
        done.histories[source] = merge_history(done.histories.get(source), gated.history)
    for index, record_id in enumerate(result.record_ids):
        if record_id not in moved:
            done.counts["lost"] += 1
            continue
        done.counts[result.states[index].value] += 1
        done.reasons.update(result.summaries[index])
        done.findings.extend((source, finding) for finding in result.findings[index])
    if result.profile is not None:
        done.profiles[source] = merge_profiles(done.profiles.get(source), result.profile)
    return stopped


def _hold(
    conn: Connection,
    work: BatchWork,
    batch: BatchInfo,
    data_id: str,
    verdict: GateVerdict,
    now: dt.datetime,
) -> None:
    """Mark the raw batch and its processed slice held, with the gate's event."""
    detail = gate_detail(verdict, input_batch=batch.batch_id, by=work.owner)
    work.store.batches.set_status(conn, batch.batch_id, HELD, verdict.as_dict())
    work.store.batches.set_status(conn, data_id, HELD, verdict.as_dict())
    conn.execute(
        record_events.insert().values(
            batch_event(data_id, work.run_id, "gate", None, RecordState.QUARANTINED, now, detail)
        )
    )


def _groups(result: SliceResult) -> list[tuple[RecordState, list[str], dict[str, dict[str, Any]]]]:
    """The moves of a slice: plain valid records (no values of their own: one statement),
    weakly labeled valid ones, labeled ones and quarantined ones."""
    plain: list[str] = []
    weak: dict[str, dict[str, Any]] = {}
    labeled: dict[str, dict[str, Any]] = {}
    quarantined: dict[str, dict[str, Any]] = {}
    for index, record_id in enumerate(result.record_ids):
        state = result.states[index]
        label = {"label": result.labels[index], "label_source": result.label_sources[index]}
        if state is RecordState.QUARANTINED:
            quarantined[record_id] = {"reason": result.reasons[index]}
        elif state is RecordState.LABELED:
            labeled[record_id] = label
        elif result.labels[index] is not None:
            weak[record_id] = label
        else:
            plain.append(record_id)
    return [
        (RecordState.VALIDATED, plain, {}),
        (RecordState.VALIDATED, list(weak), weak),
        (RecordState.LABELED, list(labeled), labeled),
        (RecordState.QUARANTINED, list(quarantined), quarantined),
    ]
