"""Ingest: captured records become revisions, idempotently, one raw batch per chunk.

Idempotent per ``(process, natural_key)`` and content hash:

* same content as the newest revision -> nothing written, reported ``unchanged``;
* new key -> revision 1 in ``collected``;
* changed content -> revision n+1 in ``collected``. The previous revision, if it has not
  been acted on (any state but ``acting``/``acted``/``dead``), is *superseded*: it moves to
  ``dead`` with the reason "superseded by revision n+1" and ``superseded_by`` pointing at
  the new record, so exactly one live revision per key goes on to scoring, acting and
  training. A revision a robot is acting on, or has acted on, keeps its state (that action
  happened in the source application and must stay visible); it only gets
  ``superseded_by``.

The records staged from one chunk of one source form one raw batch: their payloads in a
columnar batch (``batches``), one narrow control row each (``records``), and one lineage
event for the batch (``ingest``, naming the source and the batch's hash); the per-record
facts of that event (location, capture time, hashes, revision) are columns of the batch.
Supersedes are per-record events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from tenacity import retry, retry_if_exception_type, stop_after_attempt

from rpaml_pipeline.canonical import to_jsonable
from rpaml_pipeline.errors import StoreError
from rpaml_pipeline.store import codec
from rpaml_pipeline.store.batches import OPEN, RAW, Batches
from rpaml_pipeline.store.bulk import id_select, insert_rows, pg_text
from rpaml_pipeline.store.context import StoreContext, batch_ids
from rpaml_pipeline.store.events import batch_event, record_event
from rpaml_pipeline.store.hashing import frame_hashes, payload_hashes, text_frame
from rpaml_pipeline.store.records import IncomingRecord, IngestResult
from rpaml_pipeline.store.schema import record_events, records
from rpaml_pipeline.store.states import SUPERSEDABLE_STATES, RecordState

CHUNK = 50_000
"""Records per raw batch (bounds memory and the length of a write transaction)."""
PAYLOAD_PREFIX = "r."
_FAST_HASH_MIN = 256
"""Below this many payloads the per-record hashes are as fast as the column path."""
_CONTROL_COLUMNS = (
    "record_id",
    "process",
    "source",
    "natural_key",
    "revision",
    "content_hash",
    "raw_hash",
    "state",
    "run_id",
    "created_at",
    "updated_at",
    "attempts",
    "batch_id",
    "batch_row",
)


@dataclass(frozen=True)
class _Chunk:
    """One source's captured records, payloads converted to JSON values."""

    source: str
    keys: list[str]
    payloads: list[dict[str, Any]]
    locations: list[str | None]
    captured: list[dt.datetime]


