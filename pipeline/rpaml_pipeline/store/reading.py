"""The read model of records: as callers see them, assembled from control rows and batches.

A :class:`~rpaml_pipeline.store.records.StoredRecord` is its control row with the payloads
of its batches (raw payload, capture facts, cleaned data, features); its lineage is read by
:mod:`rpaml_pipeline.store.lineage_read`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import polars as pl
from sqlalchemy import func, select

from rpaml_pipeline.errors import RecordNotFoundError
from rpaml_pipeline.store import codec, layout
from rpaml_pipeline.store.batches import Batches
from rpaml_pipeline.store.bulk import id_select
from rpaml_pipeline.store.context import StoreContext
from rpaml_pipeline.store.records import (
    StoredRecord,
)
from rpaml_pipeline.store.schema import (
    records,
)
from rpaml_pipeline.store.states import RecordState

_CONTROL = list(records.c)


class Reading:
    """Reads records and their lineage (see the module docstring)."""

    def __init__(self, ctx: StoreContext, batches_: Batches) -> None:
        self._ctx = ctx
        self._batches = batches_
        self._positions: dict[str, dict[str, int]] = {}

    # --- records --------------------------------------------------------------------

    def get(self, record_id: str) -> StoredRecord:
        """The record with ``record_id``."""
        found = self.records([record_id])
        if not found:
            raise RecordNotFoundError(f"no record with id {record_id!r}")
        return found[0]

    def records(self, record_ids: Sequence[str]) -> list[StoredRecord]:
        """The records with these ids that exist, in the order given."""
        if not record_ids:
            return []
        with self._ctx.read() as conn:
            rows = conn.execute(
                select(*_CONTROL).where(records.c.record_id.in_(id_select(conn, record_ids)))
            ).mappings()
            by_id = {row["record_id"]: dict(row) for row in rows}
        ordered = [by_id[record_id] for record_id in record_ids if record_id in by_id]
        return self.assemble(ordered)

    def latest(self, process: str, natural_key: str) -> StoredRecord | None:
        """The newest revision of a record, or None when the key was never staged."""
        query = (
            select(*_CONTROL)
            .where(records.c.process == process, records.c.natural_key == natural_key)
            .order_by(records.c.revision.desc())
            .limit(1)
        )
        with self._ctx.read() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else self.assemble([dict(row)])[0]

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
                select(*_CONTROL)
                .where(records.c.process == process, records.c.record_id > last)
                .order_by(records.c.record_id)
                .limit(chunk)
            )
            if state is not None:
                query = query.where(records.c.state == str(state))
            with self._ctx.read() as conn:
                rows = [dict(row) for row in conn.execute(query).mappings()]
            if not rows:
                return
            yield self.assemble(rows)
            last = rows[-1]["record_id"]

    def counts(self, process: str | None = None) -> dict[str, dict[str, int]]:
        """``{process: {state: n}}`` over every record (or one process)."""
        query = select(records.c.process, records.c.state, func.count()).group_by(
            records.c.process, records.c.state
        )
        if process is not None:
            query = query.where(records.c.process == process)
        result: dict[str, dict[str, int]] = {}
        with self._ctx.read() as conn:
            for name, state, count in conn.execute(query):
                result.setdefault(name, {})[state] = int(count)
        return result

    def assemble(self, rows: Sequence[Mapping[str, Any]]) -> list[StoredRecord]:
        """Control rows with their payloads, read from their batches."""
        raw_rows: dict[str, list[int]] = {}
        for row in rows:
            if row["batch_id"] is not None:
                raw_rows.setdefault(row["batch_id"], []).append(int(row["batch_row"]))
        raw: dict[tuple[str, int], tuple[dict[str, Any], str | None, Any]] = {}
        for batch_id, positions in raw_rows.items():
            frame = self._batches.frame(batch_id)
            picked = frame[sorted(set(positions))]
            payloads = codec.decode(picked, layout.PAYLOAD)
            locations = picked.get_column("source_location").to_list()
            captured = picked.get_column("captured_at").to_list()
            for offset, position in enumerate(sorted(set(positions))):
                raw[(batch_id, position)] = (payloads[offset], locations[offset], captured[offset])
        processed: dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {}
        wanted: dict[str, list[str]] = {}
        for row in rows:
            if row["data_batch_id"] is not None:
                wanted.setdefault(row["data_batch_id"], []).append(row["record_id"])
        for batch_id, ids in wanted.items():
            processed.update(self._processed(batch_id, ids))
        out = []
        for row in rows:
            payload, location, captured = raw.get(
                (row["batch_id"], int(row["batch_row"] or 0)), ({}, None, None)
            )
            data, features = processed.get(row["record_id"], (None, None))
            out.append(
                StoredRecord(
                    record_id=row["record_id"],
                    process=row["process"],
                    source=row["source"],
                    source_location=location,
                    natural_key=row["natural_key"],
                    revision=row["revision"],
                    content_hash=row["content_hash"],
                    raw_hash=row["raw_hash"],
                    raw=payload,
                    data=data,
                    features=features,
                    state=row["state"],
                    reason=row["reason"],
                    run_id=row["run_id"],
                    captured_at=layout.utc(captured) if captured is not None else row["created_at"],
                    created_at=row["created_at"],
                    updated_at=row["updated_at"],
                    attempts=row["attempts"],
                    next_attempt_at=row["next_attempt_at"],
                    lease_owner=row["lease_owner"],
                    lease_expires_at=row["lease_expires_at"],
                    score=row["score"],
                    decision=row["decision"],
                    reasons=row["reasons"],
                    model_name=row["model_name"],
                    model_version=row["model_version"],
                    policy_version=row["policy_version"],
                    receipt=row["receipt"],
                    label=row["label"],
                    label_source=row["label_source"],
                    superseded_by=row["superseded_by"],
                    expected_costs=row["expected_costs"],
                    batch_id=row["batch_id"],
                    data_batch_id=row["data_batch_id"],
                )
            )
        return out

    def _processed(
        self, batch_id: str, record_ids: Sequence[str]
    ) -> dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]]:
        frame = self._batches.frame(batch_id)
        positions = self.positions(batch_id, frame)
        picked_ids = [record_id for record_id in record_ids if record_id in positions]
        if not picked_ids:
            return {}
        picked = frame[[positions[record_id] for record_id in picked_ids]]
        data = codec.decode_where(picked, layout.DATA, "has_data")
        features = codec.decode_where(picked, layout.FEATURES, "has_features")
        return {
            record_id: (data[index], features[index]) for index, record_id in enumerate(picked_ids)
        }

    def positions(self, batch_id: str, frame: pl.DataFrame) -> dict[str, int]:
        """``record_id -> row`` of a batch (remembered: batches never change)."""
        found = self._positions.get(batch_id)
        if found is None:
            ids = frame.get_column("record_id").to_list()
            found = {record_id: index for index, record_id in enumerate(ids)}
            if len(self._positions) > 64:
                self._positions.clear()
            self._positions[batch_id] = found
        return found
