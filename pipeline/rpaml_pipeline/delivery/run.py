"""Deliver a process's records to the targets its process file declares.

Each call is one ``deliver`` run in the store. Delivery works a processed batch at a time
(memory stays bounded by the batch, whatever the number of records): for each target, the
batches with something new for it (never delivered there, or changed since: a record
scored, decided or acted on counts a change of its batch) are read; their live records in
the target's states are turned into rows (:mod:`rpaml_pipeline.delivery.rows`); a record
goes out only when it was not delivered there yet or changed since, so running
``deliver`` again sends only what changed (a record delivered when validated goes out
again once it is decided). What a target took from a batch is recorded (``deliveries``:
the records, when, where the rows went), so ``rpaml lineage RECORD_ID`` shows each
delivery; the run emits one OpenLineage output dataset per target.

The record of a delivery is written after the target accepted the rows: a crash in between
delivers those rows again next time (at least once). The warehouse upsert makes that
harmless; lake readers that need exactly once keep one row per ``(record_id,
content_hash, state)``. A failing target is reported and does not stop the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import polars as pl
from sqlalchemy import func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from rpaml_pipeline.delivery.columns import Column, delivery_columns
from rpaml_pipeline.delivery.rows import batch_records, delivered_rows, row_hashes
from rpaml_pipeline.delivery.sinks import (
    Delivered,
    PartialDeliveryError,
    Sink,
    open_sink,
    target_location,
)
from rpaml_pipeline.errors import DeliveryError
from rpaml_pipeline.lineage.openlineage import Dataset, schema_facet
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.definition import DeliveryTarget
from rpaml_pipeline.store import Store
from rpaml_pipeline.store.batches import PROCESSED, BatchInfo, from_parquet, to_parquet
from rpaml_pipeline.store.schema import batches, deliveries, records

DELIVER_STEP = "deliver"
DELIVER_STEP_VERSION = "1"
_TARGET_ERRORS = (DeliveryError, OSError, SQLAlchemyError, httpx.HTTPError, ValueError)


@dataclass
class TargetReport:
    """What one target received in a delivery run."""

    target: str
    kind: str
    location: str
    status: str = "succeeded"
    delivered: int = 0
    unchanged: int = 0
    """Records whose row had already been delivered to this target as it is."""
    outputs: list[str] = field(default_factory=list)
    """Files written, table or URL posted to."""
    error: str | None = None


@dataclass
class DeliveryReport:
    """What a delivery run did, per target."""

    run_id: str
    process: str
    targets: list[TargetReport]

    @property
    def ok(self) -> bool:
        """True when every target took its rows."""
        return all(target.status == "succeeded" for target in self.targets)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (also the run's summary)."""
        return {
            "run_id": self.run_id,
            "process": self.process,
            "ok": self.ok,
            "targets": [dict(target.__dict__) for target in self.targets],
        }


def deliver(
    store: Store,
    process: ProcessDefinition,
    run_id: str,
    *,
    data_dir: Path,
    names: Sequence[str] = (),
    sleep: Callable[[float], None] = time.sleep,
    variables: Mapping[str, str] | None = None,
) -> DeliveryReport:
    """Deliver ``process``'s records to its declared targets (only ``names`` when given),
    a processed batch at a time, in delivery run ``run_id``. ``variables`` are what
    ``${NAME}`` in a target's URL or headers stands for (:meth:`RpamlSettings.variables`).
    Paths are relative to ``data_dir``.
    """
    targets = chosen_targets(process, names)
    report = DeliveryReport(run_id, process.name, [])
    delivery = _Delivery(
        store,
        process,
        targets,
        report,
        data_dir=data_dir,
        variables=dict(variables or {}),
        sleep=sleep,
    )
    delivery.run()
    return report


def chosen_targets(process: ProcessDefinition, names: Sequence[str] = ()) -> list[DeliveryTarget]:
    """The targets ``names`` (every declared one when empty), refusing unknown names."""
    declared = {target.name: target for target in process.delivery}
    if len(declared) != len(process.delivery):
        raise DeliveryError(
            f"process {process.name}: two delivery targets share a name; names must differ"
        )
    unknown = [name for name in names if name not in declared]
    if unknown:
        known = ", ".join(declared) or "none"
        raise DeliveryError(
            f"process {process.name} declares no delivery target {', '.join(unknown)} "
            f"(declared: {known})"
        )
    return [declared[name] for name in names] if names else list(declared.values())


