"""Deliver a process's records to the targets its process file declares.

Each call is one ``deliver`` run in the store. Records are read ``chunk_size`` at a time
(memory stays bounded whatever their number); for each target, the live records in the
target's states are turned into rows (:mod:`rpaml_pipeline.delivery.columns`); a record
goes out only when its row differs from the row last delivered to that target, so running
``deliver`` again sends only what changed (a record delivered when validated goes out
again once it is decided). Every delivered record gets a ``deliver`` lineage event naming
the target, where the row went (file, table, URL) and the row's hash, so ``rpaml lineage
RECORD_ID`` shows each delivery; the run emits one OpenLineage output dataset per target.

Events are written after the target accepted the rows: a crash in between delivers those
rows again next time (at least once). The warehouse upsert makes that harmless; lake
readers that need exactly once keep one row per ``(record_id, content_hash, state)``.
A failing target is reported and does not stop the others.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError

from rpaml_pipeline.canonical import to_jsonable
from rpaml_pipeline.delivery.columns import Column, delivery_columns, record_row, row_hash
from rpaml_pipeline.delivery.sinks import (
    Delivered,
    PartialDeliveryError,
    Sink,
    open_sink,
    target_location,
)
from rpaml_pipeline.errors import DeliveryError
from rpaml_pipeline.lineage.openlineage import (
    Dataset,
    OpenLineageEmitter,
    rpaml_run_facet,
    schema_facet,
)
from rpaml_pipeline.process import ProcessDefinition, process_hash
from rpaml_pipeline.process.definition import DeliveryTarget
from rpaml_pipeline.sources.remote import masked
from rpaml_pipeline.steps.identity import config_hash
from rpaml_pipeline.store import Store
from rpaml_pipeline.store.schema import record_events

DELIVER_STEP = "deliver"
DELIVER_STEP_VERSION = "1"
_CHUNK = 500
CHUNK_SIZE = 10_000
"""Records read, turned into rows and handed to the targets at a time (bounds memory)."""
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
    *,
    data_dir: Path,
    names: Sequence[str] = (),
    emitter: OpenLineageEmitter | None = None,
    sleep: Callable[[float], None] = time.sleep,
    chunk_size: int = CHUNK_SIZE,
    variables: Mapping[str, str] | None = None,
) -> DeliveryReport:
    """Deliver ``process``'s records to its declared targets (only ``names`` when given),
    ``chunk_size`` records at a time. ``variables`` are what ``${NAME}`` in a target's URL
    or headers stands for (:meth:`RpamlSettings.variables`)."""
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
    targets = [declared[name] for name in names] if names else list(declared.values())
    columns = delivery_columns(process)
    run_id = store.start_run(
        process.name,
        "deliver",
        config_hash=process_hash(process),
        details={"targets": [target.name for target in targets]},
    )
    job = f"{process.name}.deliver"
    inputs = [Dataset(namespace=masked(store.url), name=f"{process.name}.records")]
    facets = {
        "rpaml": rpaml_run_facet(process=process.name, process_file_hash=process_hash(process))
    }
    if emitter is not None:
        emitter.start(run_id, job, inputs=inputs, run_facets=facets)
    report = DeliveryReport(run_id, process.name, [])
    try:
        delivery = _Delivery(
            store,
            process,
            targets,
            report,
            data_dir=data_dir,
            variables=dict(variables or {}),
            sleep=sleep,
        )
        delivery.run(chunk_size)
    except Exception as error:
        store.finish_run(run_id, "failed", {"error": str(error), **report.as_dict()})
        if emitter is not None:
            emitter.fail(run_id, job, error, inputs=inputs, run_facets=facets)
        raise
    store.finish_run(run_id, "succeeded" if report.ok else "failed", report.as_dict())
    if emitter is not None:
        outputs = [_output_dataset(item, columns) for item in report.targets]
        emitter.complete(run_id, job, inputs=inputs, outputs=outputs, run_facets=facets)
    return report


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
        # Row hashes of what each target was handed and has not confirmed yet (a report
        # confirms all its rows at the end, when its file is renamed into place).
        self.unconfirmed: dict[str, dict[str, str]] = {}
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

    def run(self, chunk_size: int) -> None:
        try:
            states = {state for target in self.targets for state in target.states}
            for chunk in self.store.iter_records(self.process.name, chunk=chunk_size):
                live = [r for r in chunk if r.superseded_by is None and r.state in states]
                live.sort(key=lambda r: (r.natural_key, r.revision))
                rows = {r.record_id: record_row(r, self.columns) for r in live}
                hashes = {record_id: row_hash(row) for record_id, row in rows.items()}
                for target in self.targets:
                    if self.outcomes[target.name].status != "failed":
                        wanted = [r.record_id for r in live if r.state in target.states]
                        self._send(target, wanted, rows, hashes)
            for target in self.targets:
                if self.outcomes[target.name].status != "failed":
                    self._guard(target, self.sinks[target.name].close)
        except BaseException:
            for sink in self.sinks.values():
                sink.abort()
            raise

    def _send(
        self,
        target: DeliveryTarget,
        wanted: Sequence[str],
        rows: Mapping[str, dict[str, Any]],
        hashes: Mapping[str, str],
    ) -> None:
        previous = _last_delivered(self.store, target.name, wanted)
        todo = [record_id for record_id in wanted if previous.get(record_id) != hashes[record_id]]
        self.outcomes[target.name].unchanged += len(wanted) - len(todo)
        if not todo:
            return
        extra = {"delivery_run_id": self.run_id, "delivered_at": self.now}
        out = [{**rows[record_id], **extra} for record_id in todo]
        self.unconfirmed[target.name].update((record_id, hashes[record_id]) for record_id in todo)
        self._guard(target, lambda: self.sinks[target.name].send(out))

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
        for ids, location in delivered:
            sent = self.unconfirmed[target.name]
            confirmed = {record_id: sent.pop(record_id) for record_id in ids}
            _write_events(
                self.store,
                self.run_id,
                target,
                location,
                ids,
                confirmed,
                config_hash(target),
                self.now,
            )
            outcome.delivered += len(ids)
            if location not in outcome.outputs:
                outcome.outputs.append(location)


def _last_delivered(store: Store, target: str, record_ids: Sequence[str]) -> dict[str, str]:
    """``{record_id: row hash}`` of the last row delivered to ``target``."""
    found: dict[str, str] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(record_ids), _CHUNK):
            query = (
                select(record_events.c.record_id, record_events.c.detail)
                .where(
                    record_events.c.step == DELIVER_STEP,
                    record_events.c.record_id.in_(record_ids[start : start + _CHUNK]),
                )
                .order_by(record_events.c.event_id)
            )
            for record_id, detail in conn.execute(query):
                if isinstance(detail, dict) and detail.get("target") == target:
                    found[record_id] = str(detail.get("row_hash"))
    return found


def _write_events(
    store: Store,
    run_id: str,
    target: DeliveryTarget,
    location: str,
    record_ids: Sequence[str],
    hashes: Mapping[str, str],
    step_config: str,
    at: dt.datetime,
) -> None:
    rows = [
        {
            "record_id": record_id,
            "run_id": run_id,
            "step": DELIVER_STEP,
            "step_version": DELIVER_STEP_VERSION,
            "config_hash": step_config,
            "from_state": None,
            "to_state": None,
            "at": at,
            "detail": to_jsonable(
                {
                    "target": target.name,
                    "kind": target.kind,
                    "location": location,
                    "row_hash": hashes[record_id],
                }
            ),
        }
        for record_id in record_ids
    ]
    with store.engine.begin() as conn:
        for start in range(0, len(rows), _CHUNK):
            conn.execute(insert(record_events), rows[start : start + _CHUNK])


def _output_dataset(report: TargetReport, columns: Sequence[Column]) -> Dataset:
    namespace, _, name = report.location.partition("#")
    return Dataset(
        namespace=f"{report.kind}:{namespace}",
        name=name or report.target,
        row_count=report.delivered,
        facets={"schema": schema_facet({column.name: column.kind for column in columns})},
    )
