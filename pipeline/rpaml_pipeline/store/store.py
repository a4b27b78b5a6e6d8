"""The staging store: every record the robots collect, its state and its lineage.

One class, :class:`Store`, over SQLAlchemy Core; the same code runs on SQLite (embedded
default) and PostgreSQL (scale-out). Every state change writes a ``record_events`` row, so
a record's events are its lineage; nothing is deleted, and a record that cannot go on ends
``quarantined``, ``failed`` or ``dead`` with a reason a person can read. The steps of one
transition (processing's clean, validate, label, transform) share one compact row, read
back as one event per step (:data:`~rpaml_pipeline.store.records.STEPS_KEY`). The hot
writes go through :func:`~rpaml_pipeline.store.bulk.executemany`.

Ingest is idempotent per ``(process, natural_key)`` and content hash:

* same content as the newest revision -> nothing written, reported ``unchanged``;
* new key -> revision 1 in ``collected``;
* changed content -> revision n+1 in ``collected``. The previous revision, if it has not
  been acted on (any state but ``acting``/``acted``/``dead``), is *superseded*: it moves to
  ``dead`` with the reason "superseded by revision n+1" and ``superseded_by`` pointing at
  the new record, so exactly one live revision per key goes on to scoring, acting and
  training. A revision a robot is acting on, or has acted on, keeps its state (that action
  happened in the source application and must stay visible); it only gets
  ``superseded_by``.

The content hash is taken over the canonical JSON of the payload with every string's
surrounding whitespace stripped and inner whitespace runs collapsed: screens re-render the
same claim with different padding, which is not a change. ``raw_hash`` is over the exact
payload as captured.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Self

from sqlalchemy import Engine, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from rpaml_pipeline.canonical import sha256_hex, sha256_of_jsonable, to_jsonable
from rpaml_pipeline.errors import (
    InvalidTransitionError,
    LeaseLostError,
    RecordNotFoundError,
    StoreError,
)
from rpaml_pipeline.store.bulk import executemany
from rpaml_pipeline.store.engine import READ_ONLY, make_engine, safe_url
from rpaml_pipeline.store.migrations import upgrade_to_head
from rpaml_pipeline.store.records import (
    STEPS_KEY,
    Enrichment,
    IncomingRecord,
    IngestResult,
    RecordEvent,
    RecordLineage,
    RunInfo,
    StepEvent,
    StoredRecord,
    Transition,
    TransitionReport,
    utc_now,
)
from rpaml_pipeline.store.schema import (
    enrichments,
    record_events,
    records,
    runs,
    source_profiles,
)
from rpaml_pipeline.store.states import RETRY_STATE, SUPERSEDABLE_STATES, RecordState

STORE_STEP_VERSION = "1"
"""Version of the store's own steps (ingest, claim, act...) recorded in their events."""

RUN_STATUSES = frozenset({"running", "succeeded", "failed"})
FAILURE_KINDS = frozenset({"business", "application"})
ACTION_OUTCOMES = frozenset({"applied", "already_decided"})
SETTABLE_VALUES = frozenset(
    {
        "data",
        "features",
        "score",
        "decision",
        "reasons",
        "model_name",
        "model_version",
        "policy_version",
        "receipt",
        "label",
        "label_source",
    }
)
_INGEST_CHUNK = 500
_INGEST_RETRIES = 5
_STATISTICS_EVERY = 5.0
_ANALYZE_MIN_CHANGES = 5_000
_ANALYZE_FRACTION = 0.2


def content_hash(payload: Mapping[str, Any]) -> str:
    """Hash of the payload's content, insensitive to whitespace padding in its strings."""
    return _content_hash(to_jsonable(payload))


def _content_hash(jsonable: Any) -> str:
    """:func:`content_hash` of a payload :func:`to_jsonable` already converted."""
    return sha256_of_jsonable(_normalise(jsonable))


def raw_hash(payload: Mapping[str, Any]) -> str:
    """Hash of the payload exactly as captured."""
    return sha256_hex(payload)


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        # Collapse whitespace runs and strip: str.split and re's \s agree on every code
        # point, and this is several times faster than re.sub.
        return " ".join(value.split())
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


_RECORD_FIELDS = [records.c[name] for name in StoredRecord.__dataclass_fields__]
"""The ``records`` columns in :class:`StoredRecord`'s field order: a chunk of rows becomes
records positionally, at half the cost of going through row mappings."""


def _new_id() -> str:
    return uuid.uuid4().hex


def _ordered_id() -> str:
    """A 32-hex id that sorts by creation time (nanosecond clock, then random bits): ties
    between enrichments captured at the same instant resolve to the one stored last, and
    records insert at the end of their indexes."""
    return f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}"


