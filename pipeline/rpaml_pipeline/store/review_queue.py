"""The review queue: escalated records waiting for a person, and the one reviewer on each.

A decision of the process's review action (``review.action``, e.g. ``escalate``) does not
go to the act robot: the scoring stage moves the record ``decided -> review`` and queues it
here (:meth:`ReviewQueue.enqueue`), in the transaction that stored the decision, so no
robot can ever act on it first. The item carries its **value of review** and its SLA:

* value of review = (expected cost of the cheapest action other than the review action)
  - (expected cost of the review action), from the decision's expected costs. It is what
  the policy expects a person's look to save over deciding automatically (never negative
  when the policy chose the review action, because that action was the cheapest); a
  decision without expected costs (a thresholds policy) is worth 0.
* ``due_at`` = queued time + ``review.sla_hours``.

The queue's order: items past their SLA first, most overdue first; then the others by
value of review, highest first (ties by record id). Each order is one index walk.

A reviewer leases one item at a time (:meth:`ReviewQueue.lease_next`): a guarded
``UPDATE ... WHERE`` the item is open and its lease free or expired, under the write lock
(SQLite's ``BEGIN IMMEDIATE``; on PostgreSQL the candidates are selected ``FOR UPDATE SKIP
LOCKED`` and the ``UPDATE`` re-checks the row), so two reviewers never hold the same item.
A lease that expires returns the item to the queue: the next reviewer takes it over, and
the audit trail says whose lease it was. Every lease and release is an audit row.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, insert, literal_column, or_, select, update
from sqlalchemy.engine import Connection

from rpaml_pipeline.errors import ReviewItemNotFoundError, ReviewLeaseError
from rpaml_pipeline.store.context import StoreContext
from rpaml_pipeline.store.events import record_event
from rpaml_pipeline.store.schema import (
    UtcDateTime,
    records,
    review_audit,
    review_decisions,
    review_items,
)
from rpaml_pipeline.store.states import RecordState
from rpaml_pipeline.store.transitions import Move, Transitions

OPEN = "open"
DECIDED = "decided"
_CANDIDATES = 16
"""Items looked at per lease attempt: enough to step over the ones other reviewers hold."""


def value_of_review(expected_costs: Mapping[str, float] | None, review_action: str) -> float:
    """What a review is expected to save (see the module docstring)."""
    if not expected_costs or review_action not in expected_costs:
        return 0.0
    others = [cost for action, cost in expected_costs.items() if action != review_action]
    if not others:
        return 0.0
    return max(0.0, float(min(others)) - float(expected_costs[review_action]))


@dataclass(frozen=True)
class QueueItem:
    """One queued record and its lease."""

    record_id: str
    process: str
    natural_key: str
    status: str
    value: float
    queued_at: dt.datetime
    due_at: dt.datetime
    lease_owner: str | None
    lease_token: str | None
    leased_at: dt.datetime | None
    lease_expires_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> QueueItem:
        """From a ``review_items`` row."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def past_sla(self, now: dt.datetime) -> bool:
        """Still open after its SLA ran out."""
        return self.status == OPEN and self.due_at < now

    def age_seconds(self, now: dt.datetime) -> float:
        """How long it has been waiting."""
        return max(0.0, (now - self.queued_at).total_seconds())

    def leased_to(self, reviewer: str, now: dt.datetime) -> bool:
        """``reviewer`` holds an unexpired lease on it."""
        return (
            self.lease_owner == reviewer
            and self.lease_expires_at is not None
            and self.lease_expires_at >= now
        )


@dataclass(frozen=True)
class QueueStats:
    """How the queue of one process stands (``rpaml status``, the queue page)."""

    open: int
    leased: int
    past_sla: int
    decided_today: int


