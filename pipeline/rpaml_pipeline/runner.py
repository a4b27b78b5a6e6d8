"""The processing runner: take collected records through clean -> validate -> label -> transform.

I/O stays at the edges: the runner claims a chunk from the store, applies the pure steps
to each record in memory, and writes the whole chunk's transitions and step events in one
transaction. A record a step cannot handle (even through a bug in a step) is quarantined
with the reason; it never stops the run.

Enrichment: when the process file declares ``enrichment``, the newest enrichment of each
record (data a robot looked up elsewhere, ``Store.add_enrichment``) is merged over the raw
fields before cleaning; the raw record is never changed and the clean step's event names
the enrichment used. A record still waiting for a required enrichment keeps its lease
until the end of the run (so this run does not claim it again) and is then released,
still ``collected``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rpaml_pipeline.canonical import to_jsonable
from rpaml_pipeline.lineage.openlineage import (
    Dataset,
    OpenLineageEmitter,
    rpaml_run_facet,
    schema_facet,
)
from rpaml_pipeline.process.definition import ProcessDefinition
from rpaml_pipeline.process.loader import process_hash
from rpaml_pipeline.steps.clean import Unparsed, clean, clean_step
from rpaml_pipeline.steps.identity import StepInfo
from rpaml_pipeline.steps.label import label, label_step
from rpaml_pipeline.steps.transform import transform, transform_step
from rpaml_pipeline.steps.validate import validate, validate_step
from rpaml_pipeline.store.records import Enrichment, StepEvent, StoredRecord, Transition
from rpaml_pipeline.store.states import RecordState
from rpaml_pipeline.store.store import Store

STAGE = "process"


@dataclass(frozen=True)
class ProcessSummary:
    """What one processing run did."""

    run_id: str
    process: str
    processed: int = 0
    validated: int = 0
    labeled: int = 0
    quarantined: int = 0
    lost: int = 0
    """Records whose lease was lost mid-chunk (another worker owns them now)."""
    waiting: int = 0
    """Records left ``collected`` because their required enrichment is not there yet."""
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    """The most frequent quarantine reasons (``field: what is wrong``) and their counts."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for ``Store.finish_run`` summaries and reports)."""
        return {
            "processed": self.processed,
            "validated": self.validated,
            "labeled": self.labeled,
            "quarantined": self.quarantined,
            "lost": self.lost,
            "waiting": self.waiting,
            "top_reasons": [[reason, count] for reason, count in self.top_reasons],
        }


@dataclass(frozen=True)
class PipelineSteps:
    """The step identities of one process definition (computed once per run)."""

    clean: StepInfo
    validate: StepInfo
    label: StepInfo | None
    transform: StepInfo

    @classmethod
    def of(cls, process: ProcessDefinition) -> PipelineSteps:
        """Identify each step with its version and the hash of this process's rules."""
        return cls(
            clean=clean_step(process.cleaning),
            validate=validate_step(process.contract),
            label=label_step(process.labeling) if process.labeling is not None else None,
            transform=transform_step(process.transform),
        )


def process_collected(
    store: Store,
    process: ProcessDefinition,
    run_id: str,
    *,
    chunk_size: int = 1000,
    owner: str | None = None,
    lease_seconds: float = 900,
    emitter: OpenLineageEmitter | None = None,
    top: int = 5,
) -> ProcessSummary:
    """Process every claimable ``collected`` record of ``process`` in chunks.

    Each record ends ``validated`` (cleaned data and features stored), ``labeled``
    (history rows with a known outcome: label, label source and features stored) or
    ``quarantined`` (reason naming every failing field). One event per step per record is
    written with the step's name, version and configuration hash. Several runners may work
    on the same store: records are leased per chunk. With an ``emitter``, OpenLineage
    START and COMPLETE/FAIL events are written for the job ``<process>.process``.
    """
    steps = PipelineSteps.of(process)
    owner = owner or f"pipeline:{run_id}"
    job = f"{process.name}.{STAGE}"
    source = store.url
    raw_schema = {"schema": schema_facet(dict.fromkeys(process.contract.fields, "raw"))}
    typed = {name: spec.type for name, spec in process.contract.fields.items()}
    typed_schema = {"schema": schema_facet(typed)}
    inputs = [Dataset(source, f"{process.name}.records.collected", facets=raw_schema)]
    config_hash = process_hash(process)
    # The exact configuration this run used, so `rpaml pipeline replay` can re-run it.
    store.annotate_run(
        run_id,
        {"process_definition": process.model_dump(mode="json"), "process_hash": config_hash},
    )
    robot_runs: set[str] = set()
    if emitter is not None:
        emitter.start(
            run_id, job, inputs=inputs, run_facets=_run_facets(process, config_hash, robot_runs)
        )
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    waiting: list[str] = []
    try:
        while True:
            batch = store.claim(
                process.name,
                RecordState.COLLECTED,
                owner=owner,
                limit=chunk_size,
                lease_seconds=lease_seconds,
            )
            if not batch:
                break
            found: dict[str, Enrichment] = {}
            if process.enrichment is not None:
                found = store.latest_enrichments(record.record_id for record in batch)
                if process.enrichment.required:
                    waiting.extend(r.record_id for r in batch if r.record_id not in found)
                    batch = [r for r in batch if r.record_id in found]
            robot_runs.update(record.run_id for record in batch)
            transitions = []
            for record in batch:
                transition, summaries = process_record(
                    record, process, steps, enrichment=found.get(record.record_id)
                )
                transitions.append(transition)
                reasons.update(summaries)
                counts[transition.to_state.value] += 1
            report = store.transition_many(transitions, run_id=run_id, owner=owner)
            counts["lost"] += len(report.lost)
            counts["processed"] += report.applied
    except Exception as exc:
        if emitter is not None:
            facets = _run_facets(process, config_hash, robot_runs)
            emitter.fail(run_id, job, exc, inputs=inputs, run_facets=facets)
        raise
    finally:
        for record_id in waiting:
            store.release(record_id, owner)
    summary = ProcessSummary(
        run_id=run_id,
        process=process.name,
        processed=counts["processed"],
        validated=counts[RecordState.VALIDATED.value],
        labeled=counts[RecordState.LABELED.value],
        quarantined=counts[RecordState.QUARANTINED.value],
        lost=counts["lost"],
        waiting=len(waiting),
        top_reasons=reasons.most_common(top),
    )
    if emitter is not None:
        outputs = [
            Dataset(source, f"{process.name}.records.{state}", row_count=count, facets=typed_schema)
            for state, count in (
                ("validated", summary.validated),
                ("labeled", summary.labeled),
                ("quarantined", summary.quarantined),
            )
        ]
        emitter.complete(
            run_id,
            job,
            inputs=inputs,
            outputs=outputs,
            run_facets=_run_facets(process, config_hash, robot_runs),
        )
    return summary