def output_datasets(report: DeliveryReport, process: ProcessDefinition) -> list[Dataset]:
    """One OpenLineage output dataset per target of a delivery."""
    columns = delivery_columns(process)
    return [_output_dataset(target, columns) for target in report.targets]


class _Delivery:
    """One delivery run's targets, their sinks and what each has yet to confirm."""

    def __init__(
        self,
        store: Store,
        process: ProcessDefinition,
        targets: Sequence[DeliveryTarget],
        report: DeliveryReport,
        *,
        data_dir: Path,
        variables: Mapping[str, str],
        sleep: Callable[[float], None],
    ) -> None:
        self.store, self.process, self.run_id = store, process, report.run_id
        self.columns = delivery_columns(process)
        self.now = store.now()
        self.targets = list(targets)
        self.outcomes: dict[str, TargetReport] = {}
        self.sinks: dict[str, Sink] = {}
        # What each target was handed and has not confirmed yet, per batch: the batch's
        # change count then and its records' row hashes (a report confirms all its rows at
        # the end, when its file is renamed into place).
        self.unconfirmed: dict[str, dict[str, tuple[int, pl.DataFrame]]] = {}
        for target in targets:
            outcome = TargetReport(target.name, target.kind, target_location(target, data_dir))
            report.targets.append(outcome)
            self.outcomes[target.name] = outcome
            self.unconfirmed[target.name] = {}
            self.sinks[target.name] = open_sink(
                target,
                process=process.name,
                columns=self.columns,
                run_id=report.run_id,
                data_dir=data_dir,
                variables=variables,
                now=self.now,
                sleep=sleep,
            )

    def run(self) -> None:
        try:
            extra = {"delivery_run_id": self.run_id, "delivered_at": self.now}
            due = {target.name: _due_batches(self.store, self.process.name, target.name)
                   for target in self.targets}  # fmt: skip
            for batch in self.store.batches.find(self.process.name, kind=PROCESSED):
                wanted = [t for t in self.targets if batch.batch_id in due[t.name]]
                wanted = [t for t in wanted if self.outcomes[t.name].status != "failed"]
                if not wanted:
                    continue
                control = batch_records(self.store, batch).filter(pl.col("superseded_by").is_null())
                for target in wanted:
                    self._send(target, batch, control, extra)
            for target in self.targets:
                if self.outcomes[target.name].status != "failed":
                    self._guard(target, self.sinks[target.name].close)
                outcome = self.outcomes[target.name]
                # Every live record in the target's states went out now or was there already.
                outcome.unchanged = _live(self.store, self.process.name, target) - outcome.delivered
        except BaseException:
            for sink in self.sinks.values():
                sink.abort()
            raise

    def _send(
        self, target: DeliveryTarget, batch: BatchInfo, control: pl.DataFrame, extra: dict[str, Any]
    ) -> None:
        live = control.filter(pl.col("state").is_in(list(target.states)))
        if not live.height:
            return
        rows = delivered_rows(self.store, batch, live, self.columns, extra)
        hashes = rows.select("record_id", row_hashes(self.columns).alias("row_hash"), "updated_at")
        sent = _delivered(self.store, self.process.name, target.name, batch.batch_id)
        if sent.height:
            # Changed since delivered: another row hash, or (records delivered before
            # rows were hashed, moved by migration 0007) updated after that delivery.
            fresh = hashes.join(sent, on="record_id", how="left").filter(
                pl.col("sent_hash").is_null() & pl.col("sent_at").is_null()
                | (pl.col("sent_hash").is_not_null() & (pl.col("sent_hash") != pl.col("row_hash")))
                | (pl.col("sent_hash").is_null() & (pl.col("updated_at") > pl.col("sent_at")))
            )
            rows = rows.filter(pl.col("record_id").is_in(fresh["record_id"].implode()))
            hashes = fresh.select("record_id", "row_hash", "updated_at")
        if not rows.height:
            return
        self.unconfirmed[target.name][batch.batch_id] = (batch.changes, hashes)
        self._guard(target, lambda: self.sinks[target.name].send(rows))

    def _guard(self, target: DeliveryTarget, step: Callable[[], Delivered]) -> None:
        # A failing target is reported and set aside; the other targets go on.
        outcome = self.outcomes[target.name]
        try:
            self._record(target, step())
        except _TARGET_ERRORS as error:
            if isinstance(error, PartialDeliveryError):
                self._record(target, error.delivered)
            outcome.status, outcome.error = "failed", str(error)
            self.sinks[target.name].abort()

    def _record(self, target: DeliveryTarget, delivered: Delivered) -> None:
        outcome = self.outcomes[target.name]
        pending = self.unconfirmed[target.name]
        for ids, location in delivered:
            taken = pl.Series(ids, dtype=pl.String).implode()
            for batch_id, (count, hashes) in list(pending.items()):
                mine = hashes.filter(pl.col("record_id").is_in(taken))
                if mine.height:
                    _write_delivery(self.store, self, target, batch_id, count, location, mine)
                    pending[batch_id] = (count, hashes.filter(~pl.col("record_id").is_in(taken)))
            outcome.delivered += len(ids)
            if location not in outcome.outputs:
                outcome.outputs.append(location)


