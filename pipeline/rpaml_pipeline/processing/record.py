"""One record through clean -> validate -> label -> transform: the reference path.

The pure steps of :mod:`rpaml_pipeline.steps` applied to one record, exactly as their
definitions say. Batches take the column path (:mod:`rpaml_pipeline.processing.columns`)
when they can; this path takes every batch the column path cannot, and the tests check
the two give the same outcome (state, reasons, cleaned data, features, labels, lineage
details) on generated records.

A record a step cannot handle (even through a bug in a step) is quarantined with the
step's name and the error; it never stops the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rpaml_pipeline.canonical import to_jsonable
from rpaml_pipeline.process.definition import ProcessDefinition
from rpaml_pipeline.processing.steps import PipelineSteps
from rpaml_pipeline.quality.drift import DriftCheck, DriftFinding
from rpaml_pipeline.steps.clean import Unparsed
from rpaml_pipeline.steps.field_issue import FieldIssue
from rpaml_pipeline.steps.identity import StepInfo
from rpaml_pipeline.steps.label import label, weak_label
from rpaml_pipeline.steps.transform import transform
from rpaml_pipeline.steps.validate import validate
from rpaml_pipeline.store.records import Enrichment
from rpaml_pipeline.store.states import RecordState


@dataclass(frozen=True)
class RawRecord:
    """What processing starts from: a collected record's id, source and raw payload."""

    record_id: str
    source: str
    raw: Mapping[str, Any]


@dataclass
class RecordOutcome:
    """What processing made of one record."""

    record_id: str
    to_state: RecordState = RecordState.QUARANTINED
    reason: str | None = None
    data: dict[str, Any] | None = None
    """Cleaned values as stored (an unparsed value keeps its raw text); None when cleaning
    itself failed."""
    features: dict[str, Any] | None = None
    label: int | None = None
    label_source: str | None = None
    details: list[dict[str, Any]] = field(default_factory=list)
    """The detail of each step the record went through, in step order."""
    summaries: list[str] = field(default_factory=list)
    """Why it was quarantined, without values (counted across records)."""
    drift: list[DriftFinding] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    """The raw fields cleaning saw (enrichment merged)."""
    cleaned: dict[str, Any] = field(default_factory=dict)
    """The typed cleaned values (source profiles learn from valid ones)."""


