"""The data plane: records' payloads in columnar batches stored in the database.

A batch is a polars frame written as Parquet (zstd) into the ``batches`` table, beside the
control rows, so one SQLite file (or one PostgreSQL database) still holds everything. A
batch never changes once written: it is read back whole and cached (decoded) in this
process. What changes is its bookkeeping: the work still ``pending`` on it (``process`` for a
raw batch, ``score`` for a processed one), who holds its lease, the batch gate's verdict
(``status``) and how many of its records changed since (``changes``, for deliveries).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection

from rpaml_pipeline.errors import RecordNotFoundError, StoreError
from rpaml_pipeline.store.context import StoreContext
from rpaml_pipeline.store.schema import batches

RAW = "raw"
PROCESSED = "processed"
OPEN = "open"
HELD = "held"
RELEASED = "released"
REJECTED = "rejected"
WORKABLE = (OPEN, RELEASED)
"""Statuses whose batches the pipeline may work on (a held or rejected one waits)."""
_CACHED_ROWS = 120_000
"""Rows of decoded batches this process keeps (the newest first): bounded by rows, not by
batches, so a process's memory does not grow with the size of the run."""

_INFO_COLUMNS = [c for c in batches.c if c.name != "data"]


@dataclass(frozen=True)
class BatchInfo:
    """A batch's bookkeeping (without its data)."""

    batch_id: str
    process: str
    kind: str
    source: str | None
    run_id: str
    input_id: str | None
    rows: int
    sha256: str
    created_at: dt.datetime
    pending: str | None
    status: str
    gate: dict[str, Any] | None
    changes: int
    lease_owner: str | None
    lease_expires_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> BatchInfo:
        """Build from a ``batches`` row (without ``data``)."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


def to_parquet(frame: pl.DataFrame) -> bytes:
    """The stored form of a batch (deterministic: the same frame gives the same bytes)."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=False)
    return buffer.getvalue()


def from_parquet(data: bytes) -> pl.DataFrame:
    """A stored batch, decoded."""
    return pl.read_parquet(io.BytesIO(data))


