"""What stream, object-store and incremental SQL sources have taken: the claimed ingest.

A source that can deliver the same thing twice (a broker redelivers a message that was
not acknowledged, a bucket lists an object again, a query returns the rows tied with the
watermark again) stages through :meth:`SourcePositions.stage_messages`: in one write
transaction it skips the messages already recorded as ``staged``, stages the records of
the others (:meth:`Ingest.stage_within`), records each of them as ``staged`` and moves
the source's position (an SQL watermark). The caller acknowledges the messages only after
that commit, so a crash anywhere leaves either nothing (the broker redelivers) or
everything (the redelivered messages are recognised): staged exactly once.

A message that cannot be staged (not JSON, no natural key) is counted ``failing`` with
its reason; at the source's ``max_deliveries`` it is ``dead``, and the consumer moves it
to the dead-letter stream or queue. ``rpaml status`` shows the dead ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from rpaml_pipeline.store.context import StoreContext
from rpaml_pipeline.store.ingest import Ingest
from rpaml_pipeline.store.records import IncomingRecord
from rpaml_pipeline.store.schema import source_messages, source_positions

STAGED = "staged"
FAILING = "failing"
DEAD = "dead"
_IN_LIST = 500
"""Ids per ``IN (...)`` list (SQLite's and drivers' parameter limits)."""


@dataclass(frozen=True)
class TakenMessage:
    """One message (or object, or row) and the records it brings (an object may bring
    many, a row one)."""

    message_id: str
    records: Sequence[IncomingRecord]
    location: str | None = None


@dataclass(frozen=True)
class ClaimedResult:
    """What one claimed ingest did; ``duplicates`` are messages taken before."""

    new: int = 0
    revised: int = 0
    unchanged: int = 0
    duplicates: int = 0
    messages: int = 0


@dataclass(frozen=True)
class Failure:
    """A message that could not be staged, and why."""

    message_id: str
    reason: str
    location: str | None = None


@dataclass(frozen=True)
class FailureOutcome:
    """A failure as recorded: its attempts so far and whether it is now dead."""

    message_id: str
    attempts: int
    dead: bool


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered message, as ``rpaml status`` shows it."""

    source: str
    message_id: str
    attempts: int
    reason: str
    location: str | None
    at: Any = field(compare=False)