def _live(store: Store, process: str, target: DeliveryTarget) -> int:
    """How many current records are in the target's states."""
    query = select(func.count()).where(
        records.c.process == process,
        records.c.state.in_(list(target.states)),
        records.c.superseded_by.is_(None),
        records.c.data_batch_id.is_not(None),
    )
    with store.ctx.read() as conn:
        return int(conn.execute(query).scalar() or 0)


def _due_batches(store: Store, process: str, target: str) -> set[str]:
    """Processed batches with something new for ``target``: never delivered there, or
    changed since the last delivery."""
    last = (
        select(deliveries.c.batch_id, func.max(deliveries.c.changes).label("seen"))
        .where(deliveries.c.process == process, deliveries.c.target == target)
        .group_by(deliveries.c.batch_id)
        .subquery()
    )
    query = (
        select(batches.c.batch_id)
        .select_from(batches.outerjoin(last, last.c.batch_id == batches.c.batch_id))
        .where(
            batches.c.process == process,
            batches.c.kind == PROCESSED,
            (last.c.seen.is_(None)) | (batches.c.changes > last.c.seen),
        )
    )
    with store.ctx.read() as conn:
        return set(conn.execute(query).scalars())


def _delivered(store: Store, process: str, target: str, batch_id: str) -> pl.DataFrame:
    """``record_id, sent_hash, sent_at`` of the last row ``target`` took of each record of
    a batch."""
    with store.ctx.read() as conn:
        blobs = conn.execute(
            select(deliveries.c.manifest)
            .where(
                deliveries.c.process == process,
                deliveries.c.target == target,
                deliveries.c.batch_id == batch_id,
            )
            .order_by(deliveries.c.delivery_id)
        ).scalars()
        frames = [from_parquet(bytes(blob)) for blob in blobs]
    if not frames:
        return pl.DataFrame(schema=_SENT)
    return (
        pl.concat(frames, how="diagonal_relaxed")
        .group_by("record_id", maintain_order=True)
        .last()
        .select(
            "record_id",
            pl.col("row_hash").alias("sent_hash"),
            pl.col("updated_at").alias("sent_at"),
        )
    )


_SENT: dict[str, pl.DataType] = {
    "record_id": pl.String(),
    "sent_hash": pl.String(),
    "sent_at": pl.Datetime("us", "UTC"),
}


def _write_delivery(
    store: Store,
    run: _Delivery,
    target: DeliveryTarget,
    batch_id: str,
    changes: int,
    location: str,
    manifest: pl.DataFrame,
) -> None:
    with store.ctx.write() as conn:
        conn.execute(
            insert(deliveries).values(
                process=run.process.name,
                target=target.name,
                kind=target.kind,
                batch_id=batch_id,
                changes=changes,
                run_id=run.run_id,
                location=location,
                records=manifest.height,
                manifest=to_parquet(manifest),
                at=run.now,
            )
        )


def _output_dataset(report: TargetReport, columns: Sequence[Column]) -> Dataset:
    namespace, _, name = report.location.partition("#")
    return Dataset(
        namespace=f"{report.kind}:{namespace}",
        name=name or report.target,
        row_count=report.delivered,
        facets={"schema": schema_facet({column.name: column.kind for column in columns})},
    )