class Batches:
    """The ``batches`` table and a cache of decoded batches."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx
        self._cache: OrderedDict[str, pl.DataFrame] = OrderedDict()

    def write(
        self,
        conn: Connection,
        *,
        batch_id: str,
        process: str,
        kind: str,
        run_id: str,
        frame: pl.DataFrame,
        source: str | None = None,
        input_id: str | None = None,
        pending: str | None = None,
        status: str = OPEN,
        gate: Mapping[str, Any] | None = None,
    ) -> str:
        """Store ``frame`` as a new batch in the caller's transaction; return its sha256."""
        data = to_parquet(frame)
        digest = hashlib.sha256(data).hexdigest()
        conn.execute(
            insert(batches).values(
                batch_id=batch_id,
                process=process,
                kind=kind,
                source=source,
                run_id=run_id,
                input_id=input_id,
                rows=frame.height,
                sha256=digest,
                data=data,
                created_at=self._ctx.now(),
                pending=pending,
                status=status,
                gate=None if gate is None else dict(gate),
                changes=0,
            )
        )
        self._remember(batch_id, frame)
        return digest

    def frame(self, batch_id: str, conn: Connection | None = None) -> pl.DataFrame:
        """The decoded batch (from this process's cache when it was read before)."""
        cached = self._cache.get(batch_id)
        if cached is not None:
            self._cache.move_to_end(batch_id)
            return cached
        query = select(batches.c.data).where(batches.c.batch_id == batch_id)
        if conn is not None:
            row = conn.execute(query).first()
        else:
            with self._ctx.read() as reading:
                row = reading.execute(query).first()
        if row is None:
            raise RecordNotFoundError(f"no batch with id {batch_id!r}")
        frame = from_parquet(bytes(row[0]))
        self._remember(batch_id, frame)
        return frame

    def _remember(self, batch_id: str, frame: pl.DataFrame) -> None:
        self._cache[batch_id] = frame
        self._cache.move_to_end(batch_id)
        while len(self._cache) > 1 and sum(f.height for f in self._cache.values()) > _CACHED_ROWS:
            self._cache.popitem(last=False)

    def info(self, batch_id: str, conn: Connection | None = None) -> BatchInfo:
        """A batch's bookkeeping."""
        query = select(*_INFO_COLUMNS).where(batches.c.batch_id == batch_id)
        if conn is not None:
            row = conn.execute(query).mappings().first()
        else:
            with self._ctx.read() as reading:
                row = reading.execute(query).mappings().first()
        if row is None:
            raise RecordNotFoundError(f"no batch with id {batch_id!r}")
        return BatchInfo.from_row(row)

    def find(
        self,
        process: str,
        *,
        kind: str | None = None,
        status: str | None = None,
        input_ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[BatchInfo]:
        """Batches of ``process``, oldest first, optionally of one kind and status."""
        query = select(*_INFO_COLUMNS).where(batches.c.process == process)
        if kind is not None:
            query = query.where(batches.c.kind == kind)
        if status is not None:
            query = query.where(batches.c.status == status)
        if input_ids is not None:
            query = query.where(batches.c.input_id.in_(list(input_ids)))
        query = query.order_by(batches.c.batch_id)
        if limit is not None:
            query = query.limit(limit)
        with self._ctx.read() as conn:
            return [BatchInfo.from_row(row) for row in conn.execute(query).mappings()]

    def claim(
        self, process: str, pending: str, *, owner: str, limit: int, lease_seconds: float
    ) -> list[BatchInfo]:
        """Lease up to ``limit`` workable batches with ``pending`` work, oldest first.

        PostgreSQL selects ``FOR UPDATE SKIP LOCKED``, so workers side by side take
        different batches instead of waiting; SQLite's write lock serialises claimers.
        """
        if not owner:
            raise StoreError("claim needs an owner (who holds the lease)")
        now = self._ctx.now()
        free = and_(
            batches.c.process == process,
            batches.c.pending == pending,
            batches.c.status.in_(WORKABLE),
            or_(batches.c.lease_owner.is_(None), batches.c.lease_expires_at < now),
        )
        with self._ctx.write() as conn:
            ids = list(
                conn.execute(
                    select(batches.c.batch_id)
                    .where(free)
                    .order_by(batches.c.batch_id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            if not ids:
                return []
            conn.execute(
                update(batches)
                .where(batches.c.batch_id.in_(ids), free)
                .values(
                    lease_owner=owner, lease_expires_at=now + dt.timedelta(seconds=lease_seconds)
                )
            )
            rows = conn.execute(
                select(*_INFO_COLUMNS)
                .where(batches.c.batch_id.in_(ids), batches.c.lease_owner == owner)
                .order_by(batches.c.batch_id)
            ).mappings()
            return [BatchInfo.from_row(row) for row in rows]

    def release(self, batch_id: str, owner: str, conn: Connection | None = None) -> None:
        """Give a batch's lease back (no-op if ``owner`` does not hold it)."""
        statement = (
            update(batches)
            .where(batches.c.batch_id == batch_id, batches.c.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )
        if conn is not None:
            conn.execute(statement)
            return
        with self._ctx.write() as writing:
            writing.execute(statement)

    @staticmethod
    def set_pending(conn: Connection, batch_ids: Sequence[str], pending: str | None) -> None:
        """Say which work is pending on these batches (None: none)."""
        if batch_ids:
            conn.execute(
                update(batches)
                .where(batches.c.batch_id.in_(list(batch_ids)))
                .values(pending=pending)
            )

    @staticmethod
    def bump(conn: Connection, batch_ids: Sequence[str]) -> None:
        """Count a change of records of these batches (deliveries look at them again)."""
        ids = sorted({batch_id for batch_id in batch_ids if batch_id})
        if ids:
            conn.execute(
                update(batches)
                .where(batches.c.batch_id.in_(ids))
                .values(changes=batches.c.changes + 1)
            )

    @staticmethod
    def set_status(
        conn: Connection, batch_id: str, status: str, gate: Mapping[str, Any] | None
    ) -> None:
        """Record the batch gate's verdict on a batch."""
        values: dict[str, Any] = {"status": status}
        if gate is not None:
            values["gate"] = dict(gate)
        conn.execute(update(batches).where(batches.c.batch_id == batch_id).values(**values))