def merged_raw(
    raw: Mapping[str, Any], process: ProcessDefinition, enrichment: Enrichment | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The raw fields cleaning sees: the record's raw payload with the enrichment's fields
    merged over it, and the lineage note naming the enrichment (None without one)."""
    merged = dict(raw)
    if enrichment is None or process.enrichment is None:
        return merged, None
    wanted = process.enrichment.fields or sorted(enrichment.payload)
    names = [name for name in wanted if name in enrichment.payload]
    for name in names:
        merged[name] = enrichment.payload[name]
    note = {
        "enrichment_id": enrichment.enrichment_id,
        "source": enrichment.source,
        "location": enrichment.location,
        "raw_hash": enrichment.raw_hash,
        "fields": names,
    }
    return merged, note


def prepare(
    record: RawRecord,
    process: ProcessDefinition,
    steps: PipelineSteps,
    enrichment: Enrichment | None,
) -> RecordOutcome:
    """Merge the enrichment and clean; the outcome carries the clean step's detail (or, when
    cleaning crashed, the quarantine: its ``reason`` is then set)."""
    outcome = RecordOutcome(record.record_id)
    try:
        raw, enriched = merged_raw(record.raw, process, enrichment)
        cleaned, notes = steps.cleaner.clean(raw)
        detail: dict[str, Any] = {"notes": [str(note) for note in notes]}
        if enriched is not None:
            detail["enrichment"] = enriched
        outcome.details.append(detail)
        outcome.raw, outcome.cleaned = raw, cleaned
    except Exception as exc:  # a step bug must not stop the run or lose the record
        _internal_error(outcome, steps.clean, exc)
    return outcome


def finish(
    outcome: RecordOutcome,
    issues: list[FieldIssue],
    process: ProcessDefinition,
    steps: PipelineSteps,
    check: DriftCheck | None,
) -> RecordOutcome:
    """Drift, then the validate detail, then label, transform and weak label."""
    raw, cleaned = outcome.raw, outcome.cleaned
    current = steps.validate
    try:
        validate_detail: dict[str, Any] = {}
        drift = process.quality.drift if process.quality is not None else None
        if drift is not None:
            outcome.drift = check.check(raw, cleaned) if check is not None else []
            issues = issues + _drift_issues(outcome.drift, raw)
            validate_detail["drift"] = [to_jsonable(vars(f)) for f in outcome.drift]
        outcome.details.append(
            {
                "valid": not issues,
                "issues": [
                    {"field": i.field, "rule": i.rule, "message": i.message} for i in issues
                ],
                **validate_detail,
            }
        )
        outcome.data = storable(cleaned)
        if issues:
            outcome.to_state = RecordState.QUARANTINED
            outcome.reason = "; ".join(issue.message for issue in issues)
            outcome.summaries = [issue.summary for issue in issues]
            return outcome
        labeled: tuple[int, str] | None = None
        if process.labeling is not None and steps.label is not None:
            current = steps.label
            labeled = label(cleaned, process.labeling)
            outcome.details.append(
                {
                    "outcome": cleaned.get(process.labeling.field),
                    "label": labeled[0] if labeled else None,
                    "label_source": labeled[1] if labeled else None,
                }
            )
        current = steps.transform
        features = transform(cleaned, process.transform)
        outcome.details.append({"features": sorted(features)})
        weak: tuple[int, str, str] | None = None
        if labeled is None and steps.weak_label is not None:
            current = steps.weak_label
            weak = weak_label({**cleaned, **features}, process.weak_labels)
            outcome.details.append(
                {
                    "rule": weak[2] if weak else None,
                    "label": weak[0] if weak else None,
                    "label_source": weak[1] if weak else None,
                }
            )
    except Exception as exc:  # a step bug must not stop the run or lose the record
        outcome.data = None
        return _internal_error(outcome, current, exc)
    outcome.features = features
    outcome.to_state = RecordState.VALIDATED
    if labeled is not None:
        outcome.to_state = RecordState.LABELED
        outcome.label, outcome.label_source = labeled
    elif weak is not None:  # a guess: recorded with its rule, the record is still scored
        outcome.label, outcome.label_source = weak[0], weak[1]
    return outcome


def process_record(
    record: RawRecord,
    process: ProcessDefinition,
    steps: PipelineSteps,
    *,
    enrichment: Enrichment | None = None,
    source_profile: Mapping[str, Any] | None = None,
) -> RecordOutcome:
    """Apply the steps to one record (``source_profile``: what its source delivered before,
    for the drift checks). Never raises for a record's content."""
    outcome = prepare(record, process, steps, enrichment)
    if outcome.reason is not None:
        return outcome
    try:
        issues = validate(outcome.cleaned, process.contract, raw=outcome.raw)
    except Exception as exc:  # a step bug must not stop the run or lose the record
        return _internal_error(outcome, steps.validate, exc)
    drift = process.quality.drift if process.quality is not None else None
    check = (
        DriftCheck(record.source, source_profile, process.contract, drift)
        if drift is not None
        else None
    )
    return finish(outcome, issues, process, steps, check)


def _internal_error(outcome: RecordOutcome, step: StepInfo, exc: Exception) -> RecordOutcome:
    reason = f"internal error in step {step.name} {step.version}: {type(exc).__name__}: {exc}"
    outcome.details.append({"error": reason})
    outcome.to_state = RecordState.QUARANTINED
    outcome.reason = reason
    outcome.features = None
    outcome.summaries = [f"internal error in step {step.name}"]
    return outcome


def _drift_issues(drifted: list[DriftFinding], raw: Mapping[str, Any]) -> list[FieldIssue]:
    # A drifted field is one more failing field of the record, with rule "drift".
    return [
        FieldIssue(f.field, "drift", raw.get(f.field), f.message, f.summary)
        for f in drifted
        if f.quarantine
    ]


def storable(cleaned: Mapping[str, Any]) -> dict[str, Any]:
    """Cleaned values to store: an unparsed value keeps its raw text, dates become ISO
    text (what a record's ``data`` reads back as)."""
    values = {k: v.raw if isinstance(v, Unparsed) else v for k, v in cleaned.items()}
    stored: dict[str, Any] = to_jsonable(values)
    return stored
