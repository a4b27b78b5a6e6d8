"""The column path: a slice of a raw batch through every step as whole columns.

Clean (:mod:`.columns_clean`), validate and check drift (:mod:`.columns_check`), label and
transform run on the slice's columns, and their result is the processed batch itself
(:mod:`rpaml_pipeline.store.layout`), the same one the per-record reference path
(:mod:`.record`) would write; a test holds the two to the same outcome on generated
records. The column path takes text payloads with the same keys in every record and no
enrichment to merge; :func:`columns_apply` says when, and any other slice takes the
reference path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from rpaml_pipeline.process.definition import DaysBetween, ProcessDefinition
from rpaml_pipeline.processing.columns_check import (
    FINDING,
    ISSUE,
    drift_order_offset,
    drift_rows,
    issue_rows,
    per_row,
)
from rpaml_pipeline.processing.columns_clean import CleanedBatch, clean_columns
from rpaml_pipeline.processing.columns_frame import processed_frame, slice_profile, step_details
from rpaml_pipeline.processing.steps import PipelineSteps
from rpaml_pipeline.quality.drift import DriftCheck, DriftFinding
from rpaml_pipeline.store import codec, layout
from rpaml_pipeline.store.states import RecordState


@dataclass(frozen=True)
class SliceResult:
    """What processing made of a slice of a raw batch, whichever path made it."""

    frame: pl.DataFrame
    """The processed batch."""
    record_ids: list[str]
    states: list[RecordState]
    reasons: list[str | None]
    labels: list[int | None]
    label_sources: list[str | None]
    summaries: list[list[str]]
    """Why each quarantined record was, without values."""
    findings: list[list[DriftFinding]]
    profile: dict[str, Any] | None
    """The profile of the slice's valid records (drift baselines), when drift is on."""


def columns_apply(raw: pl.DataFrame, process: ProcessDefinition, steps: PipelineSteps) -> bool:
    """Whether the column path takes this slice (text payloads, same keys everywhere, no
    weak labels to guess)."""
    fields = codec.plan(raw, layout.PAYLOAD)
    return (
        fields is not None
        and all(marker == "" for _, marker, _ in fields)
        and steps.weak_label is None
        and raw.height > 0
    )


def process_columns(
    raw: pl.DataFrame,
    process: ProcessDefinition,
    steps: PipelineSteps,
    check: DriftCheck | None,
) -> SliceResult | None:
    """The slice through every step, or None when a field cleans to mixed types (the
    reference path then takes it)."""
    fields = codec.plan(raw, layout.PAYLOAD)
    assert fields is not None  # columns_apply said so
    keys = [name for name, _, _ in fields]
    payload = raw.select([pl.col(column).alias(name) for name, _, column in fields])
    cleaned = clean_columns(steps.cleaner, payload, keys)
    if cleaned is None:
        return None
    height = raw.height
    issues = issue_rows(process.contract, cleaned, payload, keys)
    drift = drift_rows(check, cleaned, payload, keys) if check is not None else None
    if drift is not None:
        # A drifted field is one more failing field of the record, with rule "drift".
        blocking = drift.filter("quarantine").select(
            "row",
            (pl.col("order") + drift_order_offset(process.contract)).alias("order"),
            "field",
            pl.lit("drift").alias("rule"),
            "message",
            "summary",
        )
        issues = pl.concat([issues, blocking])
    frame = pl.DataFrame(
        {
            "record_id": raw.get_column("record_id"),
            "issues": per_row(issues, height, pl.struct("field", "rule", "message"), ISSUE),
            "notes": cleaned.notes,
        }
    )
    if drift is not None:
        finding = pl.struct("field", "kind", "message", "summary", "quarantine")
        frame = frame.with_columns(per_row(drift, height, finding, FINDING).alias("drift"))
    failing = set(issues.get_column("row").to_list())
    valid = pl.Series("valid", [row not in failing for row in range(height)])
    features = _features(process, cleaned, height)
    outcome = _outcome_column(process, cleaned, height)
    labels, sources = _labels(process, outcome, height)
    states = [
        RecordState.QUARANTINED if not ok else RecordState.LABELED if label is not None
        else RecordState.VALIDATED
        for ok, label in zip(valid.to_list(), labels, strict=True)
    ]  # fmt: skip
    frame = frame.with_columns(
        valid,
        pl.Series("label", labels, dtype=pl.Int64),
        pl.Series("label_source", sources, dtype=pl.String),
        pl.Series("outcome_value", outcome)
        if outcome is not None
        else pl.lit(None).alias("outcome_value"),
    )
    details = step_details(frame, process, steps, drift is not None, sorted(features))
    processed = processed_frame(frame, states, details, cleaned, features)
    labeled = [state is RecordState.LABELED for state in states]
    return SliceResult(
        frame=processed,
        record_ids=raw.get_column("record_id").to_list(),
        states=states,
        reasons=_per_record(issues, height, "message", lambda texts: "; ".join(texts), None),
        labels=[label if on else None for label, on in zip(labels, labeled, strict=True)],
        label_sources=[s if on else None for s, on in zip(sources, labeled, strict=True)],
        summaries=_per_record(issues, height, "summary", list, []),
        findings=_findings(drift, height),
        profile=slice_profile(payload, cleaned, valid, process) if check is not None else None,
    )