class Store:
    """The staging store. Build it with :meth:`connect`; it is safe to share in a process
    (the engine pools connections) and across processes (transactions and leases)."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        retry_base_seconds: float = 30.0,
        retry_max_seconds: float = 3600.0,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self.retry_base_seconds = retry_base_seconds
        self.retry_max_seconds = retry_max_seconds
        self._statistics_checked = 0.0

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
        return self.engine.dialect.name

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def now(self) -> dt.datetime:
        """The store clock's current time (aware UTC)."""
        return self._clock()

    def _write(self) -> Any:
        return self.engine.begin()

    def _read(self) -> Any:
        return self.engine.connect().execution_options(**{READ_ONLY: True})

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
        run_id = run_id or _new_id()
        with self._write() as conn:
            conn.execute(
                insert(runs).values(
                    run_id=run_id,
                    process=process,
                    kind=kind,
                    robot=robot,
                    status="running",
                    config_hash=config_hash,
                    details=to_jsonable(dict(details or {})),
                    started_at=self.now(),
                )
            )
        return run_id

    def finish_run(
        self, run_id: str, status: str, summary: Mapping[str, Any] | None = None
    ) -> None:
        """Mark a run ``succeeded`` or ``failed`` with its summary."""
        if status not in RUN_STATUSES - {"running"}:
            raise StoreError(f"run status must be 'succeeded' or 'failed', not {status!r}")
        with self._write() as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.run_id == run_id)
                .values(
                    status=status,
                    summary=to_jsonable(dict(summary or {})),
                    finished_at=self.now(),
                )
            )
            if result.rowcount == 0:
                raise RecordNotFoundError(f"no run with id {run_id!r}")

    def annotate_run(self, run_id: str, details: Mapping[str, Any]) -> None:
        """Merge ``details`` into the run's details (e.g. the configuration it ran with)."""
        with self._write() as conn:
            current = conn.execute(select(runs.c.details).where(runs.c.run_id == run_id)).first()
            if current is None:
                raise RecordNotFoundError(f"no run with id {run_id!r}")
            merged = {**dict(current[0] or {}), **to_jsonable(dict(details))}
            conn.execute(update(runs).where(runs.c.run_id == run_id).values(details=merged))

    def run_record_ids(self, run_id: str, step: str) -> list[str]:
        """The records that have a ``step`` event in ``run_id``, in the order they got it."""
        query = (
            select(record_events.c.record_id, func.min(record_events.c.event_id))
            .where(record_events.c.run_id == run_id, record_events.c.step == step)
            .group_by(record_events.c.record_id)
            .order_by(func.min(record_events.c.event_id))
        )
        with self._read() as conn:
            return [row[0] for row in conn.execute(query)]

    def get_run(self, run_id: str) -> RunInfo:
        """The run with ``run_id``."""
        with self._read() as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).mappings().first()
        if row is None:
            raise RecordNotFoundError(f"no run with id {run_id!r}")
        return RunInfo.from_row(row)

    def list_runs(
        self, process: str | None = None, *, kind: str | None = None, limit: int = 50
    ) -> list[RunInfo]:
        """The newest runs first, optionally of one process and kind."""
        query = select(runs).order_by(runs.c.started_at.desc(), runs.c.run_id).limit(limit)
        if process is not None:
            query = query.where(runs.c.process == process)
        if kind is not None:
            query = query.where(runs.c.kind == kind)
        with self._read() as conn:
            return [RunInfo.from_row(row) for row in conn.execute(query).mappings()]

    # --- ingest ---------------------------------------------------------------------

    def ingest(self, process: str, items: Iterable[IncomingRecord], *, run_id: str) -> IngestResult:
        """Stage captured records idempotently (see the module docstring for the rules)."""
        batch = list(items)
        for item in batch:
            if not item.natural_key or not isinstance(item.natural_key, str):
                raise StoreError(
                    f"a record needs a non-empty natural key (got {item.natural_key!r})"
                )
        self.get_run(run_id)  # a clear error for an unknown run, before any write
        new = revised = unchanged = 0
        record_ids: list[str] = []
        for start in range(0, len(batch), _INGEST_CHUNK):
            chunk = batch[start : start + _INGEST_CHUNK]
            for attempt in range(_INGEST_RETRIES):
                try:
                    with self._write() as conn:
                        counts, ids = self._ingest_chunk(conn, process, chunk, run_id)
                    break
                except IntegrityError:
                    # PostgreSQL: another process inserted the same key concurrently; the
                    # retry sees its row and treats ours as unchanged or a revision.
                    if attempt == _INGEST_RETRIES - 1:
                        raise
            new += counts[0]
            revised += counts[1]
            unchanged += counts[2]
            record_ids.extend(ids)
        self._refresh_statistics()
        return IngestResult(new=new, revised=revised, unchanged=unchanged, record_ids=record_ids)

    def _ingest_chunk(
        self, conn: Connection, process: str, chunk: Sequence[IncomingRecord], run_id: str
    ) -> tuple[tuple[int, int, int], list[str]]:
        keys = sorted({item.natural_key for item in chunk})
        latest: dict[str, Mapping[str, Any]] = {}
        query = (
            select(
                records.c.record_id,
                records.c.natural_key,
                records.c.revision,
                records.c.content_hash,
                records.c.state,
            )
            .where(records.c.process == process, records.c.natural_key.in_(keys))
            .order_by(records.c.natural_key, records.c.revision)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        for row in conn.execute(query).mappings():
            latest[row["natural_key"]] = dict(row)  # ordered by revision: last one wins
        now = self.now()
        new = revised = unchanged = 0
        ids: list[str] = []
        rows: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        superseded: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
        for item in chunk:
            payload = to_jsonable(dict(item.payload))
            # The payload is JSON-ready now: hash it without converting it again.
            c_hash = _content_hash(payload)
            previous = latest.get(item.natural_key)
            if previous is not None and previous["content_hash"] == c_hash:
                unchanged += 1
                ids.append(previous["record_id"])
                continue
            # Time-ordered: new rows append to the primary key and event indexes instead
            # of landing on random pages (with random ids, ingest slowed down several
            # times as the store grew past the page cache).
            record_id = _ordered_id()
            revision = 1 if previous is None else int(previous["revision"]) + 1
            captured_at = item.captured_at
            if captured_at.tzinfo is None:
                captured_at = captured_at.replace(tzinfo=dt.UTC)
            r_hash = sha256_of_jsonable(payload)
            rows.append(
                {
                    "record_id": record_id,
                    "process": process,
                    "source": item.source,
                    "source_location": item.source_location,
                    "natural_key": item.natural_key,
                    "revision": revision,
                    "content_hash": c_hash,
                    "raw_hash": r_hash,
                    "raw": payload,
                    "state": RecordState.COLLECTED.value,
                    "run_id": run_id,
                    "captured_at": captured_at,
                    "created_at": now,
                    "updated_at": now,
                    "attempts": 0,
                }
            )
            detail: dict[str, Any] = {
                "source": item.source,
                "source_location": item.source_location,
                "captured_at": captured_at.isoformat(),
                "raw_hash": r_hash,
                "content_hash": c_hash,
                "revision": revision,
            }
            if previous is not None:
                detail["previous_record_id"] = previous["record_id"]
            events.append(
                self._event_row(
                    record_id, run_id, "ingest", None, RecordState.COLLECTED, now, detail
                )
            )
            if previous is None:
                new += 1
            else:
                revised += 1
                superseded.append((previous, rows[-1]))
            # The same key may come again later in this batch: compare with this revision.
            latest[item.natural_key] = {
                "record_id": record_id,
                "natural_key": item.natural_key,
                "revision": revision,
                "content_hash": c_hash,
                "state": RecordState.COLLECTED.value,
            }
            ids.append(record_id)
        executemany(conn, insert(records), rows)
        # Supersede after the new rows exist, oldest first, so a key revised twice in one
        # batch ends with exactly one live revision.
        for previous, newer in superseded:
            events.extend(self._supersede(conn, previous, newer, run_id, now))
        executemany(conn, insert(record_events), events)
        return (new, revised, unchanged), ids

    def _supersede(
        self,
        conn: Connection,
        previous: Mapping[str, Any],
        newer: Mapping[str, Any],
        run_id: str,
        now: dt.datetime,
    ) -> list[dict[str, Any]]:
        old_state = RecordState(previous["state"])
        detail = {"superseded_by": newer["record_id"], "revision": newer["revision"]}
        values: dict[str, Any] = {"superseded_by": newer["record_id"], "updated_at": now}
        to_state: RecordState | None = None
        if old_state in SUPERSEDABLE_STATES:
            to_state = RecordState.DEAD
            values.update(
                state=RecordState.DEAD.value,
                reason=(
                    f"superseded by revision {newer['revision']} (record {newer['record_id']}) "
                    f"while {old_state.value}: the source changed"
                ),
                lease_owner=None,
                lease_expires_at=None,
            )
        conn.execute(
            update(records).where(records.c.record_id == previous["record_id"]).values(**values)
        )
        return [
            self._event_row(
                previous["record_id"],
                run_id,
                "supersede",
                old_state if to_state else None,
                to_state,
                now,
                detail,
            )
        ]

    def known_keys(self, process: str, natural_keys: Iterable[str]) -> set[str]:
        """The natural keys (of ``natural_keys``) already staged for ``process``, any revision."""
        wanted = sorted(set(natural_keys))
        found: set[str] = set()
        with self._read() as conn:
            for start in range(0, len(wanted), 900):  # SQLite's bound-parameter limit
                part = wanted[start : start + 900]
                query = (
                    select(records.c.natural_key)
                    .where(records.c.process == process, records.c.natural_key.in_(part))
                    .distinct()
                )
                found.update(conn.execute(query).scalars())
        return found

    # --- reading --------------------------------------------------------------------

    def get_record(self, record_id: str) -> StoredRecord:
        """The record with ``record_id``."""
        with self._read() as conn:
            return self._get(conn, record_id)

    def _get(self, conn: Connection, record_id: str) -> StoredRecord:
        row = (
            conn.execute(select(records).where(records.c.record_id == record_id)).mappings().first()
        )
        if row is None:
            raise RecordNotFoundError(f"no record with id {record_id!r}")
        return StoredRecord.from_row(row)

    def latest(self, process: str, natural_key: str) -> StoredRecord | None:
        """The newest revision of a record, or None when the key was never staged."""
        query = (
            select(records)
            .where(records.c.process == process, records.c.natural_key == natural_key)
            .order_by(records.c.revision.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else StoredRecord.from_row(row)

    def iter_records(
        self, process: str, state: RecordState | str | None = None, chunk: int = 1000
    ) -> Iterator[list[StoredRecord]]:
        """Yield the records of ``process`` (optionally in ``state``) in chunks.

        Keyset pagination on ``record_id``: each chunk is one short read, so a long
        iteration never holds a transaction open.
        """
        last = ""
        while True:
            query = (
                select(*_RECORD_FIELDS)
                .where(records.c.process == process, records.c.record_id > last)
                .order_by(records.c.record_id)
                .limit(chunk)
            )
            if state is not None:
                query = query.where(records.c.state == str(state))
            with self._read() as conn:
                rows = [StoredRecord(*row) for row in conn.execute(query)]
            if not rows:
                return
            yield rows
            last = rows[-1].record_id

    def record_events(self, record_id: str) -> list[RecordEvent]:
        """The record's lineage events, oldest first."""
        query = (
            select(record_events)
            .where(record_events.c.record_id == record_id)
            .order_by(record_events.c.event_id)
        )
        with self._read() as conn:
            rows = conn.execute(query).mappings()
            return [event for row in rows for event in RecordEvent.from_stored(row)]

    def counts(self, process: str | None = None) -> dict[str, dict[str, int]]:
        """``{process: {state: n}}`` over every record (or one process)."""
        query = select(records.c.process, records.c.state, func.count()).group_by(
            records.c.process, records.c.state
        )
        if process is not None:
            query = query.where(records.c.process == process)
        result: dict[str, dict[str, int]] = {}
        with self._read() as conn:
            for name, state, count in conn.execute(query):
                result.setdefault(name, {})[state] = int(count)
        return result

    def lineage(self, record_id: str) -> RecordLineage:
        """The record, the run that collected it, its ordered events and its revisions."""
        with self._read() as conn:
            record = self._get(conn, record_id)
            run_row = (
                conn.execute(select(runs).where(runs.c.run_id == record.run_id)).mappings().first()
            )
            events = [
                event
                for row in conn.execute(
                    select(record_events)
                    .where(record_events.c.record_id == record_id)
                    .order_by(record_events.c.event_id)
                ).mappings()
                for event in RecordEvent.from_stored(row)
            ]
            revisions = [
                StoredRecord.from_row(row)
                for row in conn.execute(
                    select(records)
                    .where(
                        records.c.process == record.process,
                        records.c.natural_key == record.natural_key,
                    )
                    .order_by(records.c.revision)
                ).mappings()
            ]
            found = [
                Enrichment.from_row(row)
                for row in conn.execute(
                    select(enrichments)
                    .where(enrichments.c.record_id == record_id)
                    .order_by(enrichments.c.captured_at, enrichments.c.enrichment_id)
                ).mappings()
            ]
        run = None if run_row is None else RunInfo.from_row(run_row)
        return RecordLineage(
            record=record, run=run, events=events, revisions=revisions, enrichments=found
        )

    # --- source profiles (drift baselines) ------------------------------------------

    def source_profiles(self, process: str) -> dict[str, dict[str, Any]]:
        """``source -> profile`` of what each source of ``process`` delivered before."""
        query = select(source_profiles.c.source, source_profiles.c.profile).where(
            source_profiles.c.process == process
        )
        with self._read() as conn:
            return {source: dict(profile) for source, profile in conn.execute(query)}

    def save_source_profiles(
        self, process: str, profiles: Mapping[str, Mapping[str, Any]], *, run_id: str
    ) -> None:
        """Replace the profiles of these sources of ``process`` (one transaction).

        Two runs saving a new source's first profile at once: the one that loses the
        insert race retries, and then updates.
        """
        for attempt in range(_INGEST_RETRIES):
            try:
                self._save_source_profiles(process, profiles, run_id)
                return
            except IntegrityError:
                if attempt == _INGEST_RETRIES - 1:
                    raise

    def _save_source_profiles(
        self, process: str, profiles: Mapping[str, Mapping[str, Any]], run_id: str
    ) -> None:
        now = self.now()
        with self._write() as conn:
            for source, profile in profiles.items():
                key = and_(source_profiles.c.process == process, source_profiles.c.source == source)
                values = {
                    "records": int(profile.get("records", 0)),
                    "profile": to_jsonable(dict(profile)),
                    "run_id": run_id,
                    "updated_at": now,
                }
                if conn.execute(update(source_profiles).where(key).values(**values)).rowcount:
                    continue
                conn.execute(
                    insert(source_profiles).values(process=process, source=source, **values)
                )

    # --- enrichment -----------------------------------------------------------------

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
        """Store data a robot looked up for ``record_id`` elsewhere; return its id.

        The record itself is not changed (its raw payload stays what the collecting robot
        saw); an ``enrich`` lineage event names the enrichment, its source and hash. A
        process whose file declares ``enrichment`` merges the newest enrichment's fields
        into the raw fields before cleaning. A naive ``captured_at`` is taken to be UTC.
        """
        if not source:
            raise StoreError("an enrichment needs a source (e.g. 'robot:enrich_policies')")
        if not isinstance(payload, Mapping):
            raise StoreError(f"an enrichment payload is a mapping, not {type(payload).__name__}")
        now = self.now()
        at = captured_at or now
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        body = to_jsonable(dict(payload))
        r_hash = raw_hash(body)
        with self._write() as conn:
            record = self._get(conn, record_id)
            enrichment_id = _ordered_id()
            conn.execute(
                insert(enrichments).values(
                    enrichment_id=enrichment_id,
                    record_id=record_id,
                    process=record.process,
                    source=source,
                    location=location,
                    search_term=search_term,
                    payload=body,
                    raw_hash=r_hash,
                    run_id=run_id,
                    captured_at=at,
                )
            )
            conn.execute(
                insert(record_events).values(
                    self._event_row(
                        record_id,
                        run_id,
                        "enrich",
                        None,
                        None,
                        now,
                        {
                            "enrichment_id": enrichment_id,
                            "source": source,
                            "location": location,
                            "search_term": search_term,
                            "captured_at": at.isoformat(),
                            "raw_hash": r_hash,
                            "fields": sorted(body),
                        },
                    )
                )
            )
        return enrichment_id

    def enrichments(self, record_id: str) -> list[Enrichment]:
        """Every enrichment of ``record_id``, oldest first (the last one is the newest)."""
        with self._read() as conn:
            self._get(conn, record_id)
            rows = conn.execute(
                select(enrichments)
                .where(enrichments.c.record_id == record_id)
                .order_by(enrichments.c.captured_at, enrichments.c.enrichment_id)
            ).mappings()
            return [Enrichment.from_row(row) for row in rows]

    def latest_enrichments(self, record_ids: Iterable[str]) -> dict[str, Enrichment]:
        """The newest enrichment of each of ``record_ids`` that has one (one query per 900)."""
        wanted = sorted(set(record_ids))
        found: dict[str, Enrichment] = {}
        with self._read() as conn:
            for start in range(0, len(wanted), 900):  # SQLite's bound-parameter limit
                query = (
                    select(enrichments)
                    .where(enrichments.c.record_id.in_(wanted[start : start + 900]))
                    .order_by(enrichments.c.captured_at, enrichments.c.enrichment_id)
                )
                for row in conn.execute(query).mappings():
                    found[row["record_id"]] = Enrichment.from_row(row)  # newest wins
        return found

    def quarantine(
        self, record_id: str, reason: str, *, run_id: str | None, step: str = "enrich"
    ) -> None:
        """``collected -> quarantined`` with ``reason`` (a business exception a robot found,
        e.g. the claim's policy does not exist in the policy system).

        Raises :class:`InvalidTransitionError` when the record is not ``collected``.
        """
        if not reason:
            raise StoreError("a quarantine needs a reason a person can read")
        now = self.now()
        with self._write() as conn:
            current = self._get(conn, record_id)
            if current.state != RecordState.COLLECTED:
                raise InvalidTransitionError(
                    f"record {record_id} is {current.state}, not collected: "
                    "only a collected record can be quarantined"
                )
            conn.execute(
                update(records)
                .where(records.c.record_id == record_id)
                .values(
                    state=RecordState.QUARANTINED.value,
                    reason=reason,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            )
            conn.execute(
                insert(record_events).values(
                    self._event_row(
                        record_id,
                        run_id,
                        step,
                        RecordState.COLLECTED,
                        RecordState.QUARANTINED,
                        now,
                        {"reason": reason},
                    )
                )
            )

    # --- leases and work ------------------------------------------------------------

    def claim(
        self,
        process: str,
        state: RecordState | str = RecordState.COLLECTED,
        owner: str = "",
        limit: int = 50,
        lease_seconds: float = 300,
    ) -> list[StoredRecord]:
        """Lease up to ``limit`` records in ``state`` whose lease is free or expired and
        whose retry time has come; return them (oldest first).

        Atomic: SQLite runs it under ``BEGIN IMMEDIATE`` (one writer at a time),
        PostgreSQL selects ``FOR UPDATE SKIP LOCKED`` so concurrent claimers take
        different rows instead of waiting.
        """
        if not owner:
            raise StoreError("claim needs an owner (who holds the lease)")
        state = RecordState(state)
        now = self.now()
        expires = now + dt.timedelta(seconds=lease_seconds)
        free = and_(
            records.c.process == process,
            records.c.state == state.value,
            or_(records.c.lease_owner.is_(None), records.c.lease_expires_at < now),
            or_(records.c.next_attempt_at.is_(None), records.c.next_attempt_at <= now),
        )
        with self._write() as conn:
            ids = list(
                conn.execute(
                    select(records.c.record_id)
                    .where(free)
                    .order_by(records.c.updated_at, records.c.record_id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            if not ids:
                return []
            conn.execute(
                update(records)
                .where(records.c.record_id.in_(ids), free)
                .values(lease_owner=owner, lease_expires_at=expires)
            )
            rows = conn.execute(
                select(*_RECORD_FIELDS)
                .where(records.c.record_id.in_(ids), records.c.lease_owner == owner)
                .order_by(records.c.updated_at, records.c.record_id)
            )
            return [StoredRecord(*row) for row in rows]

    def release(self, record_id: str, owner: str) -> None:
        """Give a lease back without changing the record (no-op if not held by ``owner``)."""
        with self._write() as conn:
            conn.execute(
                update(records)
                .where(records.c.record_id == record_id, records.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    def mark_acting(self, record_id: str, owner: str, *, run_id: str | None = None) -> StoredRecord:
        """``decided -> acting``, only while ``owner`` still holds an unexpired lease.

        Raises :class:`LeaseLostError` when the lease is gone (another worker may act),
        :class:`InvalidTransitionError` when the record is not ``decided``.
        """
        now = self.now()
        with self._write() as conn:
            current = self._get(conn, record_id)
            if current.state != RecordState.DECIDED:
                raise InvalidTransitionError(
                    f"record {record_id} is {current.state}, not decided: it cannot be acted on"
                )
            if current.lease_owner != owner or (
                current.lease_expires_at is not None and current.lease_expires_at < now
            ):
                raise LeaseLostError(
                    f"record {record_id}: lease held by {current.lease_owner!r} "
                    f"(until {current.lease_expires_at}), not by {owner!r}"
                )
            conn.execute(
                update(records)
                .where(records.c.record_id == record_id)
                .values(state=RecordState.ACTING.value, updated_at=now)
            )
            conn.execute(
                insert(record_events).values(
                    self._event_row(
                        record_id,
                        run_id,
                        "act.start",
                        RecordState.DECIDED,
                        RecordState.ACTING,
                        now,
                        {"owner": owner},
                    )
                )
            )
            return self._get(conn, record_id)

    def record_action(
        self,
        record_id: str,
        receipt: str,
        outcome: str,
        run_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """``acting -> acted`` with the application's receipt.

        ``outcome`` is ``applied`` (this robot acted) or ``already_decided`` (the
        application already held a decision; its receipt is stored, nothing was redone).
        """
        if outcome not in ACTION_OUTCOMES:
            raise StoreError(f"outcome must be 'applied' or 'already_decided', not {outcome!r}")
        now = self.now()
        with self._write() as conn:
            current = self._get(conn, record_id)
            if current.state != RecordState.ACTING:
                raise InvalidTransitionError(
                    f"record {record_id} is {current.state}, not acting: call mark_acting first"
                )
            conn.execute(
                update(records)
                .where(records.c.record_id == record_id)
                .values(
                    state=RecordState.ACTED.value,
                    receipt=receipt,
                    reason=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    next_attempt_at=None,
                    updated_at=now,
                )
            )
            event_detail = {"receipt": receipt, "outcome": outcome, **dict(detail or {})}
            conn.execute(
                insert(record_events).values(
                    self._event_row(
                        record_id,
                        run_id,
                        "act",
                        RecordState.ACTING,
                        RecordState.ACTED,
                        now,
                        event_detail,
                    )
                )
            )

    def record_failure(
        self,
        record_id: str,
        reason: str,
        kind: str = "application",
        run_id: str | None = None,
        max_attempts: int = 3,
    ) -> StoredRecord:
        """Record a failed attempt on a record and decide what happens next.

        * ``business`` (the record itself is wrong): ``failed`` at once, with ``reason``.
        * ``application`` (the application or a service failed): back to the state it was
          claimed from (``acting`` goes back to ``decided``) with exponential backoff
          (``retry_base_seconds * 2**(attempts-1)``, at most ``retry_max_seconds``), or
          ``dead`` with the reason once ``max_attempts`` attempts have failed.

        The lease is released in every case.
        """
        if kind not in FAILURE_KINDS:
            raise StoreError(f"failure kind must be 'business' or 'application', not {kind!r}")
        if not reason:
            raise StoreError("a failure needs a reason a person can read")
        now = self.now()
        with self._write() as conn:
            current = self._get(conn, record_id)
            state = RecordState(current.state)
            attempts = current.attempts + 1
            next_attempt: dt.datetime | None = None
            if kind == "business":
                to_state, stored_reason = RecordState.FAILED, reason
            elif attempts >= max_attempts:
                to_state = RecordState.DEAD
                stored_reason = f"gave up after {attempts} attempts: {reason}"
            else:
                to_state = RETRY_STATE.get(state, state)
                stored_reason = reason
                delay = min(self.retry_base_seconds * 2 ** (attempts - 1), self.retry_max_seconds)
                next_attempt = now + dt.timedelta(seconds=delay)
            conn.execute(
                update(records)
                .where(records.c.record_id == record_id)
                .values(
                    state=to_state.value,
                    reason=stored_reason,
                    attempts=attempts,
                    next_attempt_at=next_attempt,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            )
            conn.execute(
                insert(record_events).values(
                    self._event_row(
                        record_id,
                        run_id,
                        "failure",
                        state,
                        to_state,
                        now,
                        {
                            "kind": kind,
                            "reason": reason,
                            "attempt": attempts,
                            "max_attempts": max_attempts,
                            "next_attempt_at": next_attempt.isoformat() if next_attempt else None,
                        },
                    )
                )
            )
            return self._get(conn, record_id)

    def transition_many(
        self, transitions: Sequence[Transition], *, run_id: str | None, owner: str | None = None
    ) -> TransitionReport:
        """Apply many record transitions in one transaction, with their step events.

        A transition whose record is no longer in ``from_state`` (or, when ``owner`` is
        given, no longer leased by ``owner``) is skipped and listed in ``lost``; the lease
        of every applied record is released. Step events are written in order; the last
        one carries the state change (``from_state``/``to_state``).
        """
        now = self.now()
        lost: list[str] = []
        event_rows: list[dict[str, Any]] = []
        for item in transitions:
            unknown = set(item.values) - SETTABLE_VALUES
            if unknown:
                raise StoreError(f"cannot set {sorted(unknown)} through a transition")
        # One read of the current states and one executemany per shape of update, rather
        # than two statements per record: the guard is checked here, under the write lock
        # (SQLite's BEGIN IMMEDIATE, PostgreSQL's FOR UPDATE), so it cannot change before
        # the update.
        updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        with self._write() as conn:
            current = self._current_states(conn, [item.record_id for item in transitions])
            for item in transitions:
                if item.record_id not in current:
                    raise RecordNotFoundError(f"no record with id {item.record_id!r}")
                state, lease_owner = current[item.record_id]
                if (
                    item.from_state is not None and state != RecordState(item.from_state).value
                ) or (owner is not None and lease_owner != owner):
                    lost.append(item.record_id)
                    continue
                to_state = RecordState(item.to_state)
                # A record listed twice moves on from the state the first transition set.
                current[item.record_id] = (to_state.value, None)
                values = {key: to_jsonable(value) for key, value in item.values.items()}
                updates.setdefault(tuple(sorted(values)), []).append(
                    {
                        "b_record_id": item.record_id,
                        "b_state": to_state.value,
                        "b_reason": item.reason,
                        **{f"b_{key}": value for key, value in values.items()},
                    }
                )
                from_state = RecordState(state)
                event_rows.append(self._transition_event(item, run_id, from_state, to_state, now))
            for keys, rows in updates.items():
                statement = (
                    update(records)
                    .where(records.c.record_id == bindparam("b_record_id"))
                    .values(
                        state=bindparam("b_state"),
                        reason=bindparam("b_reason"),
                        lease_owner=None,
                        lease_expires_at=None,
                        next_attempt_at=None,
                        updated_at=now,
                        **{key: bindparam(f"b_{key}") for key in keys},
                    )
                )
                executemany(conn, statement, rows)
            executemany(conn, insert(record_events), event_rows)
        self._refresh_statistics()
        applied = len(transitions) - len(lost)
        return TransitionReport(applied=applied, lost=lost)

    # --- helpers --------------------------------------------------------------------

    def _refresh_statistics(self) -> None:
        """PostgreSQL: ``ANALYZE`` the records when they changed a lot since the last one.

        The planner picks the ingest and claim plans from table statistics. Autovacuum
        normally keeps them fresh, but it may be off or behind (it was off on the machine
        the benchmarks ran on); with statistics from when the table held 200 rows, every
        ingest chunk scanned every record of the process, and a million-record ingest
        slowed to a crawl. Checked at most every ``_STATISTICS_EVERY`` seconds (one cheap
        catalog read); ``ANALYZE`` samples the table and blocks no reader or writer.
        """
        if self.dialect != "postgresql":
            return
        now = time.monotonic()
        if now - self._statistics_checked < _STATISTICS_EVERY:
            return
        self._statistics_checked = now
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables "
                "WHERE relid = to_regclass('records')"
            ).first()
            if row is None:
                return
            changed, live = int(row[0] or 0), int(row[1] or 0)
            if changed > max(_ANALYZE_MIN_CHANGES, _ANALYZE_FRACTION * live):
                conn.exec_driver_sql("ANALYZE records")
                conn.commit()

    @staticmethod
    def _current_states(
        conn: Connection, record_ids: Sequence[str]
    ) -> dict[str, tuple[str, str | None]]:
        """``record_id -> (state, lease_owner)``, rows locked on PostgreSQL."""
        found: dict[str, tuple[str, str | None]] = {}
        wanted = sorted(set(record_ids))
        for start in range(0, len(wanted), 900):  # SQLite's bound-parameter limit
            query = select(records.c.record_id, records.c.state, records.c.lease_owner).where(
                records.c.record_id.in_(wanted[start : start + 900])
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            for record_id, state, lease_owner in conn.execute(query):
                found[record_id] = (state, lease_owner)
        return found

    @classmethod
    def _transition_event(
        cls,
        item: Transition,
        run_id: str | None,
        from_state: RecordState,
        to_state: RecordState,
        now: dt.datetime,
    ) -> dict[str, Any]:
        """The ``record_events`` row of a transition: its one step, or its steps as one
        compact row (:data:`STEPS_KEY`)."""
        steps = list(item.events) or [StepEvent(step="transition")]
        first = steps[0]
        detail: dict[str, Any] = dict(first.detail)
        if len(steps) > 1:
            detail = {
                STEPS_KEY: [
                    [step.step, step.step_version, step.config_hash, dict(step.detail)]
                    for step in steps
                ]
            }
        return cls._event_row(
            item.record_id,
            run_id,
            first.step,
            from_state,
            to_state,
            now,
            detail,
            step_version=first.step_version,
            config_hash=first.config_hash,
        )

    @staticmethod
    def _event_row(
        record_id: str,
        run_id: str | None,
        step: str,
        from_state: RecordState | None,
        to_state: RecordState | None,
        at: dt.datetime,
        detail: Mapping[str, Any],
        *,
        step_version: str | None = STORE_STEP_VERSION,
        config_hash: str | None = None,
    ) -> dict[str, Any]:
        return {
            "record_id": record_id,
            "run_id": run_id,
            "step": step,
            "step_version": step_version,
            "config_hash": config_hash,
            "from_state": from_state.value if from_state else None,
            "to_state": to_state.value if to_state else None,
            "at": at,
            "detail": to_jsonable(dict(detail)),
        }


__all__ = ["Store", "content_hash", "raw_hash"]
