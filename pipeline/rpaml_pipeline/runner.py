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

Contract drift (``quality: drift:`` in the process file): each record is also compared with
the profile of what its source delivered in earlier runs (:mod:`rpaml_pipeline.quality.drift`).
The profiles are read once when the run starts and recorded in the run's details (so a
replay applies the same baseline); a drifted record is quarantined with the finding among
its validation issues, the findings are grouped into alerts recorded on the run (summary,
details and an ``rpamlDrift`` OpenLineage run facet), and the profiles are updated from the
records that ended valid when the run completes.

Performance (``bench/pipeline.py``, ``bench/store_floor.py``): a chunk costs one claim
(three statements), the steps in memory (cleaning memoised per field value by
:class:`~rpaml_pipeline.steps.clean.Cleaner`, validation in one pandera pass, drift checks
against a profile compiled once per source), and one transaction holding an executemany of
the updates and one compact lineage row per record (all its steps). What remains is the
per-record Python of building records, transitions and events, and SQLite's own cost of
rewriting each row; several runners side by side (``rpaml worker`` processes, or the
bench's ``--workers``) use the other cores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rpaml_pipeline.canonical import to_jsonable
from rpaml_pipeline.lineage.openlineage import (
    PRODUCER,
    RPAML_FACET_SCHEMA,
    Dataset,
    OpenLineageEmitter,
    rpaml_run_facet,
    schema_facet,
)
from rpaml_pipeline.process.definition import ProcessDefinition
from rpaml_pipeline.process.loader import process_hash
from rpaml_pipeline.quality.drift import (
    DriftCheck,
    DriftFinding,
    alerts,
    merge_profiles,
    profile_records,
)
from rpaml_pipeline.steps.clean import Cleaner, Unparsed, clean_step
from rpaml_pipeline.steps.contract_schema import ContractSchema
from rpaml_pipeline.steps.identity import StepInfo
from rpaml_pipeline.steps.label import label, label_step, weak_label, weak_label_step
from rpaml_pipeline.steps.transform import transform, transform_step
from rpaml_pipeline.steps.validate import FieldIssue, validate, validate_step
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
    drift_alerts: list[dict[str, Any]] = field(default_factory=list)
    """Contract drift found in this run, one alert per source, field and kind."""

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
            "drift_alerts": self.drift_alerts,
        }