def _per_record(
    long: pl.DataFrame, height: int, column: str, combine: Any, default: Any
) -> list[Any]:
    """``combine`` of each row's values of ``column`` in ``long`` (``default`` for others)."""
    out = [default] * height
    ordered = long.sort("row", "order", maintain_order=True)
    grouped: dict[int, list[Any]] = {}
    for row, value in zip(ordered["row"].to_list(), ordered[column].to_list(), strict=True):
        grouped.setdefault(row, []).append(value)
    for row, values in grouped.items():
        out[row] = combine(values)
    return out


def _findings(drift: pl.DataFrame | None, height: int) -> list[list[DriftFinding]]:
    found: list[list[DriftFinding]] = [[] for _ in range(height)]
    if drift is None:
        return found
    for row in drift.sort("row", "order", maintain_order=True).iter_rows(named=True):
        found[row["row"]].append(
            DriftFinding(
                row["field"], row["kind"], row["message"], row["summary"], row["quarantine"]
            )
        )
    return found


def _features(
    process: ProcessDefinition, cleaned: CleanedBatch, height: int
) -> dict[str, pl.Series]:
    features: dict[str, pl.Series] = {}
    for derivation in process.transform.features:
        if isinstance(derivation, DaysBetween):
            start, end = cleaned.field(derivation.start), cleaned.field(derivation.end)
            if (
                start is None
                or end is None
                or start.values.dtype != pl.Date
                or end.values.dtype != pl.Date
            ):
                features[derivation.name] = pl.Series(
                    derivation.name, [None] * height, dtype=pl.Int64
                )
                continue
            days = (end.values - start.values).dt.total_days()
            features[derivation.name] = days.cast(pl.Int64).alias(derivation.name)
        else:
            source = cleaned.field(derivation.source)
            features[derivation.name] = (
                source.values.alias(derivation.name)
                if source is not None
                else pl.Series(derivation.name, [None] * height)
            )
    return features


def _outcome_column(
    process: ProcessDefinition, cleaned: CleanedBatch, height: int
) -> list[Any] | None:
    if process.labeling is None:
        return None
    field = cleaned.field(process.labeling.field)
    return field.values.to_list() if field is not None else [None] * height


def _labels(
    process: ProcessDefinition, outcome: list[Any] | None, height: int
) -> tuple[list[int | None], list[str | None]]:
    labeling = process.labeling
    if labeling is None or outcome is None:
        return [None] * height, [None] * height
    source = f"{labeling.source}#{labeling.field}"
    labels = [labeling.labels.get(v) if isinstance(v, str) else None for v in outcome]
    return labels, [source if label is not None else None for label in labels]