class SourcePositions:
    """The ``source_messages`` and ``source_positions`` tables (see the module docstring)."""

    def __init__(self, ctx: StoreContext, ingest: Ingest) -> None:
        self._ctx = ctx
        self._ingest = ingest

    def stage_messages(
        self,
        process: str,
        source: str,
        messages: Sequence[TakenMessage],
        *,
        run_id: str,
        position: Mapping[str, Any] | None = None,
        record_messages: bool = True,
    ) -> ClaimedResult:
        """Stage the messages not taken before and record them, in one transaction.

        ``record_messages=False``: the ``position`` alone says what was taken (an SQL
        source's watermark and the keys read at it), no row per message."""
        now = self._ctx.now()
        with self._ctx.write() as conn:
            ids = list(dict.fromkeys(message.message_id for message in messages))
            taken = self._statuses(conn, process, source, ids)
            staged_before = {key for key, status in taken.items() if status == STAGED}
            fresh: dict[str, TakenMessage] = {}
            for message in messages:
                if message.message_id not in staged_before:
                    fresh.setdefault(message.message_id, message)
            items = [item for message in fresh.values() for item in message.records]
            result = self._ingest.stage_within(conn, process, items, run_id=run_id)
            earlier = [key for key in fresh if key in taken]
            for start in range(0, len(earlier), _IN_LIST):
                conn.execute(
                    delete(source_messages).where(
                        source_messages.c.process == process,
                        source_messages.c.source == source,
                        source_messages.c.message_id.in_(earlier[start : start + _IN_LIST]),
                    )
                )
            if fresh and record_messages:
                conn.execute(
                    insert(source_messages),
                    [
                        {
                            "process": process,
                            "source": source,
                            "message_id": key,
                            "status": STAGED,
                            "attempts": 1,
                            "records": len(message.records),
                            "location": message.location,
                            "reason": None,
                            "run_id": run_id,
                            "updated_at": now,
                        }
                        for key, message in fresh.items()
                    ],
                )
            if position is not None:
                self._move(conn, process, source, position, run_id)
        return ClaimedResult(
            new=result.new,
            revised=result.revised,
            unchanged=result.unchanged,
            duplicates=len(messages) - len(fresh),
            messages=len(fresh),
        )

    def record_failures(
        self,
        process: str,
        source: str,
        failures: Sequence[Failure],
        *,
        run_id: str,
        max_deliveries: int,
    ) -> list[FailureOutcome]:
        """Count one more failed attempt of each message; at ``max_deliveries`` it is dead."""
        if not failures:
            return []
        now = self._ctx.now()
        outcomes: list[FailureOutcome] = []
        with self._ctx.write() as conn:
            ids = list(dict.fromkeys(failure.message_id for failure in failures))
            attempts = self._attempts(conn, process, source, ids)
            for failure in {failure.message_id: failure for failure in failures}.values():
                known = attempts.get(failure.message_id)
                count = (known or 0) + 1
                status = DEAD if count >= max_deliveries else FAILING
                values = {
                    "status": status,
                    "attempts": count,
                    "reason": failure.reason,
                    "location": failure.location,
                    "run_id": run_id,
                    "updated_at": now,
                }
                if known is None:
                    key = {"process": process, "source": source, "message_id": failure.message_id}
                    conn.execute(insert(source_messages).values(**key, records=0, **values))
                else:
                    conn.execute(
                        update(source_messages)
                        .where(
                            source_messages.c.process == process,
                            source_messages.c.source == source,
                            source_messages.c.message_id == failure.message_id,
                        )
                        .values(**values)
                    )
                outcomes.append(FailureOutcome(failure.message_id, count, status == DEAD))
        return outcomes

    def position(self, process: str, source: str) -> dict[str, Any] | None:
        """Where an incremental source stands (None before its first run)."""
        query = select(source_positions.c.position).where(
            source_positions.c.process == process, source_positions.c.source == source
        )
        with self._ctx.read() as conn:
            value = conn.execute(query).scalar()
        return None if value is None else dict(value)

    def taken(
        self, process: str, source: str, message_ids: Sequence[str], *, dead_too: bool = False
    ) -> set[str]:
        """The ids of ``message_ids`` already staged (or dead, with ``dead_too``): a
        re-listed bucket skips them."""
        done = {STAGED, DEAD} if dead_too else {STAGED}
        with self._ctx.read() as conn:
            statuses = self._statuses(conn, process, source, list(message_ids))
        return {key for key, status in statuses.items() if status in done}

    def counts(self, process: str) -> dict[str, dict[str, int]]:
        """Messages per source per status (``staged``, ``failing``, ``dead``)."""
        query = (
            select(source_messages.c.source, source_messages.c.status, func.count())
            .where(source_messages.c.process == process)
            .group_by(source_messages.c.source, source_messages.c.status)
        )
        found: dict[str, dict[str, int]] = {}
        with self._ctx.read() as conn:
            for source, status, count in conn.execute(query):
                found.setdefault(str(source), {})[str(status)] = int(count)
        return found

    def dead_letters(self, process: str, *, limit: int = 20) -> list[DeadLetter]:
        """The latest dead-lettered messages of ``process``, newest first."""
        query = (
            select(source_messages)
            .where(source_messages.c.process == process, source_messages.c.status == DEAD)
            .order_by(source_messages.c.updated_at.desc())
            .limit(limit)
        )
        with self._ctx.read() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            DeadLetter(
                source=row["source"],
                message_id=row["message_id"],
                attempts=int(row["attempts"]),
                reason=str(row["reason"] or ""),
                location=row["location"],
                at=row["updated_at"],
            )
            for row in rows
        ]

    # --- within a transaction -------------------------------------------------------

    def _statuses(
        self, conn: Connection, process: str, source: str, ids: Sequence[str]
    ) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(ids), _IN_LIST):
            query = select(source_messages.c.message_id, source_messages.c.status).where(
                and_(
                    source_messages.c.process == process,
                    source_messages.c.source == source,
                    source_messages.c.message_id.in_(ids[start : start + _IN_LIST]),
                )
            )
            found.update({str(key): str(status) for key, status in conn.execute(query)})
        return found

    def _attempts(
        self, conn: Connection, process: str, source: str, ids: Sequence[str]
    ) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(ids), _IN_LIST):
            query = select(source_messages.c.message_id, source_messages.c.attempts).where(
                source_messages.c.process == process,
                source_messages.c.source == source,
                source_messages.c.message_id.in_(ids[start : start + _IN_LIST]),
                source_messages.c.status != STAGED,
            )
            found.update({str(key): int(count) for key, count in conn.execute(query)})
        return found

    def _move(
        self,
        conn: Connection,
        process: str,
        source: str,
        position: Mapping[str, Any],
        run_id: str,
    ) -> None:
        values = {"position": dict(position), "run_id": run_id, "updated_at": self._ctx.now()}
        moved = conn.execute(
            update(source_positions)
            .where(source_positions.c.process == process, source_positions.c.source == source)
            .values(**values)
        )
        if moved.rowcount == 0:
            conn.execute(insert(source_positions).values(process=process, source=source, **values))
