"""Replay a processing run: re-run its steps on the stored raw records and compare.

A processing run records the whole process definition it ran with (``runs.details``) and,
per record, the details of each step (with the enrichment the clean step merged). Replaying
re-applies the same pure steps to the same raw input and compares the outcome of each
record with what was stored: its state, validation issues, cleaned data, features and
label. With the recorded configuration the outcome must be identical (same hashes); with
another definition (``process=``) the report names every section whose configuration
changed and, per record, exactly which values differ.

Nothing is written: replay only reads the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rpaml_pipeline.canonical import sha256_hex, to_jsonable
from rpaml_pipeline.errors import ReplayError
from rpaml_pipeline.process.definition import ProcessDefinition
from rpaml_pipeline.process.loader import process_hash
from rpaml_pipeline.processing import PipelineSteps, RawRecord, process_record
from rpaml_pipeline.store.records import Enrichment, RecordEvent
from rpaml_pipeline.store.store import Store

_COMPARED = ("state", "issues", "data", "features", "label", "label_source")


@dataclass(frozen=True)
class RecordReplay:
    """One record's stored and replayed outcome."""

    record_id: str
    natural_key: str
    stored_hash: str
    replayed_hash: str
    differences: list[str] = field(default_factory=list)
    """``what: stored -> replayed`` for each value that differs."""

    @property
    def identical(self) -> bool:
        """True when the replay reproduced the stored outcome exactly."""
        return self.stored_hash == self.replayed_hash


@dataclass(frozen=True)
class ReplayReport:
    """What a replay found for a whole run."""

    run_id: str
    process: str
    recorded_config_hash: str
    config_hash: str
    config_changes: list[str]
    """Sections of the process definition that differ from the recorded one."""
    records: list[RecordReplay]

    @property
    def identical(self) -> bool:
        """True when every record's outcome was reproduced exactly."""
        return all(record.identical for record in self.records)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``rpaml pipeline replay --json``)."""
        return {
            "run_id": self.run_id,
            "process": self.process,
            "identical": self.identical,
            "recorded_config_hash": self.recorded_config_hash,
            "config_hash": self.config_hash,
            "config_changes": self.config_changes,
            "records": len(self.records),
            "differing": [
                {
                    "record_id": r.record_id,
                    "natural_key": r.natural_key,
                    "stored_hash": r.stored_hash,
                    "replayed_hash": r.replayed_hash,
                    "differences": r.differences,
                }
                for r in self.records
                if not r.identical
            ],
        }


def recorded_definition(store: Store, run_id: str) -> ProcessDefinition:
    """The process definition a processing run recorded when it started."""
    run = store.get_run(run_id)
    recorded = run.details.get("process_definition")
    if run.kind != "process" or not isinstance(recorded, Mapping):
        raise ReplayError(
            f"run {run_id} is a {run.kind!r} run without a recorded process definition: "
            "only processing runs can be replayed"
        )
    return ProcessDefinition.model_validate(recorded, strict=False)


def replay_run(store: Store, run_id: str, process: ProcessDefinition | None = None) -> ReplayReport:
    """Re-run the steps of processing run ``run_id`` (with its recorded configuration, or
    with ``process``) on its stored raw records and compare each outcome."""
    recorded = recorded_definition(store, run_id)
    definition = process or recorded
    steps = PipelineSteps.of(definition)
    # The drift baseline the run compared records with (recorded when it started).
    baseline = store.get_run(run_id).details.get("drift_baseline") or {}
    results = []
    for record_id in store.run_record_ids(run_id, steps.clean.name):
        trail = store.lineage(record_id)
        events = [event for event in trail.events if event.run_id == run_id]
        enrichment = _enrichment_used(events, trail.enrichments)
        outcome = process_record(
            RawRecord(trail.record.record_id, trail.record.source, trail.record.raw),
            definition,
            steps,
            enrichment=enrichment,
            source_profile=baseline.get(trail.record.source),
        )
        replayed = _outcome(
            outcome.to_state.value,
            _issues(outcome.details),
            {
                "data": outcome.data,
                "features": outcome.features,
                "label": outcome.label,
                "label_source": outcome.label_source,
            },
        )
        stored_state = next((e.to_state for e in reversed(events) if e.to_state), None)
        record = trail.record
        stored = _outcome(
            stored_state or "",
            _issues(e.detail for e in events),
            {
                "data": record.data,
                "features": record.features,
                "label": record.label,
                "label_source": record.label_source,
            },
        )
        results.append(
            RecordReplay(
                record_id=record_id,
                natural_key=record.natural_key,
                stored_hash=sha256_hex(stored),
                replayed_hash=sha256_hex(replayed),
                differences=_differences(stored, replayed),
            )
        )
    return ReplayReport(
        run_id=run_id,
        process=recorded.name,
        recorded_config_hash=process_hash(recorded),
        config_hash=process_hash(definition),
        config_changes=_config_changes(recorded, definition),
        records=results,
    )


def _enrichment_used(events: list[RecordEvent], found: list[Enrichment]) -> Enrichment | None:
    for event in events:
        used = event.detail.get("enrichment")
        if isinstance(used, Mapping):
            by_id = {item.enrichment_id: item for item in found}
            enrichment = by_id.get(str(used.get("enrichment_id")))
            if enrichment is None:
                raise ReplayError(
                    f"record {event.record_id}: enrichment {used.get('enrichment_id')} "
                    "named in its lineage is missing from the store"
                )
            return enrichment
    return None


def _issues(details: Iterable[Mapping[str, Any]]) -> list[Any]:
    """The validation issues named in the validate step's event detail."""
    for detail in details:
        if "issues" in detail:
            return list(detail["issues"])
    return []


def _outcome(state: str, issues: list[Any], values: Mapping[str, Any]) -> dict[str, Any]:
    outcome: dict[str, Any] = {"state": state, "issues": to_jsonable(issues)}
    for name in _COMPARED[2:]:
        outcome[name] = to_jsonable(values.get(name))
    return outcome


def _differences(stored: Mapping[str, Any], replayed: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for name in _COMPARED:
        before, after = stored.get(name), replayed.get(name)
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            for key in sorted(set(before) | set(after)):
                if before.get(key) != after.get(key):
                    found.append(f"{name}.{key}: {before.get(key)!r} -> {after.get(key)!r}")
        elif before != after:
            found.append(f"{name}: {before!r} -> {after!r}")
    return found


def _config_changes(recorded: ProcessDefinition, current: ProcessDefinition) -> list[str]:
    old, new = recorded.model_dump(mode="json"), current.model_dump(mode="json")
    return [
        f"{section} changed (hash {sha256_hex(old.get(section))[:12]} -> "
        f"{sha256_hex(new.get(section))[:12]})"
        for section in sorted(set(old) | set(new))
        if old.get(section) != new.get(section)
    ]