class ReviewQueue:
    """The ``review_items`` aggregate (see the module docstring)."""

    def __init__(self, ctx: StoreContext, transitions: Transitions) -> None:
        self._ctx = ctx
        self._moves = transitions

    def enqueue(
        self,
        conn: Connection,
        process: str,
        expected_costs: Mapping[str, Mapping[str, float] | None],
        *,
        review_action: str,
        sla_seconds: float,
        run_id: str | None,
        now: dt.datetime,
    ) -> set[str]:
        """Move these just-decided records ``decided -> review`` and queue them, in the
        caller's transaction; return the ids queued."""
        if not expected_costs:
            return set()
        due = now + dt.timedelta(seconds=sla_seconds)
        values = {
            rid: value_of_review(costs, review_action) for rid, costs in expected_costs.items()
        }
        events = {
            rid: [
                record_event(
                    rid, run_id, "review.queue", RecordState.DECIDED, RecordState.REVIEW, now,
                    {"value_of_review": round(value, 2), "due_at": due.isoformat()},
                )
            ]
            for rid, value in values.items()
        }  # fmt: skip
        moved = self._moves.move(
            conn, Move(list(values), RecordState.REVIEW, RecordState.DECIDED, events=events), now
        )
        if not moved:
            return moved
        keys = dict(
            conn.execute(
                select(records.c.record_id, records.c.natural_key).where(
                    records.c.record_id.in_(sorted(moved))
                )
            ).all()
        )
        conn.execute(
            insert(review_items),
            [
                {
                    "record_id": rid,
                    "process": process,
                    "natural_key": keys[rid],
                    "status": OPEN,
                    "value": values[rid],
                    "queued_at": now,
                    "due_at": due,
                    "lease_owner": None,
                    "lease_token": None,
                    "leased_at": None,
                    "lease_expires_at": None,
                }
                for rid in sorted(moved)
            ],
        )
        return moved

    def lease_next(
        self,
        process: str,
        reviewer: str,
        *,
        lease_seconds: float,
        exclude: Sequence[str] = (),
    ) -> QueueItem | None:
        """Lease the first free item in the queue's order to ``reviewer`` (the item they
        already hold comes back first); None when nothing is left for them."""
        if not reviewer:
            raise ReviewLeaseError("a lease needs a reviewer")
        now = self._ctx.now()
        skipped = list(dict.fromkeys(exclude))
        with self._ctx.write() as conn:
            mine = conn.execute(
                select(review_items).where(
                    review_items.c.process == process,
                    review_items.c.status == OPEN,
                    review_items.c.lease_owner == reviewer,
                    review_items.c.lease_expires_at >= now,
                    review_items.c.record_id.not_in(skipped),
                )
            ).mappings().first()  # fmt: skip
            if mine is not None:
                return QueueItem.from_row(mine)
            free = and_(
                review_items.c.process == process,
                review_items.c.status == OPEN,
                or_(review_items.c.lease_owner.is_(None), review_items.c.lease_expires_at < now),
            )
            if skipped:
                free = and_(free, review_items.c.record_id.not_in(skipped))
            orders = (
                _overdue_first(
                    select(review_items.c.record_id, review_items.c.lease_owner).where(free), now
                ),
                _by_value(
                    select(review_items.c.record_id, review_items.c.lease_owner).where(free),
                    now,
                    conn.dialect.name,
                ),
            )
            for order in orders:
                candidates = conn.execute(
                    order.limit(_CANDIDATES).with_for_update(skip_locked=True)
                ).all()
                for record_id, previous in candidates:
                    item = self._take(conn, process, record_id, previous, reviewer, free,
                                      lease_seconds, now)  # fmt: skip
                    if item is not None:
                        return item
        return None

    def _take(
        self,
        conn: Connection,
        process: str,
        record_id: str,
        previous: str | None,
        reviewer: str,
        free: Any,
        lease_seconds: float,
        now: dt.datetime,
    ) -> QueueItem | None:
        token = secrets.token_urlsafe(24)
        expires = now + dt.timedelta(seconds=lease_seconds)
        taken = conn.execute(
            update(review_items)
            .where(review_items.c.record_id == record_id, free)
            .values(
                lease_owner=reviewer, lease_token=token, leased_at=now, lease_expires_at=expires
            )
        ).rowcount
        if taken != 1:
            return None
        detail: dict[str, Any] = {"expires_at": expires.isoformat()}
        if previous is not None:
            detail["expired_lease_of"] = previous
        audit(conn, process, record_id, reviewer, "lease", now, detail)
        row = conn.execute(
            select(review_items).where(review_items.c.record_id == record_id)
        ).mappings().one()  # fmt: skip
        return QueueItem.from_row(row)

    def held_by(self, process: str, reviewer: str) -> QueueItem | None:
        """The open item ``reviewer`` holds an unexpired lease on, if any."""
        now = self._ctx.now()
        with self._ctx.read() as conn:
            row = conn.execute(
                select(review_items).where(
                    review_items.c.process == process,
                    review_items.c.status == OPEN,
                    review_items.c.lease_owner == reviewer,
                    review_items.c.lease_expires_at >= now,
                )
            ).mappings().first()  # fmt: skip
        return None if row is None else QueueItem.from_row(row)

    def item(self, record_id: str) -> QueueItem:
        """The queue item of ``record_id``."""
        with self._ctx.read() as conn:
            row = conn.execute(
                select(review_items).where(review_items.c.record_id == record_id)
            ).mappings().first()  # fmt: skip
        if row is None:
            raise ReviewItemNotFoundError(f"no record {record_id!r} in the review queue")
        return QueueItem.from_row(row)

    def release(self, record_id: str, reviewer: str, token: str, *, reason: str) -> None:
        """Give the lease back (the item returns to the queue at once).

        Raises :class:`ReviewLeaseError` when ``reviewer`` does not hold it with ``token``.
        """
        now = self._ctx.now()
        with self._ctx.write() as conn:
            held = conn.execute(
                update(review_items)
                .where(
                    review_items.c.record_id == record_id,
                    review_items.c.status == OPEN,
                    review_items.c.lease_owner == reviewer,
                    review_items.c.lease_token == token,
                )
                .values(lease_owner=None, lease_token=None, leased_at=None, lease_expires_at=None)
            ).rowcount
            if held != 1:
                raise ReviewLeaseError(
                    f"you do not hold the lease on {record_id}: nothing to release"
                )
            process = conn.execute(
                select(review_items.c.process).where(review_items.c.record_id == record_id)
            ).scalar_one()
            audit(conn, process, record_id, reviewer, "release", now, {"reason": reason})

    def listing(self, process: str, *, limit: int = 50) -> list[QueueItem]:
        """The first ``limit`` open items in the queue's order (leased ones included)."""
        now = self._ctx.now()
        base = select(review_items).where(
            review_items.c.process == process, review_items.c.status == OPEN
        )
        with self._ctx.read() as conn:
            overdue = conn.execute(_overdue_first(base, now).limit(limit)).mappings().all()
            rest = conn.execute(
                _by_value(base, now, conn.dialect.name).limit(max(0, limit - len(overdue)))
            ).mappings().all()  # fmt: skip
        return [QueueItem.from_row(row) for row in [*overdue, *rest]]

    def stats(self, process: str) -> QueueStats:
        """Open, leased (unexpired), past SLA, and decided since midnight UTC."""
        now = self._ctx.now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        is_open = and_(review_items.c.process == process, review_items.c.status == OPEN)

        def count(conn: Connection, *where: Any) -> int:
            return int(conn.execute(select(func.count()).where(*where)).scalar_one())

        with self._ctx.read() as conn:
            return QueueStats(
                open=count(conn, is_open),
                leased=count(conn, is_open, review_items.c.lease_expires_at >= now),
                past_sla=count(conn, is_open, review_items.c.due_at < now),
                decided_today=count(
                    conn,
                    review_decisions.c.process == process,
                    review_decisions.c.decided_at >= midnight,
                ),
            )


