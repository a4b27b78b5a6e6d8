"""The lineage read model: a record's trail, from its own events and its batches'.

A record's lineage is its own events and the events of its batches (``ingest`` of its raw
batch, the processing of its processed batch), in one order (the events' ids), each batch
event read as what it did to this record (:mod:`rpaml_pipeline.store.layout`), and the
deliveries that took it from its processed batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from sqlalchemy import or_, select

from rpaml_pipeline.store import layout
from rpaml_pipeline.store.batches import Batches, from_parquet
from rpaml_pipeline.store.context import StoreContext
from rpaml_pipeline.store.events import BATCH_STEPS_KEY, GATE_KEY
from rpaml_pipeline.store.labels import Labels
from rpaml_pipeline.store.reading import Reading
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
from rpaml_pipeline.store.shadow import ShadowDecisions


class LineageReading:
    """Reads records' lineage (see the module docstring)."""

    def __init__(self, ctx: StoreContext, batches_: Batches, reading: Reading) -> None:
        self._ctx = ctx
        self._batches = batches_
        self._reading = reading
        self._labels = Labels(ctx)
        self._shadow = ShadowDecisions(ctx)

    def positions(self, batch_id: str, frame: pl.DataFrame) -> dict[str, int]:
        """``record_id -> row`` of a batch."""
        return self._reading.positions(batch_id, frame)

    def events(self, record_id: str) -> list[RecordEvent]:
        """The record's lineage events, oldest first."""
        record = self._reading.get(record_id)
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
        if GATE_KEY in detail:
            return [_gate_event(common, row, detail, values)]
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
        record = self._reading.get(record_id)
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
            revisions=self._reading.records(revision_ids),
            enrichments=found,
            labels=self._labels.of_record(record_id),
            shadow=self._shadow.of_record(record_id),
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
            names = (
                [entry[0] for entry in listed]
                if listed
                else [row_step]
                if GATE_KEY in (detail or {})
                else ["ingest"]
            )
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


def _gate_event(
    common: Mapping[str, Any],
    row: Mapping[str, Any],
    detail: Mapping[str, Any],
    values: Mapping[str, Any],
) -> RecordEvent:
    """The batch gate's hold of a record's batch, or a person's release or reject of it."""
    action = detail[GATE_KEY]
    steps_state = values["to_state"]
    to_state = (
        row["to_state"]
        if action == "hold"
        else steps_state
        if action == "release" and steps_state != "quarantined"
        else None
    )
    return RecordEvent(
        **common,
        step=f"gate_{action}" if action != "hold" else "gate",
        step_version=row["step_version"],
        config_hash=row["config_hash"],
        from_state=row["from_state"] if to_state is not None else None,
        to_state=to_state,
        at=row["at"],
        detail={key: value for key, value in detail.items() if key != GATE_KEY},
    )
