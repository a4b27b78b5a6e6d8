"""Work on single records: leases, acting, failures, quarantines, and transitions.

A robot works record by record: it leases records (``claim``), moves one to ``acting``
while it still holds the lease, stores the application's receipt, or records why it
failed. Each of these is a :class:`~rpaml_pipeline.store.transitions.Move` through the one
guarded write path; this module adds what each means (the lease it needs, the state it
goes to, its event) and says in words why a move did not apply.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, literal, or_, select, update
from sqlalchemy.engine import Connection

from rpaml_pipeline.errors import (
    InvalidTransitionError,
    LeaseLostError,
    RecordNotFoundError,
    StoreError,
)
from rpaml_pipeline.store.batches import PROCESSED, RAW, WORKABLE
from rpaml_pipeline.store.context import StoreContext
from rpaml_pipeline.store.events import record_event
from rpaml_pipeline.store.reading import Reading
from rpaml_pipeline.store.records import (
    STEPS_KEY,
    StepEvent,
    StoredRecord,
    Transition,
    TransitionReport,
)
from rpaml_pipeline.store.schema import batches, records
from rpaml_pipeline.store.states import RETRY_STATE, RecordState
from rpaml_pipeline.store.transitions import Lease, Move, Transitions

FAILURE_KINDS = frozenset({"business", "application"})
ACTION_OUTCOMES = frozenset({"applied", "already_decided"})
_PER_RECORD_STATES = (RecordState.DECIDED, RecordState.ACTING)
"""States the partial claim index holds (``ix_records_claimable``)."""


class Leases:
    """Record-by-record work (see the module docstring)."""

    def __init__(self, ctx: StoreContext, transitions: Transitions, reading: Reading) -> None:
        self._ctx = ctx
        self._moves = transitions
        self._reading = reading

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
        now = self._ctx.now()
        # The state is written into the statement, not bound: SQLite uses the partial claim
        # index only when it can see the state is one the index holds.
        free = and_(
            records.c.process == process,
            records.c.state == literal(state.value, literal_execute=True),
            or_(records.c.lease_owner.is_(None), records.c.lease_expires_at < now),
            or_(records.c.next_attempt_at.is_(None), records.c.next_attempt_at <= now),
        )
        with self._ctx.write() as conn:
            ids = _candidates(conn, process, state, free, limit)
            if not ids:
                return []
            conn.execute(
                update(records)
                .where(records.c.record_id.in_(ids), free)
                .values(
                    lease_owner=owner, lease_expires_at=now + dt.timedelta(seconds=lease_seconds)
                )
            )
            leased = [
                row[0]
                for row in conn.execute(
                    select(records.c.record_id).where(
                        records.c.record_id.in_(ids), records.c.lease_owner == owner
                    )
                )
            ]
            leased.sort(key=ids.index)
        return self._reading.records(leased)

    def release(self, record_id: str, owner: str) -> None:
        """Give a lease back without changing the record (no-op if not held by ``owner``)."""
        self.release_many([record_id], owner)

    def release_many(self, record_ids: Sequence[str], owner: str) -> None:
        """:meth:`release` for many records in one statement."""
        if not record_ids:
            return
        with self._ctx.write() as conn:
            conn.execute(
                update(records)
                .where(records.c.record_id.in_(list(record_ids)), records.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    def mark_acting(self, record_id: str, owner: str, *, run_id: str | None = None) -> StoredRecord:
        """``decided -> acting``, only while ``owner`` still holds an unexpired lease.

        Raises :class:`LeaseLostError` when the lease is gone (another worker may act),
        :class:`InvalidTransitionError` when the record is not ``decided``.
        """
        now = self._ctx.now()
        with self._ctx.write() as conn:
            event = record_event(
                record_id, run_id, "act.start", RecordState.DECIDED, RecordState.ACTING, now,
                {"owner": owner},
            )  # fmt: skip
            move = Move(
                [record_id],
                RecordState.ACTING,
                RecordState.DECIDED,
                lease=Lease(owner, unexpired=True, keep=True),
                events={record_id: [event]},
            )
            if not self._moves.move(conn, move, now):
                current = self._moves.require(conn, [record_id])[record_id]
                if current["state"] != RecordState.DECIDED.value:
                    raise InvalidTransitionError(
                        f"record {record_id} is {current['state']}, not decided: "
                        "it cannot be acted on"
                    )
                raise LeaseLostError(
                    f"record {record_id}: lease held by {current['lease_owner']!r} "
                    f"(until {current['lease_expires_at']}), not by {owner!r}"
                )
        return self._reading.get(record_id)

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
        now = self._ctx.now()
        event_detail = {"receipt": receipt, "outcome": outcome, **dict(detail or {})}
        with self._ctx.write() as conn:
            event = record_event(
                record_id, run_id, "act", RecordState.ACTING, RecordState.ACTED, now, event_detail
            )
            move = Move(
                [record_id],
                RecordState.ACTED,
                RecordState.ACTING,
                values={"receipt": receipt},
                events={record_id: [event]},
            )
            if not self._moves.move(conn, move, now):
                current = self._moves.require(conn, [record_id])[record_id]
                raise InvalidTransitionError(
                    f"record {record_id} is {current['state']}, not acting: call mark_acting first"
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
        now = self._ctx.now()
        with self._ctx.write() as conn:
            current = self._moves.require(conn, [record_id])[record_id]
            state = RecordState(current["state"])
            attempts = int(current["attempts"]) + 1
            next_attempt: dt.datetime | None = None
            if kind == "business":
                to_state, stored_reason = RecordState.FAILED, reason
            elif attempts >= max_attempts:
                to_state = RecordState.DEAD
                stored_reason = f"gave up after {attempts} attempts: {reason}"
            else:
                to_state = RETRY_STATE.get(state, state)
                stored_reason = reason
                delay = min(
                    self._ctx.retry_base_seconds * 2 ** (attempts - 1),
                    self._ctx.retry_max_seconds,
                )
                next_attempt = now + dt.timedelta(seconds=delay)
            detail = {
                "kind": kind,
                "reason": reason,
                "attempt": attempts,
                "max_attempts": max_attempts,
                "next_attempt_at": next_attempt.isoformat() if next_attempt else None,
            }
            event = record_event(record_id, run_id, "failure", state, to_state, now, detail)
            move = Move(
                [record_id],
                to_state,
                state,
                values={
                    "reason": stored_reason,
                    "attempts": attempts,
                    "next_attempt_at": next_attempt,
                },
                events={record_id: [event]},
            )
            self._moves.move(conn, move, now)
        return self._reading.get(record_id)

    def quarantine(
        self, record_id: str, reason: str, *, run_id: str | None, step: str = "enrich"
    ) -> None:
        """``collected -> quarantined`` with ``reason`` (a business exception a robot found,
        e.g. the claim's policy does not exist in the policy system).

        Raises :class:`InvalidTransitionError` when the record is not ``collected``.
        """
        if not reason:
            raise StoreError("a quarantine needs a reason a person can read")
        now = self._ctx.now()
        with self._ctx.write() as conn:
            event = record_event(
                record_id, run_id, step, RecordState.COLLECTED, RecordState.QUARANTINED, now,
                {"reason": reason},
            )  # fmt: skip
            move = Move(
                [record_id],
                RecordState.QUARANTINED,
                RecordState.COLLECTED,
                values={"reason": reason},
                events={record_id: [event]},
            )
            if not self._moves.move(conn, move, now):
                current = self._moves.require(conn, [record_id])[record_id]
                raise InvalidTransitionError(
                    f"record {record_id} is {current['state']}, not collected: "
                    "only a collected record can be quarantined"
                )

    def transition_many(
        self, transitions: Sequence[Transition], *, run_id: str | None, owner: str | None = None
    ) -> TransitionReport:
        """Apply many record transitions in one transaction, with their step events.

        A transition whose record is no longer in ``from_state`` (or, when ``owner`` is
        given, no longer leased by ``owner``) is skipped and listed in ``lost``; the lease
        of every applied record is released. Step events are written in order; the last
        one carries the state change (``from_state``/``to_state``).
        """
        now = self._ctx.now()
        applied: set[str] = set()
        with self._ctx.write() as conn:
            current = self._moves.require(conn, [item.record_id for item in transitions])
            for group in _groups(transitions):
                first = group[0]
                moves = Move(
                    [item.record_id for item in group],
                    RecordState(first.to_state),
                    None if first.from_state is None else RecordState(first.from_state),
                    per_record={
                        item.record_id: {"reason": item.reason, **dict(item.values)}
                        for item in group
                    },
                    lease=Lease(owner) if owner is not None else None,
                    events={
                        item.record_id: [_transition_event(item, run_id, current, now)]
                        for item in group
                    },
                )
                applied |= self._moves.move(conn, moves, now)
        self._ctx.refresh_statistics()
        lost = [item.record_id for item in transitions if item.record_id not in applied]
        return TransitionReport(applied=len(transitions) - len(lost), lost=lost)


def _candidates(
    conn: Connection, process: str, state: RecordState, free: Any, limit: int
) -> list[str]:
    """The ids of up to ``limit`` claimable records, oldest first.

    Decided and acting records come from the claim index in its order. Collected and
    validated ones are taken batch by batch (the raw batches waiting for processing, the
    processed ones waiting for scoring, oldest first), each batch's in its row order: an
    index walk either way, never a sort of every waiting record.
    """
    if state not in (RecordState.COLLECTED, RecordState.VALIDATED):
        return list(
            conn.execute(
                select(records.c.record_id)
                .where(free)
                .order_by(records.c.updated_at, records.c.record_id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
    kind, pending = (RAW, "process") if state is RecordState.COLLECTED else (PROCESSED, "score")
    waiting = conn.execute(
        select(batches.c.batch_id, batches.c.input_id)
        .where(
            batches.c.process == process,
            batches.c.kind == kind,
            batches.c.pending == pending,
            batches.c.status.in_(WORKABLE),
        )
        .order_by(batches.c.batch_id)
    ).all()
    ids: list[str] = []
    for batch_id, input_id in waiting:
        query = select(records.c.record_id).where(free)
        if kind == RAW:
            query = query.where(records.c.batch_id == batch_id)
        else:
            query = query.where(records.c.batch_id == input_id, records.c.data_batch_id == batch_id)
        query = query.order_by(records.c.batch_id, records.c.batch_row).limit(limit - len(ids))
        ids.extend(conn.execute(query.with_for_update(skip_locked=True)).scalars())
        if len(ids) >= limit:
            break
    return ids


def _groups(transitions: Sequence[Transition]) -> list[list[Transition]]:
    """Transitions with the same states and value names, a record's second transition in a
    later group than its first (it moves on from the state the first one set)."""
    groups: dict[tuple[Any, ...], list[Transition]] = {}
    seen: dict[str, int] = {}
    for item in transitions:
        round_ = seen.get(item.record_id, 0)
        seen[item.record_id] = round_ + 1
        key = (round_, item.from_state, item.to_state, tuple(sorted(item.values)))
        groups.setdefault(key, []).append(item)
    return [groups[key] for key in sorted(groups, key=lambda k: (k[0], str(k[1:])))]


def _transition_event(
    item: Transition, run_id: str | None, current: Mapping[str, Any], now: dt.datetime
) -> dict[str, Any]:
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
    from_state = item.from_state or RecordState(current[item.record_id]["state"])
    return record_event(
        item.record_id,
        run_id,
        first.step,
        RecordState(from_state),
        RecordState(item.to_state),
        now,
        detail,
        step_version=first.step_version,
        config_hash=first.config_hash,
    )


__all__ = ["ACTION_OUTCOMES", "FAILURE_KINDS", "Leases", "RecordNotFoundError"]