def _run_facets(
    process: ProcessDefinition, config_hash: str, robot_runs: set[str]
) -> dict[str, Any]:
    # Processing runs before scoring: the model is named, its version is chosen later.
    return {
        "rpaml": rpaml_run_facet(
            process=process.name,
            process_file_hash=config_hash,
            robot_runs=sorted(robot_runs),
            model_name=process.model.name,
        )
    }


def merged_raw(
    record: StoredRecord, process: ProcessDefinition, enrichment: Enrichment | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The raw fields cleaning sees: the record's raw payload with the enrichment's fields
    merged over it, and the lineage note naming the enrichment (None without one)."""
    raw = dict(record.raw)
    if enrichment is None or process.enrichment is None:
        return raw, None
    wanted = process.enrichment.fields or sorted(enrichment.payload)
    merged = [name for name in wanted if name in enrichment.payload]
    for name in merged:
        raw[name] = enrichment.payload[name]
    note = {
        "enrichment_id": enrichment.enrichment_id,
        "source": enrichment.source,
        "location": enrichment.location,
        "raw_hash": enrichment.raw_hash,
        "fields": merged,
    }
    return raw, note


def process_record(
    record: StoredRecord,
    process: ProcessDefinition,
    steps: PipelineSteps,
    *,
    enrichment: Enrichment | None = None,
) -> tuple[Transition, list[str]]:
    """Apply the steps to one record; return its transition and its quarantine summaries.

    Never raises for a record's content: an unexpected error inside a step quarantines
    the record with the step's name and the error.
    """
    events: list[StepEvent] = []
    current = steps.clean
    try:
        raw, enriched = merged_raw(record, process, enrichment)
        cleaned, notes = clean(raw, process.cleaning)
        clean_detail: dict[str, Any] = {"notes": [f"{n.field}: {n.message}" for n in notes]}
        if enriched is not None:
            clean_detail["enrichment"] = enriched
        events.append(_event(steps.clean, clean_detail))
        current = steps.validate
        issues = validate(cleaned, process.contract, raw=raw)
        events.append(
            _event(
                steps.validate,
                {
                    "valid": not issues,
                    "issues": [
                        {"field": i.field, "rule": i.rule, "message": i.message} for i in issues
                    ],
                },
            )
        )
        if issues:
            reason = "; ".join(issue.message for issue in issues)
            transition = Transition(
                record_id=record.record_id,
                from_state=RecordState.COLLECTED,
                to_state=RecordState.QUARANTINED,
                reason=reason,
                values={"data": _storable(cleaned)},
                events=events,
            )
            return transition, [issue.summary for issue in issues]
        labeled: tuple[int, str] | None = None
        if process.labeling is not None and steps.label is not None:
            current = steps.label
            labeled = label(cleaned, process.labeling)
            outcome = cleaned.get(process.labeling.field)
            events.append(
                _event(
                    steps.label,
                    {
                        "outcome": outcome,
                        "label": labeled[0] if labeled else None,
                        "label_source": labeled[1] if labeled else None,
                    },
                )
            )
        current = steps.transform
        features = transform(cleaned, process.transform)
        events.append(_event(steps.transform, {"features": sorted(features)}))
    except Exception as exc:  # a step bug must not stop the run or lose the record
        reason = (
            f"internal error in step {current.name} {current.version}: {type(exc).__name__}: {exc}"
        )
        events.append(_event(current, {"error": reason}))
        transition = Transition(
            record_id=record.record_id,
            from_state=RecordState.COLLECTED,
            to_state=RecordState.QUARANTINED,
            reason=reason,
            events=events,
        )
        return transition, [f"internal error in step {current.name}"]
    values: dict[str, Any] = {"data": _storable(cleaned), "features": to_jsonable(features)}
    to_state = RecordState.VALIDATED
    if labeled is not None:
        to_state = RecordState.LABELED
        values["label"], values["label_source"] = labeled
    transition = Transition(
        record_id=record.record_id,
        from_state=RecordState.COLLECTED,
        to_state=to_state,
        values=values,
        events=events,
    )
    return transition, []


def _event(step: StepInfo, detail: Mapping[str, Any]) -> StepEvent:
    return StepEvent(
        step=step.name, step_version=step.version, config_hash=step.config_hash, detail=detail
    )


def _storable(cleaned: Mapping[str, Any]) -> dict[str, Any]:
    """Cleaned values as JSON (dates as ISO text); an unparsed value keeps its raw text."""
    return {
        key: to_jsonable(value.raw if isinstance(value, Unparsed) else value)
        for key, value in cleaned.items()
    }