class Ingest:
    """Staging captured records (see the module docstring)."""

    def __init__(self, ctx: StoreContext, batches: Batches) -> None:
        self._ctx = ctx
        self._batches = batches

    def ingest(self, process: str, items: Sequence[IncomingRecord], *, run_id: str) -> IngestResult:
        """Stage ``items`` (any sources) in chunks of :data:`CHUNK` per source."""
        for item in items:
            if not item.natural_key or not isinstance(item.natural_key, str):
                raise StoreError(
                    f"a record needs a non-empty natural key (got {item.natural_key!r})"
                )
        positions: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            positions.setdefault(item.source, []).append(index)
        ids: list[str] = [""] * len(items)
        totals = [0, 0, 0]
        sqlite = self._ctx.dialect == "sqlite"
        for source, indexes in positions.items():
            for start in range(0, len(indexes), CHUNK):
                part = [items[i] for i in indexes[start : start + CHUNK]]
                chunk = _chunk_of(source, part, sqlite)
                counts, chunk_ids = self._stage(process, chunk, run_id)
                for offset, record_id in zip(
                    indexes[start : start + CHUNK], chunk_ids, strict=True
                ):
                    ids[offset] = record_id
                totals = [a + b for a, b in zip(totals, counts, strict=True)]
        self._ctx.refresh_statistics()
        return IngestResult(new=totals[0], revised=totals[1], unchanged=totals[2], record_ids=ids)

    def stage_within(
        self, conn: Connection, process: str, items: Sequence[IncomingRecord], *, run_id: str
    ) -> IngestResult:
        """Stage ``items`` (one source, at most :data:`CHUNK`) in the caller's write
        transaction: the claimed ingest of :mod:`.source_positions`, which records what
        the source took in the same commit."""
        if not items:
            return IngestResult(new=0, revised=0, unchanged=0, record_ids=[])
        chunk = _chunk_of(items[0].source, items, self._ctx.dialect == "sqlite")
        latest = self._latest(conn, process, sorted(set(chunk.keys)))
        counts, ids = self._write(conn, process, chunk, _hashes(chunk.payloads), latest, run_id)
        return IngestResult(new=counts[0], revised=counts[1], unchanged=counts[2], record_ids=ids)

    def known_keys(self, process: str, natural_keys: Sequence[str]) -> set[str]:
        """The natural keys (of ``natural_keys``) already staged for ``process``."""
        wanted = sorted(set(natural_keys))
        if not wanted:
            return set()
        with self._ctx.read() as conn:
            query = (
                select(records.c.natural_key)
                .where(
                    records.c.process == process,
                    records.c.natural_key.in_(id_select(conn, wanted)),
                )
                .distinct()
            )
            return set(conn.execute(query).scalars())

    # --- one chunk ------------------------------------------------------------------

    @retry(
        retry=retry_if_exception_type(IntegrityError),
        stop=stop_after_attempt(5),
        reraise=True,
    )
    def _stage(
        self, process: str, chunk: _Chunk, run_id: str
    ) -> tuple[tuple[int, int, int], list[str]]:
        # Retried on IntegrityError: on PostgreSQL another process may insert the same key
        # concurrently; the retry sees its row and treats ours as unchanged or a revision.
        hashes = _hashes(chunk.payloads)
        with self._ctx.write() as conn:
            latest = self._latest(conn, process, sorted(set(chunk.keys)))
            return self._write(conn, process, chunk, hashes, latest, run_id)

    def _latest(self, conn: Connection, process: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The newest revision of each key (locked on PostgreSQL)."""
        query = (
            select(
                records.c.record_id,
                records.c.natural_key,
                records.c.revision,
                records.c.content_hash,
                records.c.state,
            )
            .where(
                records.c.process == process,
                records.c.natural_key.in_(id_select(conn, keys)),
            )
            .order_by(records.c.natural_key, records.c.revision)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        latest: dict[str, dict[str, Any]] = {}
        for row in conn.execute(query).mappings():
            # Ordered by revision: the last one wins.
            latest[row["natural_key"]] = {**dict(row), "ref": row["record_id"]}
        return latest

    def _write(
        self,
        conn: Connection,
        process: str,
        chunk: _Chunk,
        hashes: tuple[list[str], list[str]],
        latest: dict[str, dict[str, Any]],
        run_id: str,
    ) -> tuple[tuple[int, int, int], list[str]]:
        content, raw = hashes
        stored_states = {str(row["ref"]): str(row["state"]) for row in latest.values()}
        staged: list[int] = []  # chunk positions staged, in order
        revisions: list[int] = []
        # What each staged revision replaces: a stored record id, or the position (in
        # ``staged``) of an earlier revision of the same key in this chunk.
        replaces: list[str | int | None] = []
        ids: list[str | int] = []
        unchanged = new = 0
        for index, key in enumerate(chunk.keys):
            previous = latest.get(key)
            if previous is not None and previous["content_hash"] == content[index]:
                unchanged += 1
                ids.append(previous["ref"])
                continue
            new += previous is None
            revisions.append(1 if previous is None else int(previous["revision"]) + 1)
            replaces.append(None if previous is None else previous["ref"])
            ids.append(len(staged))
            # The same key may come again later in this chunk: compare with this revision.
            latest[key] = {
                "ref": len(staged),
                "revision": revisions[-1],
                "content_hash": content[index],
                "state": RecordState.COLLECTED.value,
            }
            staged.append(index)
        if not staged:
            return (0, 0, unchanged), [str(ref) for ref in ids]
        batch_id, record_ids = batch_ids(len(staged))

        def resolved(ref: str | int) -> str:
            return record_ids[ref] if isinstance(ref, int) else ref

        previous_ids = [None if ref is None else resolved(ref) for ref in replaces]
        frame = _raw_frame(chunk, staged, record_ids, revisions, previous_ids, hashes)
        digest = self._batches.write(
            conn,
            batch_id=batch_id,
            process=process,
            kind=RAW,
            run_id=run_id,
            frame=frame,
            source=chunk.source,
            pending="process",
            status=OPEN,
        )
        now = self._ctx.now()
        rows = [
            (
                record_ids[position],
                process,
                chunk.source,
                chunk.keys[index],
                revisions[position],
                content[index],
                raw[index],
                RecordState.COLLECTED.value,
                run_id,
                now,
                now,
                0,
                batch_id,
                position,
            )
            for position, index in enumerate(staged)
        ]
        insert_rows(conn, records, _CONTROL_COLUMNS, rows)
        events = [
            batch_event(
                batch_id,
                run_id,
                "ingest",
                None,
                RecordState.COLLECTED,
                now,
                {"source": chunk.source, "records": len(staged), "batch_sha256": digest},
            )
        ]
        # Supersede after the new rows exist, oldest first, so a key revised twice in one
        # chunk ends with exactly one live revision.
        for position, ref in enumerate(replaces):
            if ref is None:
                continue
            old_state = RecordState.COLLECTED.value if isinstance(ref, int) else stored_states[ref]
            events.append(
                self._supersede(
                    conn,
                    resolved(ref),
                    old_state,
                    record_ids[position],
                    revisions[position],
                    run_id,
                    now,
                )
            )
        conn.execute(insert(record_events), events)
        return (new, len(staged) - new, unchanged), [resolved(ref) for ref in ids]

    @staticmethod
    def _supersede(
        conn: Connection,
        previous_id: str,
        previous_state: str,
        newer_id: str,
        revision: int,
        run_id: str,
        now: dt.datetime,
    ) -> dict[str, Any]:
        old_state = RecordState(previous_state)
        values: dict[str, Any] = {"superseded_by": newer_id, "updated_at": now}
        to_state: RecordState | None = None
        if old_state in SUPERSEDABLE_STATES:
            to_state = RecordState.DEAD
            values.update(
                state=RecordState.DEAD.value,
                reason=(
                    f"superseded by revision {revision} (record {newer_id}) "
                    f"while {old_state.value}: the source changed"
                ),
                lease_owner=None,
                lease_expires_at=None,
            )
        conn.execute(update(records).where(records.c.record_id == previous_id).values(**values))
        return record_event(
            previous_id,
            run_id,
            "supersede",
            old_state if to_state else None,
            to_state,
            now,
            {"superseded_by": newer_id, "revision": revision},
        )


def _chunk_of(source: str, part: Sequence[IncomingRecord], sqlite: bool) -> _Chunk:
    return _Chunk(
        source=source,
        # PostgreSQL's text holds no NUL: the key is compared as stored.
        keys=[item.natural_key if sqlite else pg_text(item.natural_key) for item in part],
        payloads=[to_jsonable(dict(item.payload)) for item in part],
        locations=[item.source_location for item in part],
        captured=[_aware(item.captured_at) for item in part],
    )


def _hashes(payloads: Sequence[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Content and raw hashes of every payload (the column path for large text batches)."""
    if len(payloads) >= _FAST_HASH_MIN:
        frame = text_frame(payloads)
        found = frame_hashes(frame) if frame is not None else None
        if found is not None:
            return found
    pairs = [payload_hashes(payload) for payload in payloads]
    return [pair[0] for pair in pairs], [pair[1] for pair in pairs]


def _raw_frame(
    chunk: _Chunk,
    staged: Sequence[int],
    record_ids: Sequence[str],
    revisions: Sequence[int],
    previous_ids: Sequence[str | None],
    hashes: tuple[list[str], list[str]],
) -> pl.DataFrame:
    """The raw batch: per staged record its identity, capture facts and payload."""
    content, raw = hashes
    control = pl.DataFrame(
        {
            "record_id": list(record_ids),
            "natural_key": [chunk.keys[i] for i in staged],
            "revision": list(revisions),
            "previous_record_id": list(previous_ids),
            "source_location": [chunk.locations[i] for i in staged],
            "captured_at": [chunk.captured[i] for i in staged],
            "raw_hash": [raw[i] for i in staged],
            "content_hash": [content[i] for i in staged],
        },
        schema={
            "record_id": pl.String,
            "natural_key": pl.String,
            "revision": pl.Int64,
            "previous_record_id": pl.String,
            "source_location": pl.String,
            "captured_at": pl.Datetime("us", "UTC"),
            "raw_hash": pl.String,
            "content_hash": pl.String,
        },
    )
    payloads = codec.encode([chunk.payloads[i] for i in staged], PAYLOAD_PREFIX)
    return pl.concat([control, payloads], how="horizontal") if payloads.width else control


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