def _overdue_first(query: Select[Any], now: dt.datetime) -> Select[Any]:
    """The open items past their SLA, most overdue first (a walk of ``ix_review_items_due``)."""
    return query.where(review_items.c.due_at < now).order_by(
        review_items.c.due_at, review_items.c.record_id
    )


def _by_value(query: Select[Any], now: dt.datetime, dialect: str) -> Select[Any]:
    """The open items within their SLA, highest value of review first.

    A backward walk of ``ix_review_items_value`` that stops after the first few rows.
    SQLite's planner would rather take the range on ``due_at`` (nearly every open item) and
    sort it all, 100,000 rows for each lease; SQLite's unary ``+`` keeps that term off any
    index, so the order's index is the one left.
    """
    due = (
        literal_column("+review_items.due_at", UtcDateTime)
        if dialect == "sqlite"
        else review_items.c.due_at
    )
    return query.where(due >= now).order_by(
        review_items.c.value.desc(), review_items.c.record_id.desc()
    )


def audit(
    conn: Connection,
    process: str,
    record_id: str,
    reviewer: str,
    event: str,
    at: dt.datetime,
    detail: Mapping[str, Any],
) -> None:
    """Append one row to the review audit trail (the only write it ever gets)."""
    conn.execute(
        insert(review_audit).values(
            process=process,
            record_id=record_id,
            reviewer=reviewer,
            event=event,
            at=at,
            detail=dict(detail),
        )
    )
