"""Plain value types the store accepts and returns (no ORM objects leave the store)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rpaml_pipeline.store.labels import RecordLabel
from rpaml_pipeline.store.shadow import ShadowDecision
from rpaml_pipeline.store.states import RecordState


def utc_now() -> dt.datetime:
    """The current time, timezone-aware UTC (the store's default clock)."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class IncomingRecord:
    """One record as a robot captured it: raw strings, where and when it was seen.

    A naive ``captured_at`` is taken to be UTC.
    """

    natural_key: str
    payload: Mapping[str, Any]
    source: str
    source_location: str | None = None
    captured_at: dt.datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class IngestResult:
    """What an ingest did. ``record_ids`` follows the input order (existing id if unchanged)."""

    new: int
    revised: int
    unchanged: int
    record_ids: list[str]


@dataclass(frozen=True)
class StoredRecord:
    """A record as stored: its control row, with ``raw`` (as captured), ``data`` (cleaned)
    and ``features`` (derived) read from its batches."""

    record_id: str
    process: str
    source: str
    source_location: str | None
    natural_key: str
    revision: int
    content_hash: str
    raw_hash: str
    raw: dict[str, Any]
    data: dict[str, Any] | None
    features: dict[str, Any] | None
    state: str
    reason: str | None
    run_id: str
    captured_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    attempts: int
    next_attempt_at: dt.datetime | None
    lease_owner: str | None
    lease_expires_at: dt.datetime | None
    score: float | None
    decision: str | None
    reasons: list[Any] | None
    model_name: str | None
    model_version: str | None
    policy_version: str | None
    receipt: str | None
    label: int | None
    label_source: str | None
    superseded_by: str | None
    expected_costs: dict[str, float] | None = None
    """Each action's expected cost when the policy decided (None for other policies)."""
    batch_id: str | None = None
    """The raw batch holding what was captured."""
    data_batch_id: str | None = None
    """The processed batch holding the cleaned data and features."""


@dataclass(frozen=True)
class RunInfo:
    """A run: one robot or pipeline execution that records point back to."""

    run_id: str
    process: str
    kind: str
    robot: str | None
    status: str
    config_hash: str | None
    details: dict[str, Any]
    summary: dict[str, Any] | None
    started_at: dt.datetime
    finished_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> RunInfo:
        """Build from a ``runs`` row mapping."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class RecordEvent:
    """One lineage event of a record: a step (with version and configuration hash) or a
    state change, in the run that caused it."""

    event_id: int
    record_id: str
    run_id: str | None
    step: str
    step_version: str | None
    config_hash: str | None
    from_state: str | None
    to_state: str | None
    at: dt.datetime
    detail: dict[str, Any]

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> RecordEvent:
        """Build from a ``record_events`` row mapping (one that holds a single step)."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    @classmethod
    def from_stored(cls, row: Mapping[Any, Any]) -> list[RecordEvent]:
        """The events a ``record_events`` row holds: one, or the steps of a compact row
        (see :data:`STEPS_KEY`), in order, the state change on the last."""
        detail = row["detail"]
        steps = detail.get(STEPS_KEY) if isinstance(detail, dict) else None
        if steps is None:
            return [cls.from_row(row)]
        events = []
        for index, (step, version, config, step_detail) in enumerate(steps):
            last = index == len(steps) - 1
            events.append(
                cls(
                    event_id=row["event_id"],
                    record_id=row["record_id"],
                    run_id=row["run_id"],
                    step=step,
                    step_version=version,
                    config_hash=config,
                    from_state=row["from_state"] if last else None,
                    to_state=row["to_state"] if last else None,
                    at=row["at"],
                    detail=step_detail,
                )
            )
        return events


STEPS_KEY = "rpaml:steps"
"""A compact ``record_events`` row: the steps one transition ran on a record (the processing
run's clean, validate, label, transform ...) stored as one row whose detail lists each as
``[step, version, config_hash, detail]``. The row's own ``step``, ``step_version`` and
``config_hash`` are the first step's (so a query by step still finds it); reading it gives
back every step as its own :class:`RecordEvent`. One row instead of four or five per record
is most of what processing writes."""


@dataclass(frozen=True)
class Enrichment:
    """Data a robot looked up for a record in another application (``Store.add_enrichment``).

    ``source`` names the robot (``robot:enrich_policies``), ``location`` the window title or
    URL it read, ``search_term`` what it searched for; ``raw_hash`` is over ``payload``.
    """

    enrichment_id: str
    record_id: str
    process: str
    source: str
    location: str | None
    search_term: str | None
    payload: dict[str, Any]
    raw_hash: str
    run_id: str | None
    captured_at: dt.datetime

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Enrichment:
        """Build from an ``enrichments`` row mapping."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class RecordLineage:
    """Everything known about how a record came to be what it is."""

    record: StoredRecord
    run: RunInfo | None
    """The run that collected this revision."""
    events: list[RecordEvent]
    """Ordered oldest first."""
    revisions: list[StoredRecord]
    """Every revision of the same natural key, oldest first (this one included)."""
    enrichments: list[Enrichment] = field(default_factory=list)
    """Data robots looked up for this record elsewhere, oldest first."""
    labels: list[RecordLabel] = field(default_factory=list)
    """Labels judging this record's decision, oldest first."""
    shadow: list[ShadowDecision] = field(default_factory=list)
    """The challengers' decisions beside the champion's (shadow mode), never acted on."""


@dataclass(frozen=True)
class StepEvent:
    """A step applied to a record, written as a lineage event by :meth:`Store.transition_many`."""

    step: str
    step_version: str | None = None
    config_hash: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Transition:
    """Move one record to ``to_state``, set ``values`` and write ``events``.

    ``from_state`` (when given) guards against concurrent changes: the transition applies
    only if the record is still in that state. ``values`` may set: data, features, score,
    decision, reasons, model_name, model_version, policy_version, receipt, label,
    label_source.
    """

    record_id: str
    to_state: RecordState
    from_state: RecordState | None = None
    reason: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    events: Sequence[StepEvent] = ()


@dataclass(frozen=True)
class TransitionReport:
    """Outcome of :meth:`Store.transition_many`."""

    applied: int
    lost: list[str]
    """Records not changed because their state or lease no longer matched."""
