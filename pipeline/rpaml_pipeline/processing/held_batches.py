"""A person's decision on a batch the gate held: release it or reject it.

Releasing gives every record of the batch that the steps found valid the state they gave it
(``validated``, or ``labeled`` with its label), so it is scored like any other, and lets
the batch's records still waiting be processed without the gate judging them again.
Rejecting keeps every record quarantined for good. Either is one transaction with a
``gate`` event on each processed batch, naming who decided, why and what changed, so
``rpaml lineage`` shows the hold and the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
from sqlalchemy import select

from rpaml_pipeline.errors import HeldBatchError, RecordNotFoundError
from rpaml_pipeline.store.batches import HELD, PROCESSED, REJECTED, RELEASED, BatchInfo
from rpaml_pipeline.store.events import GATE_KEY, batch_event
from rpaml_pipeline.store.schema import batches, record_events, records
from rpaml_pipeline.store.states import RecordState
from rpaml_pipeline.store.store import Store
from rpaml_pipeline.store.transitions import Move

Decision = Literal["release", "reject"]
_RESTORED = (RecordState.VALIDATED, RecordState.LABELED)


@dataclass(frozen=True)
class HeldDecision:
    """What deciding on a held batch did."""

    batch_id: str
    decision: Decision
    restored: int
    """Records back to ``validated`` or ``labeled`` (release)."""
    quarantined: int
    """Records that stay quarantined (their own failures, or all of them on reject)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "batch": self.batch_id,
            "decision": self.decision,
            "restored": self.restored,
            "quarantined": self.quarantined,
        }


def held_batches(store: Store, process: str) -> list[BatchInfo]:
    """The raw batches of ``process`` the gate holds, oldest first."""
    return [batch for batch in store.batches.find(process, status=HELD) if batch.kind != PROCESSED]


def decide(
    store: Store, batch_id: str, decision: Decision, *, by: str, reason: str
) -> HeldDecision:
    """Release or reject the held raw batch ``batch_id`` (a processed batch's id names its
    raw batch); ``by`` and ``reason`` are recorded in lineage."""
    if not reason.strip():
        raise HeldBatchError("say why (a reason is recorded with the decision)")
    raw = _raw_batch(store, batch_id)
    if raw.status != HELD:
        raise HeldBatchError(f"batch {raw.batch_id} is {raw.status}, not held by the gate")
    processed = store.batches.find(raw.process, kind=PROCESSED, input_ids=[raw.batch_id])
    restored = kept = 0
    with store.ctx.write() as conn:
        now = store.now()
        current = conn.execute(
            select(batches.c.status).where(batches.c.batch_id == raw.batch_id)
        ).scalar_one()
        if current != HELD:  # decided by someone else since we looked
            raise HeldBatchError(f"batch {raw.batch_id} is {current}, not held by the gate")
        status = RELEASED if decision == "release" else REJECTED
        gate = dict(raw.gate or {}) | {"decision": decision, "by": by, "reason": reason}
        store.batches.set_status(conn, raw.batch_id, status, gate)
        for data in processed:
            if data.status != HELD:
                continue
            quarantined = set(
                conn.execute(
                    select(records.c.record_id).where(
                        records.c.data_batch_id == data.batch_id,
                        records.c.state == RecordState.QUARANTINED.value,
                    )
                ).scalars()
            )
            frame = store.batches.frame(data.batch_id, conn).select(
                "record_id", "to_state", "label", "label_source"
            )
            moved = 0
            if decision == "release":
                moved = _restore(store, conn, frame, quarantined, now)
            restored += moved
            kept += len(quarantined) - moved
            store.batches.set_status(conn, data.batch_id, status, gate)
            if decision == "release" and moved:
                store.batches.set_pending(conn, [data.batch_id], "score")
            detail = {
                GATE_KEY: decision,
                "by": by,
                "reason": reason,
                "input_batch": raw.batch_id,
                "restored": moved,
            }
            conn.execute(
                record_events.insert().values(
                    batch_event(data.batch_id, None, "gate", RecordState.QUARANTINED, None, now,
                                detail)
                )
            )  # fmt: skip
        if decision == "release" and raw.pending is None:
            # Records of the batch still collected (waiting for an enrichment) go on.
            left = conn.execute(
                select(records.c.record_id)
                .where(records.c.batch_id == raw.batch_id, records.c.state == "collected")
                .limit(1)
            ).first()
            if left:
                store.batches.set_pending(conn, [raw.batch_id], "process")
    return HeldDecision(raw.batch_id, decision, restored, kept)


def _restore(store: Store, conn: Any, frame: pl.DataFrame, quarantined: set[str], now: Any) -> int:
    """Move each held record the steps found valid back to the state they gave it."""
    moved = 0
    for state in _RESTORED:
        mine = frame.filter(
            (pl.col("to_state") == state.value) & pl.col("record_id").is_in(sorted(quarantined))
        )
        if not mine.height:
            continue
        per_record = {
            row["record_id"]: {
                "reason": None,
                "label": row["label"] if state is RecordState.LABELED else None,
                "label_source": row["label_source"] if state is RecordState.LABELED else None,
            }
            for row in mine.iter_rows(named=True)
        }
        moved += len(
            store.transitions.move(
                conn,
                Move(list(per_record), state, RecordState.QUARANTINED, per_record=per_record),
                now,
            )
        )
    return moved


def _raw_batch(store: Store, batch_id: str) -> BatchInfo:
    try:
        batch = store.batches.info(batch_id)
    except RecordNotFoundError as exc:
        raise HeldBatchError(f"no batch {batch_id!r}") from exc
    if batch.kind == PROCESSED:
        if batch.input_id is None:
            raise HeldBatchError(f"batch {batch_id} has no raw batch")
        return store.batches.info(batch.input_id)
    return batch
