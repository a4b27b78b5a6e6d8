"""The staging store: every record the robots and sources bring, its state and its lineage.

:class:`Store` is the one entry point; the same code runs on SQLite (embedded default) and
PostgreSQL (scale-out). It is split by aggregate, each in its own module:

==========================  =====================================================
:mod:`.runs`                runs (robot and pipeline executions)
:mod:`.ingest`              idempotent ingest, revisions, supersedes
:mod:`.batches`             the data plane: payloads in columnar batches
:mod:`.transitions`         the one guarded write path of state changes
:mod:`.leases`              record-by-record work: leases, acting, failures
:mod:`.enrichments`         data robots looked up elsewhere
:mod:`.profiles`            what each source delivered before (drift, batch gate)
:mod:`.reading`             the read model of records
:mod:`.lineage_read`        the lineage read model: a record's trail
:mod:`.source_positions`    what stream, bucket and SQL sources took (claimed ingest)
:mod:`.labels`              labels that judge decisions (outcomes, reviews)
:mod:`.shadow`              the challenger's decisions beside the champion's (shadow mode)
:mod:`.review_queue`        the review queue: escalated records, reviewers' leases
:mod:`.review_decisions`    reviewers' decisions, their labels, the review audit trail
==========================  =====================================================

Nothing is deleted: a record that cannot go on ends ``quarantined``, ``failed`` or
``dead`` with a reason a person can read, and its lineage (its own events and its
batches' events) says what happened to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Self

from rpaml_pipeline.store.batches import Batches
from rpaml_pipeline.store.context import StoreContext
from rpaml_pipeline.store.engine import make_engine, safe_url
from rpaml_pipeline.store.enrichments import Enrichments
from rpaml_pipeline.store.hashing import content_hash, raw_hash
from rpaml_pipeline.store.ingest import Ingest
from rpaml_pipeline.store.labels import Labels
from rpaml_pipeline.store.leases import Leases
from rpaml_pipeline.store.lineage_read import LineageReading
from rpaml_pipeline.store.migrations import upgrade_to_head
from rpaml_pipeline.store.profiles import Profiles
from rpaml_pipeline.store.reading import Reading
from rpaml_pipeline.store.records import (
    Enrichment,
    IncomingRecord,
    IngestResult,
    RecordEvent,
    RecordLineage,
    RunInfo,
    StoredRecord,
    Transition,
    TransitionReport,
    utc_now,
)
from rpaml_pipeline.store.review_decisions import ReviewDecisions
from rpaml_pipeline.store.review_queue import ReviewQueue
from rpaml_pipeline.store.runs import Runs
from rpaml_pipeline.store.shadow import ShadowDecisions
from rpaml_pipeline.store.source_positions import SourcePositions
from rpaml_pipeline.store.states import RecordState
from rpaml_pipeline.store.transitions import Transitions


class Store:
    """The staging store. Build it with :meth:`connect`; it is safe to share in a process
    (the engine pools connections) and across processes (transactions and leases).

    The aggregates are attributes (``runs``, ``batches``, ``transitions``, ``reading``...)
    for the stages that work on batches; the methods below are the record-level API the
    robots, the CLI and the tests use.
    """

    def __init__(
        self,
        engine: Any,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        retry_base_seconds: float = 30.0,
        retry_max_seconds: float = 3600.0,
    ) -> None:
        self.engine = engine
        self.ctx = StoreContext(engine, clock, retry_base_seconds, retry_max_seconds)
        self.runs = Runs(self.ctx)
        self.batches = Batches(self.ctx)
        self.transitions = Transitions(self.ctx, self.batches)
        self.reading = Reading(self.ctx, self.batches)
        self.lineage_reading = LineageReading(self.ctx, self.batches, self.reading)
        self.leases = Leases(self.ctx, self.transitions, self.reading)
        self.enrichment = Enrichments(self.ctx)
        self.profiles = Profiles(self.ctx)
        self._ingest = Ingest(self.ctx, self.batches)
        self.positions = SourcePositions(self.ctx, self._ingest)
        self.labels = Labels(self.ctx)
        self.review = ReviewQueue(self.ctx, self.transitions)
        self.review_decisions = ReviewDecisions(self.ctx, self.transitions)
        self.shadow = ShadowDecisions(self.ctx)

    # --- lifecycle ------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        migrate: bool = True,
        clock: Callable[[], dt.datetime] = utc_now,
        retry_base_seconds: float = 30.0,
        retry_max_seconds: float = 3600.0,
    ) -> Store:
        """Open the store at ``url`` and migrate it to the current schema.

        ``clock`` returns aware UTC datetimes (tests pass a controllable one);
        ``retry_base_seconds``/``retry_max_seconds`` bound the retry backoff.
        """
        engine = make_engine(url)
        if migrate:
            upgrade_to_head(engine)
        return cls(
            engine,
            clock=clock,
            retry_base_seconds=retry_base_seconds,
            retry_max_seconds=retry_max_seconds,
        )

    @property
    def url(self) -> str:
        """The store URL with any password masked."""
        return safe_url(self.engine.url.render_as_string(hide_password=False))

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.ctx.dialect

    @property
    def retry_base_seconds(self) -> float:
        """First backoff of a record whose action failed because of the application."""
        return self.ctx.retry_base_seconds

    @property
    def retry_max_seconds(self) -> float:
        """Longest backoff."""
        return self.ctx.retry_max_seconds

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def now(self) -> dt.datetime:
        """The store clock's current time (aware UTC)."""
        return self.ctx.now()

    # --- runs -----------------------------------------------------------------------

    def start_run(
        self,
        process: str,
        kind: str,
        robot: str | None = None,
        config_hash: str | None = None,
        details: Mapping[str, Any] | None = None,
        *,
        run_id: str | None = None,
    ) -> str:
        """Record the start of a run (collect, history, process, score, act...); return its id."""
        return self.runs.start(process, kind, robot, config_hash, details, run_id=run_id)

    def finish_run(
        self, run_id: str, status: str, summary: Mapping[str, Any] | None = None
    ) -> None:
        """Mark a run ``succeeded`` or ``failed`` with its summary."""
        self.runs.finish(run_id, status, summary)

    def annotate_run(self, run_id: str, details: Mapping[str, Any]) -> None:
        """Merge ``details`` into the run's details (e.g. the configuration it ran with)."""
        self.runs.annotate(run_id, details)

    def get_run(self, run_id: str) -> RunInfo:
        """The run with ``run_id``."""
        return self.runs.get(run_id)

    def list_runs(
        self, process: str | None = None, *, kind: str | None = None, limit: int = 50
    ) -> list[RunInfo]:
        """The newest runs first, optionally of one process and kind."""
        return self.runs.list(process, kind=kind, limit=limit)

    def run_record_ids(self, run_id: str, step: str) -> list[str]:
        """The records that have a ``step`` event in ``run_id``, in the order they got it."""
        return self.lineage_reading.run_record_ids(run_id, step)

    # --- ingest and reading ---------------------------------------------------------

    def ingest(self, process: str, items: Iterable[IncomingRecord], *, run_id: str) -> IngestResult:
        """Stage captured records idempotently (:mod:`rpaml_pipeline.store.ingest`)."""
        batch = list(items)
        self.runs.get(run_id)  # a clear error for an unknown run, before any write
        return self._ingest.ingest(process, batch, run_id=run_id)

    def known_keys(self, process: str, natural_keys: Iterable[str]) -> set[str]:
        """The natural keys (of ``natural_keys``) already staged for ``process``, any revision."""
        return self._ingest.known_keys(process, list(natural_keys))

    def get_record(self, record_id: str) -> StoredRecord:
        """The record with ``record_id``."""
        return self.reading.get(record_id)

    def latest(self, process: str, natural_key: str) -> StoredRecord | None:
        """The newest revision of a record, or None when the key was never staged."""
        return self.reading.latest(process, natural_key)

    def iter_records(
        self, process: str, state: RecordState | str | None = None, chunk: int = 1000
    ) -> Iterator[list[StoredRecord]]:
        """Yield the records of ``process`` (optionally in ``state``) in chunks."""
        return self.reading.iter_records(process, state, chunk)

    def record_events(self, record_id: str) -> list[RecordEvent]:
        """The record's lineage events, oldest first."""
        return self.lineage_reading.events(record_id)

    def counts(self, process: str | None = None) -> dict[str, dict[str, int]]:
        """``{process: {state: n}}`` over every record (or one process)."""
        return self.reading.counts(process)

    def lineage(self, record_id: str) -> RecordLineage:
        """The record, the run that collected it, its ordered events and its revisions."""
        return self.lineage_reading.lineage(record_id)

    # --- source profiles and enrichments --------------------------------------------

    def source_profiles(self, process: str) -> dict[str, dict[str, Any]]:
        """``source -> profile`` of what each source of ``process`` delivered before."""
        return self.profiles.of(process)

    def save_source_profiles(
        self, process: str, profiles: Mapping[str, Mapping[str, Any]], *, run_id: str
    ) -> None:
        """Replace the profiles of these sources of ``process`` (one transaction)."""
        self.profiles.save(process, profiles, run_id=run_id)

    def add_enrichment(
        self,
        record_id: str,
        *,
        source: str,
        location: str | None,
        search_term: str | None,
        payload: Mapping[str, Any],
        run_id: str | None,
        captured_at: dt.datetime | None = None,
    ) -> str:
        """Store data a robot looked up for ``record_id`` elsewhere; return its id."""
        return self.enrichment.add(
            record_id,
            source=source,
            location=location,
            search_term=search_term,
            payload=payload,
            run_id=run_id,
            captured_at=captured_at,
        )

    def enrichments(self, record_id: str) -> list[Enrichment]:
        """Every enrichment of ``record_id``, oldest first (the last one is the newest)."""
        return self.enrichment.of(record_id)

    def latest_enrichments(self, record_ids: Iterable[str]) -> dict[str, Enrichment]:
        """The newest enrichment of each of ``record_ids`` that has one."""
        return self.enrichment.latest(record_ids)

    # --- record-by-record work ------------------------------------------------------

    def claim(
        self,
        process: str,
        state: RecordState | str = RecordState.COLLECTED,
        owner: str = "",
        limit: int = 50,
        lease_seconds: float = 300,
    ) -> list[StoredRecord]:
        """Lease up to ``limit`` records in ``state`` (:meth:`Leases.claim`)."""
        return self.leases.claim(process, state, owner, limit, lease_seconds)

    def release(self, record_id: str, owner: str) -> None:
        """Give a lease back without changing the record (no-op if not held by ``owner``)."""
        self.leases.release(record_id, owner)

    def release_many(self, record_ids: Sequence[str], owner: str) -> None:
        """:meth:`release` for many records in one statement."""
        self.leases.release_many(record_ids, owner)

    def quarantine(
        self, record_id: str, reason: str, *, run_id: str | None, step: str = "enrich"
    ) -> None:
        """``collected -> quarantined`` with ``reason`` (:meth:`Leases.quarantine`)."""
        self.leases.quarantine(record_id, reason, run_id=run_id, step=step)

    def mark_acting(self, record_id: str, owner: str, *, run_id: str | None = None) -> StoredRecord:
        """``decided -> acting`` while ``owner`` holds the lease (:meth:`Leases.mark_acting`)."""
        return self.leases.mark_acting(record_id, owner, run_id=run_id)

    def record_action(
        self,
        record_id: str,
        receipt: str,
        outcome: str,
        run_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """``acting -> acted`` with the application's receipt (:meth:`Leases.record_action`)."""
        self.leases.record_action(record_id, receipt, outcome, run_id, detail)

    def record_failure(
        self,
        record_id: str,
        reason: str,
        kind: str = "application",
        run_id: str | None = None,
        max_attempts: int = 3,
    ) -> StoredRecord:
        """A failed attempt and what follows (:meth:`Leases.record_failure`)."""
        return self.leases.record_failure(record_id, reason, kind, run_id, max_attempts)

    def transition_many(
        self, transitions: Sequence[Transition], *, run_id: str | None, owner: str | None = None
    ) -> TransitionReport:
        """Many record transitions in one transaction (:meth:`Leases.transition_many`)."""
        return self.leases.transition_many(transitions, run_id=run_id, owner=owner)


__all__ = ["Store", "content_hash", "raw_hash"]