@dataclass(frozen=True)
class PipelineSteps:
    """The step identities of one process definition, and its compiled cleaner (built once
    per run: the cleaner remembers what repeated values cleaned to)."""

    clean: StepInfo
    validate: StepInfo
    label: StepInfo | None
    transform: StepInfo
    cleaner: Cleaner = field(compare=False)
    weak_label: StepInfo | None = None

    @classmethod
    def of(cls, process: ProcessDefinition) -> PipelineSteps:
        """Identify each step with its version and the hash of this process's rules."""
        return cls(
            clean=clean_step(process.cleaning),
            validate=validate_step(process.contract),
            label=label_step(process.labeling) if process.labeling is not None else None,
            transform=transform_step(process.transform),
            weak_label=weak_label_step(process.weak_labels) if process.weak_labels else None,
            cleaner=Cleaner(process.cleaning),
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
    schema = ContractSchema(process.contract)
    owner = owner or f"pipeline:{run_id}"
    job = f"{process.name}.{STAGE}"
    source = store.url
    raw_schema = {"schema": schema_facet(dict.fromkeys(process.contract.fields, "raw"))}
    typed = {name: spec.type for name, spec in process.contract.fields.items()}
    typed_schema = {"schema": schema_facet(typed)}
    inputs = [Dataset(source, f"{process.name}.records.collected", facets=raw_schema)]
    config_hash = process_hash(process)
    drift = process.quality.drift if process.quality is not None else None
    baseline = store.source_profiles(process.name) if drift is not None else {}
    # The exact configuration (and drift baseline) this run used, so `rpaml pipeline
    # replay` can re-run it.
    store.annotate_run(
        run_id,
        {
            "process_definition": process.model_dump(mode="json"),
            "process_hash": config_hash,
            **({"drift_baseline": baseline} if drift is not None else {}),
        },
    )
    profiled: dict[str, dict[str, Any]] = {}
    checks: dict[str, DriftCheck] = {}  # per source, the baseline compiled once
    findings: list[tuple[str, DriftFinding]] = []
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
            valid: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
            for record in batch:
                if drift is not None and record.source not in checks:
                    profile = baseline.get(record.source)
                    checks[record.source] = DriftCheck(
                        record.source, profile, process.contract, drift
                    )
            processed = _process_chunk(batch, process, steps, schema, found, checks)
            for record, (transition, summaries) in zip(batch, processed, strict=True):
                enrichment = found.get(record.record_id)
                transitions.append(transition)
                reasons.update(summaries)
                counts[transition.to_state.value] += 1
                if drift is None:
                    continue
                drifted = _drift_findings(transition, steps.validate.name)
                findings.extend((record.source, finding) for finding in drifted)
                if transition.to_state is not RecordState.QUARANTINED:
                    raw, _ = merged_raw(record, process, enrichment)
                    valid.setdefault(record.source, []).append((raw, transition.values["data"]))
            for source, rows in valid.items():
                chunk_profile = profile_records(rows, process.contract)
                profiled[source] = merge_profiles(profiled.get(source), chunk_profile)
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
    drift_alerts = alerts(findings)
    if drift is not None:
        # Merged into the profiles as stored now (not as this run found them), so what
        # runs working side by side learned is kept.
        stored = store.source_profiles(process.name) if profiled else {}
        store.save_source_profiles(
            process.name,
            {src: merge_profiles(stored.get(src), prof) for src, prof in profiled.items()},
            run_id=run_id,
        )
        store.annotate_run(run_id, {"drift_alerts": drift_alerts})
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
        drift_alerts=drift_alerts,
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
        facets = _run_facets(process, config_hash, robot_runs)
        if drift is not None:
            facets["rpamlDrift"] = {
                "_producer": PRODUCER,
                "_schemaURL": RPAML_FACET_SCHEMA.replace("RpamlRunFacet", "RpamlDriftRunFacet"),
                "alerts": drift_alerts,
            }
        emitter.complete(run_id, job, inputs=inputs, outputs=outputs, run_facets=facets)
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


def _drift_findings(transition: Transition, step: str) -> list[DriftFinding]:
    """The drift findings the validate step recorded for a record."""
    for event in transition.events:
        if event.step == step:
            return [DriftFinding(**found) for found in event.detail.get("drift", [])]
    return []


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


@dataclass
class _Prepared:
    """A record after cleaning, waiting for validation (or already failed)."""

    record: StoredRecord
    raw: dict[str, Any] = field(default_factory=dict)
    cleaned: dict[str, Any] = field(default_factory=dict)
    events: list[StepEvent] = field(default_factory=list)
    failed: tuple[Transition, list[str]] | None = None


def process_record(
    record: StoredRecord,
    process: ProcessDefinition,
    steps: PipelineSteps,
    *,
    enrichment: Enrichment | None = None,
    source_profile: Mapping[str, Any] | None = None,
) -> tuple[Transition, list[str]]:
    """Apply the steps to one record; return its transition and its quarantine summaries.

    ``source_profile`` is what the record's source delivered in earlier runs: with a
    ``quality: drift:`` section, drift from it is checked with the contract. The runner
    does the same per chunk (validation by :class:`ContractSchema`); this per-record form
    is what replay uses.

    Never raises for a record's content: an unexpected error inside a step quarantines
    the record with the step's name and the error.
    """
    prepared = _prepare(record, process, steps, enrichment)
    if prepared.failed is not None:
        return prepared.failed
    try:
        issues = validate(prepared.cleaned, process.contract, raw=prepared.raw)
    except Exception as exc:  # a step bug must not stop the run or lose the record
        return _internal_error(record, prepared.events, steps.validate, exc)
    drift = process.quality.drift if process.quality is not None else None
    check = (
        DriftCheck(record.source, source_profile, process.contract, drift)
        if drift is not None
        else None
    )
    return _finish(prepared, issues, process, steps, check)


def _process_chunk(
    batch: Sequence[StoredRecord],
    process: ProcessDefinition,
    steps: PipelineSteps,
    schema: ContractSchema,
    enrichments: Mapping[str, Enrichment],
    checks: Mapping[str, DriftCheck],
) -> list[tuple[Transition, list[str]]]:
    """:func:`process_record` for a whole chunk, validating it in one pandera pass."""
    prepared = [
        _prepare(record, process, steps, enrichments.get(record.record_id)) for record in batch
    ]
    ready = [item for item in prepared if item.failed is None]
    try:
        checked = schema.validate([(item.cleaned, item.raw) for item in ready])
    except Exception:  # a bug in the batch path: fall back to the per-record reference
        checked = [validate(item.cleaned, process.contract, raw=item.raw) for item in ready]
    issues = dict(zip((id(item) for item in ready), checked, strict=True))
    results = []
    for item in prepared:
        if item.failed is not None:
            results.append(item.failed)
            continue
        check = checks.get(item.record.source)
        results.append(_finish(item, issues[id(item)], process, steps, check))
    return results


def _prepare(
    record: StoredRecord,
    process: ProcessDefinition,
    steps: PipelineSteps,
    enrichment: Enrichment | None,
) -> _Prepared:
    prepared = _Prepared(record)
    try:
        raw, enriched = merged_raw(record, process, enrichment)
        cleaned, notes = steps.cleaner.clean(raw)
        clean_detail: dict[str, Any] = {"notes": [str(note) for note in notes]}
        if enriched is not None:
            clean_detail["enrichment"] = enriched
        prepared.events.append(_event(steps.clean, clean_detail))
        prepared.raw, prepared.cleaned = raw, cleaned
    except Exception as exc:  # a step bug must not stop the run or lose the record
        prepared.failed = _internal_error(record, prepared.events, steps.clean, exc)
    return prepared


def _finish(
    prepared: _Prepared,
    issues: list[FieldIssue],
    process: ProcessDefinition,
    steps: PipelineSteps,
    check: DriftCheck | None,
) -> tuple[Transition, list[str]]:
    """Drift, then the validate event, then label, transform and weak label."""
    record, raw, cleaned, events = prepared.record, prepared.raw, prepared.cleaned, prepared.events
    current = steps.validate
    try:
        validate_detail: dict[str, Any] = {}
        drift = process.quality.drift if process.quality is not None else None
        if drift is not None:
            drifted = check.check(raw, cleaned) if check is not None else []
            issues = issues + _drift_issues(drifted, raw)
            validate_detail["drift"] = [to_jsonable(vars(f)) for f in drifted]
        events.append(
            _event(
                steps.validate,
                {
                    "valid": not issues,
                    "issues": [
                        {"field": i.field, "rule": i.rule, "message": i.message} for i in issues
                    ],
                    **validate_detail,
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
        weak: tuple[int, str, str] | None = None
        if labeled is None and steps.weak_label is not None:
            current = steps.weak_label
            weak = weak_label({**cleaned, **features}, process.weak_labels)
            events.append(
                _event(
                    steps.weak_label,
                    {
                        "rule": weak[2] if weak else None,
                        "label": weak[0] if weak else None,
                        "label_source": weak[1] if weak else None,
                    },
                )
            )
    except Exception as exc:  # a step bug must not stop the run or lose the record
        return _internal_error(record, events, current, exc)
    values: dict[str, Any] = {"data": _storable(cleaned), "features": features}
    to_state = RecordState.VALIDATED
    if labeled is not None:
        to_state = RecordState.LABELED
        values["label"], values["label_source"] = labeled
    elif weak is not None:  # a guess: recorded with its rule, the record is still scored
        values["label"], values["label_source"] = weak[0], weak[1]
    transition = Transition(
        record_id=record.record_id,
        from_state=RecordState.COLLECTED,
        to_state=to_state,
        values=values,
        events=events,
    )
    return transition, []


def _internal_error(
    record: StoredRecord, events: list[StepEvent], step: StepInfo, exc: Exception
) -> tuple[Transition, list[str]]:
    reason = f"internal error in step {step.name} {step.version}: {type(exc).__name__}: {exc}"
    events.append(_event(step, {"error": reason}))
    transition = Transition(
        record_id=record.record_id,
        from_state=RecordState.COLLECTED,
        to_state=RecordState.QUARANTINED,
        reason=reason,
        events=events,
    )
    return transition, [f"internal error in step {step.name}"]


def _drift_issues(drifted: list[DriftFinding], raw: Mapping[str, Any]) -> list[FieldIssue]:
    # A drifted field is one more failing field of the record, with rule "drift".
    return [
        FieldIssue(f.field, "drift", raw.get(f.field), f.message, f.summary)
        for f in drifted
        if f.quarantine
    ]


def _event(step: StepInfo, detail: Mapping[str, Any]) -> StepEvent:
    return StepEvent(
        step=step.name, step_version=step.version, config_hash=step.config_hash, detail=detail
    )


def _storable(cleaned: Mapping[str, Any]) -> dict[str, Any]:
    """Cleaned values to store: an unparsed value keeps its raw text. (The store makes
    them JSON, dates as ISO text.)"""
    return {
        key: value.raw if isinstance(value, Unparsed) else value for key, value in cleaned.items()
    }
