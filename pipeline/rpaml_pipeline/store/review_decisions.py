"""A reviewer's decision: the record's final action, a label with provenance, an audit row.

:meth:`ReviewDecisions.decide` is one transaction that either does all of this or nothing:

1. checks the item: it exists, is still open, and the reviewer holds its lease with the
   token of the form they answered (an expired, released or someone else's lease, a
   replayed form and a forged one all fail here);
2. closes the item (a guarded ``UPDATE`` re-checking the same conditions);
3. moves the record ``review -> decided`` with the reviewer's action as its decision: the
   act robot applies it like any model decision, exactly once, and stores the receipt
   (:mod:`rpaml_pipeline.store.leases`). The model's own action stays in the decision row
   and in the record's lineage;
4. writes the decision (``review_decisions``: unique per record, so a second decision is
   refused even if everything else were bypassed);
5. writes a label judging the model's decision (``record_labels``, kind ``review``,
   source ``review`` or ``review:simulated``) beside any outcome label that comes later;
6. appends a ``decision`` row to the audit trail.

Because all of it is committed before the app answers, a decision survives a crash of
the review app before the robot acts: the record waits in ``decided``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from rpaml_pipeline.errors import ReviewDecidedError, ReviewItemNotFoundError, ReviewLeaseError
from rpaml_pipeline.store.context import StoreContext
from rpaml_pipeline.store.events import record_event
from rpaml_pipeline.store.labels import REVIEW
from rpaml_pipeline.store.review_queue import DECIDED, OPEN, audit
from rpaml_pipeline.store.schema import (
    record_labels,
    records,
    review_audit,
    review_decisions,
    review_items,
)
from rpaml_pipeline.store.states import RecordState
from rpaml_pipeline.store.transitions import Move, Transitions

SIMULATED_SOURCE = "review:simulated"
"""The label source of a simulated reviewer (the demo's robot), told apart from people."""


@dataclass(frozen=True)
class ReviewVerdict:
    """What a reviewer answered on an item page."""

    choice: str
    action: str
    outcome: str
    label: int
    shown_hash: str
    note: str | None = None
    simulated: bool = False


@dataclass(frozen=True)
class ReviewDecision:
    """A stored decision (a ``review_decisions`` row)."""

    decision_id: int
    process: str
    record_id: str
    reviewer: str
    choice: str
    action: str
    outcome: str
    label: int
    note: str | None
    model_action: str | None
    score: float | None
    model_version: str | None
    policy_version: str | None
    shown_hash: str
    queued_at: dt.datetime
    leased_at: dt.datetime
    decided_at: dt.datetime
    seconds_spent: float
    simulated: bool
    run_id: str

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ReviewDecision:
        """From a ``review_decisions`` row."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class AuditEntry:
    """One row of the review audit trail."""

    audit_id: int
    process: str
    record_id: str
    reviewer: str
    event: str
    at: dt.datetime
    detail: Mapping[str, Any]

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> AuditEntry:
        """From a ``review_audit`` row."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


class ReviewDecisions:
    """The ``review_decisions`` and ``review_audit`` aggregate (see the module)."""

    def __init__(self, ctx: StoreContext, transitions: Transitions) -> None:
        self._ctx = ctx
        self._moves = transitions

    def decide(
        self,
        record_id: str,
        reviewer: str,
        lease_token: str,
        verdict: ReviewVerdict,
        *,
        run_id: str,
    ) -> ReviewDecision:
        """Store ``verdict`` as the record's decision (see the module docstring).

        Raises
        ------
        ReviewItemNotFoundError
            No such record in the queue.
        ReviewDecidedError
            Already decided (by anyone), or the record no longer waits for review.
        ReviewLeaseError
            ``reviewer`` does not hold an unexpired lease with ``lease_token``.
        """
        now = self._ctx.now()
        with self._ctx.write() as conn:
            item = conn.execute(
                select(review_items).where(review_items.c.record_id == record_id)
            ).mappings().first()  # fmt: skip
            _check(conn, item, record_id, reviewer, lease_token, now)
            assert item is not None  # _check raised otherwise
            closed = conn.execute(
                update(review_items)
                .where(
                    review_items.c.record_id == record_id,
                    review_items.c.status == OPEN,
                    review_items.c.lease_owner == reviewer,
                    review_items.c.lease_token == lease_token,
                    review_items.c.lease_expires_at >= now,
                )
                .values(status=DECIDED, lease_owner=None, lease_token=None, lease_expires_at=None)
            ).rowcount
            if closed != 1:
                raise ReviewLeaseError(f"your lease on {record_id} ended while you decided")
            record = conn.execute(
                select(
                    records.c.natural_key,
                    records.c.decision,
                    records.c.score,
                    records.c.model_version,
                    records.c.policy_version,
                ).where(records.c.record_id == record_id)
            ).mappings().one()  # fmt: skip
            leased_at = item["leased_at"] or now
            spent = max(0.0, (now - leased_at).total_seconds())
            row = {
                "process": item["process"],
                "record_id": record_id,
                "reviewer": reviewer,
                "choice": verdict.choice,
                "action": verdict.action,
                "outcome": verdict.outcome,
                "label": verdict.label,
                "note": verdict.note or None,
                "model_action": record["decision"],
                "score": record["score"],
                "model_version": record["model_version"],
                "policy_version": record["policy_version"],
                "shown_hash": verdict.shown_hash,
                "queued_at": item["queued_at"],
                "leased_at": leased_at,
                "decided_at": now,
                "seconds_spent": spent,
                "simulated": verdict.simulated,
                "run_id": run_id,
            }
            event = record_event(
                record_id, run_id, "review", RecordState.REVIEW, RecordState.DECIDED, now,
                {"reviewer": reviewer, "choice": verdict.choice, "action": verdict.action,
                 "model_action": record["decision"], "simulated": verdict.simulated},
            )  # fmt: skip
            moved = self._moves.move(
                conn,
                Move(
                    [record_id],
                    RecordState.DECIDED,
                    RecordState.REVIEW,
                    values={"decision": verdict.action},
                    events={record_id: [event]},
                ),
                now,
            )
            if not moved:
                raise ReviewDecidedError(f"record {record_id} no longer waits for review")
            decision_id = conn.execute(insert(review_decisions).values(**row)).inserted_primary_key
            conn.execute(insert(record_labels).values(**_label(row, record["natural_key"], now)))
            audit(conn, item["process"], record_id, reviewer, "decision", now,
                  {"choice": verdict.choice, "action": verdict.action,
                   "seconds_spent": round(spent, 3), "simulated": verdict.simulated})  # fmt: skip
        assert decision_id is not None
        return ReviewDecision(decision_id=int(decision_id[0]), **row)

    def of_record(self, record_id: str) -> ReviewDecision | None:
        """The decision on ``record_id``, if one was made."""
        with self._ctx.read() as conn:
            row = conn.execute(
                select(review_decisions).where(review_decisions.c.record_id == record_id)
            ).mappings().first()  # fmt: skip
        return None if row is None else ReviewDecision.from_row(row)

    def decisions(self, process: str, *, limit: int | None = None) -> list[ReviewDecision]:
        """The decisions of ``process``, newest first."""
        query = (
            select(review_decisions)
            .where(review_decisions.c.process == process)
            .order_by(review_decisions.c.decision_id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self._ctx.read() as conn:
            return [ReviewDecision.from_row(row) for row in conn.execute(query).mappings()]

    def audit_trail(
        self, process: str, *, record_id: str | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        """The audit rows of ``process`` (or of one record), oldest first; with ``limit``,
        the latest ``limit`` of them."""
        query = select(review_audit).where(review_audit.c.process == process)
        if record_id is not None:
            query = query.where(review_audit.c.record_id == record_id)
        query = query.order_by(review_audit.c.audit_id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._ctx.read() as conn:
            rows = [AuditEntry.from_row(row) for row in conn.execute(query).mappings()]
        return rows[::-1]


def _check(
    conn: Connection,
    item: Mapping[Any, Any] | None,
    record_id: str,
    reviewer: str,
    token: str,
    now: dt.datetime,
) -> None:
    """Say in words why ``reviewer`` may not decide the item, if they may not."""
    if item is None:
        raise ReviewItemNotFoundError(f"no record {record_id!r} in the review queue")
    if item["status"] != OPEN:
        done = conn.execute(
            select(review_decisions.c.reviewer, review_decisions.c.decided_at).where(
                review_decisions.c.record_id == record_id
            )
        ).first()
        who = f" by {done.reviewer} at {done.decided_at:%Y-%m-%d %H:%M:%S} UTC" if done else ""
        raise ReviewDecidedError(f"{item['natural_key']} was already decided{who}")
    if item["lease_owner"] != reviewer:
        holder = "nobody" if item["lease_owner"] is None else "another reviewer"
        raise ReviewLeaseError(
            f"{item['natural_key']} is leased to {holder}, not to you: take the next item"
        )
    if item["lease_token"] != token:
        raise ReviewLeaseError(
            f"this form for {item['natural_key']} is not from your current lease "
            "(an old or copied form): reload the item"
        )
    if item["lease_expires_at"] is None or item["lease_expires_at"] < now:
        raise ReviewLeaseError(
            f"your lease on {item['natural_key']} expired: the item went back to the queue"
        )


def _label(row: Mapping[str, Any], natural_key: str, now: dt.datetime) -> dict[str, Any]:
    """The ``record_labels`` row of a review: it judges the model's decision."""
    return {
        "process": row["process"],
        "record_id": row["record_id"],
        "natural_key": natural_key,
        "label": row["label"],
        "kind": REVIEW,
        "source": SIMULATED_SOURCE if row["simulated"] else REVIEW,
        "observed_at": now,
        "decided_at": row["queued_at"],
        "delay_seconds": (now - row["queued_at"]).total_seconds(),
        "action": row["model_action"],
        "score": row["score"],
        "model_version": row["model_version"],
        "policy_version": row["policy_version"],
        "run_id": row["run_id"],
        "details": {
            "reviewer": row["reviewer"],
            "choice": row["choice"],
            "final_action": row["action"],
            "outcome": row["outcome"],
            "note": row["note"],
            "seconds_spent": round(row["seconds_spent"], 3),
            "shown_hash": row["shown_hash"],
            "simulated": row["simulated"],
        },
        "created_at": now,
    }
