"""The read model: records as callers see them, assembled from control rows and batches.

A :class:`~rpaml_pipeline.store.records.StoredRecord` is its control row with the payloads
of its batches (raw payload, capture facts, cleaned data, features). A record's lineage is
its own events and the events of its batches (``ingest`` of its raw batch, the processing
of its processed batch), in one order (the events' ids), each batch event read as what it
did to this record (:mod:`rpaml_pipeline.store.layout`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import polars as pl
from sqlalchemy import func, or_, select

from rpaml_pipeline.errors import RecordNotFoundError
from rpaml_pipeline.store import codec, layout
from rpaml_pipeline.store.batches import Batches, from_parquet
from rpaml_pipeline.store.bulk import id_select
from rpaml_pipeline.store.context import StoreContext
from rpaml_pipeline.store.events import BATCH_STEPS_KEY
from rpaml_pipeline.store.records import (
    STEPS_KEY,
    Enrichment,
    RecordEvent,
    RecordLineage,
    RunInfo,
    StoredRecord,
)
from rpaml_pipeline.store.schema import (
    batches,
    deliveries,
    enrichments,
    record_events,
    records,
    runs,
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

    # --- lineage --------------------------------------------------------------------

    def events(self, record_id: str) -> list[RecordEvent]:
        """The record's lineage events, oldest first."""
        record = self.get(record_id)
        return self._events(record)

    def _events(self, record: StoredRecord) -> list[RecordEvent]:
        with self._ctx.read() as conn:
            mine = [b for b in (record.batch_id, record.data_batch_id) if b]
            query = (
                select(record_events)
                .where(
                    or_(
                        record_events.c.record_id == record.record_id,
                        record_events.c.batch_id.in_(mine),
                    )
                )
                .order_by(record_events.c.event_id)
            )
            rows = [dict(row) for row in conn.execute(query).mappings()]
            sources = (
                dict(
                    conn.execute(
                        select(batches.c.batch_id, batches.c.source).where(
                            batches.c.batch_id.in_(mine)
                        )
                    ).all()
                )
                if mine
                else {}
            )
        events: list[RecordEvent] = []
        for row in rows:
            if row["batch_id"] is None:
                events.extend(RecordEvent.from_stored(row))
            else:
                events.extend(self._batch_events(row, record, sources.get(row["batch_id"])))
        return _with_deliveries(events, self._deliveries(record))

    def _deliveries(self, record: StoredRecord) -> list[RecordEvent]:
        """The record's deliveries: the targets that took it from its processed batch."""
        if record.data_batch_id is None:
            return []
        with self._ctx.read() as conn:
            rows = (
                conn.execute(
                    select(deliveries)
                    .where(deliveries.c.batch_id == record.data_batch_id)
                    .order_by(deliveries.c.delivery_id)
                )
                .mappings()
                .all()
            )
        found = []
        for row in rows:
            manifest = from_parquet(bytes(row["manifest"]))
            mine = manifest.filter(pl.col("record_id") == record.record_id)
            # A manifest moved from per-record deliver events (migration 0007, no row
            # hashes) names deliveries the record's own events already show.
            if not mine.height or mine.get_column("row_hash").is_null().all():
                continue
            found.append(
                RecordEvent(
                    event_id=int(row["delivery_id"]),
                    record_id=record.record_id,
                    run_id=row["run_id"],
                    step="deliver",
                    step_version="1",
                    config_hash=None,
                    from_state=None,
                    to_state=None,
                    at=row["at"],
                    detail={
                        "target": row["target"],
                        "kind": row["kind"],
                        "location": row["location"],
                    },
                )
            )
        return found

    def _batch_events(
        self, row: Mapping[str, Any], record: StoredRecord, source: str | None
    ) -> list[RecordEvent]:
        """What a batch event did to ``record``."""
        batch_id = str(row["batch_id"])
        frame = self._batches.frame(batch_id)
        position = self.positions(batch_id, frame).get(record.record_id)
        if position is None:
            return []
        values = frame.row(position, named=True)
        common = {
            "event_id": row["event_id"],
            "record_id": record.record_id,
            "run_id": row["run_id"],
        }
        detail = row["detail"] if isinstance(row["detail"], dict) else {}
        steps = detail.get(BATCH_STEPS_KEY)
        if steps is None:  # ingest
            return [
                RecordEvent(
                    **common,
                    step=row["step"],
                    step_version=row["step_version"],
                    config_hash=row["config_hash"],
                    from_state=row["from_state"],
                    to_state=row["to_state"],
                    at=row["at"],
                    detail=layout.ingest_detail(values, source or record.source),
                )
            ]
        done = layout.step_events(steps, values)
        return [
            RecordEvent(
                **common,
                step=step,
                step_version=version,
                config_hash=config,
                from_state=row["from_state"] if index == len(done) - 1 else None,
                to_state=values["to_state"] if index == len(done) - 1 else None,
                at=row["at"],
                detail=step_detail,
            )
            for index, (step, version, config, step_detail) in enumerate(done)
        ]

    def lineage(self, record_id: str) -> RecordLineage:
        """The record, the run that collected it, its ordered events and its revisions."""
        record = self.get(record_id)
        with self._ctx.read() as conn:
            run_row = (
                conn.execute(select(runs).where(runs.c.run_id == record.run_id)).mappings().first()
            )
            revision_ids = list(
                conn.execute(
                    select(records.c.record_id)
                    .where(
                        records.c.process == record.process,
                        records.c.natural_key == record.natural_key,
                    )
                    .order_by(records.c.revision)
                ).scalars()
            )
            found = [
                Enrichment.from_row(row)
                for row in conn.execute(
                    select(enrichments)
                    .where(enrichments.c.record_id == record_id)
                    .order_by(enrichments.c.captured_at, enrichments.c.enrichment_id)
                ).mappings()
            ]
        return RecordLineage(
            record=record,
            run=None if run_row is None else RunInfo.from_row(run_row),
            events=self._events(record),
            revisions=self.records(revision_ids),
            enrichments=found,
        )

    def run_record_ids(self, run_id: str, step: str) -> list[str]:
        """The records that have a ``step`` event in ``run_id``, in the order they got it."""
        with self._ctx.read() as conn:
            rows = conn.execute(
                select(
                    record_events.c.record_id,
                    record_events.c.batch_id,
                    record_events.c.step,
                    record_events.c.detail,
                )
                .where(record_events.c.run_id == run_id)
                .order_by(record_events.c.event_id)
            ).all()
        ordered: dict[str, None] = {}
        for record_id, batch_id, row_step, detail in rows:
            if batch_id is None:
                if record_id is not None and (row_step == step or step in _steps_of(detail)):
                    ordered.setdefault(record_id)
                continue
            listed = (detail or {}).get(BATCH_STEPS_KEY)
            names = [entry[0] for entry in listed] if listed else ["ingest"]
            if step in names:
                frame = self._batches.frame(batch_id)
                for record_id_ in frame.get_column("record_id").to_list():
                    ordered.setdefault(record_id_)
        return list(ordered)


def _with_deliveries(events: list[RecordEvent], delivered: list[RecordEvent]) -> list[RecordEvent]:
    """``events`` with each delivery placed after the events that came before it."""
    merged = list(events)
    for delivery in delivered:
        position = len(merged)
        while position and merged[position - 1].at > delivery.at:
            position -= 1
        merged.insert(position, delivery)
    return merged


def _steps_of(detail: Any) -> list[str]:
    if isinstance(detail, dict) and STEPS_KEY in detail:
        return [entry[0] for entry in detail[STEPS_KEY]]
    return []
