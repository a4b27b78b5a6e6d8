"""Run the sources a process file declares: each source is one ``ingest`` run in the store.

Records get the same lineage fields as robot records: ``source`` is ``<kind>:<name>``
(``inbox:claims_inbox``), ``source_location`` the file and row, URL and position, or
database and query and row; ``captured_at`` when they were read; the store computes the
raw hash. A source that fails (an endpoint down, a query error) fails its own run; the
others still run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rpaml_pipeline.errors import MissingVariableError, SourceError
from rpaml_pipeline.lineage.openlineage import Dataset, OpenLineageEmitter, rpaml_run_facet
from rpaml_pipeline.process import ProcessDefinition, process_hash
from rpaml_pipeline.process.definition import HttpSource, InboxSource, SourceSpec, SqlSource
from rpaml_pipeline.process.placeholders import expand, shown
from rpaml_pipeline.sources.inbox import FileOutcome, take_inbox
from rpaml_pipeline.sources.remote import fetch_rows, masked, query_rows
from rpaml_pipeline.sources.rows import to_incoming
from rpaml_pipeline.store import Store


@dataclass
class SourceReport:
    """What one source's run did."""

    source: str
    kind: str
    run_id: str
    status: str = "succeeded"
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    rejected: list[str] = field(default_factory=list)
    """Rows (SQL, HTTP) that could not be staged, each with why."""
    files: list[FileOutcome] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (also the run's summary)."""
        return {
            "source": self.source,
            "kind": self.kind,
            "run_id": self.run_id,
            "status": self.status,
            "new": self.new,
            "revised": self.revised,
            "unchanged": self.unchanged,
            "rejected": list(self.rejected),
            "files": [item.as_dict() for item in self.files],
            "error": self.error,
        }


def source_location(spec: SourceSpec, data_dir: Path) -> str:
    """Where the source reads from, secrets masked (run details and lineage datasets).

    Placeholders stay as written (``${CLAIMS_DB_PASSWORD}``, never its value)."""
    if isinstance(spec, InboxSource):
        return str(data_dir / spec.path)
    return shown(spec.url, data_dir=data_dir, mask=masked)


def ingest_sources(
    store: Store,
    process: ProcessDefinition,
    *,
    data_dir: Path,
    names: Sequence[str] = (),
    emitter: OpenLineageEmitter | None = None,
    variables: Mapping[str, str] | None = None,
) -> list[SourceReport]:
    """Run the declared sources (only ``names`` when given), each as its own run.

    ``variables`` are what ``${NAME}`` in a source's URL or headers stands for
    (:meth:`RpamlSettings.variables`; see :mod:`rpaml_pipeline.process.placeholders`)."""
    declared = {spec.name: spec for spec in process.sources}
    if len(declared) != len(process.sources):
        raise SourceError(f"process {process.name}: two sources share a name; names must differ")
    unknown = [name for name in names if name not in declared]
    if unknown:
        known = ", ".join(declared) or "none"
        raise SourceError(
            f"process {process.name} declares no source {', '.join(unknown)} (declared: {known})"
        )
    chosen = [declared[name] for name in names] if names else list(declared.values())
    found = dict(variables or {})
    return [_run_source(store, process, spec, data_dir, found, emitter) for spec in chosen]


def _run_source(
    store: Store,
    process: ProcessDefinition,
    spec: SourceSpec,
    data_dir: Path,
    variables: Mapping[str, str],
    emitter: OpenLineageEmitter | None,
) -> SourceReport:
    location = source_location(spec, data_dir)
    config = process_hash(process)
    run_id = store.start_run(
        process.name,
        "ingest",
        config_hash=config,
        details={"source": spec.name, "kind": spec.kind, "location": location},
    )
    report = SourceReport(spec.name, spec.kind, run_id)
    job = f"{process.name}.ingest.{spec.name}"
    inputs = [Dataset(namespace=f"{spec.kind}:{spec.name}", name=location)]
    store_dataset = Dataset(namespace=masked(store.url), name=f"{process.name}.records")
    facets = {"rpaml": rpaml_run_facet(process=process.name, process_file_hash=config)}
    if emitter is not None:
        emitter.start(run_id, job, inputs=inputs, run_facets=facets)
    try:
        _read_into(store, process, spec, data_dir, variables, report)
    except Exception as error:
        report.status, report.error = "failed", str(error)
        store.finish_run(run_id, "failed", report.as_dict())
        if emitter is not None:
            emitter.fail(run_id, job, error, inputs=inputs, run_facets=facets)
        if not isinstance(error, SourceError | MissingVariableError):
            raise
        return report
    store.finish_run(run_id, "succeeded", report.as_dict())
    if emitter is not None:
        staged = Dataset(
            store_dataset.namespace, store_dataset.name, row_count=report.new + report.revised
        )
        emitter.complete(run_id, job, inputs=inputs, outputs=[staged], run_facets=facets)
    return report


def _read_into(
    store: Store,
    process: ProcessDefinition,
    spec: SourceSpec,
    data_dir: Path,
    variables: Mapping[str, str],
    report: SourceReport,
) -> None:
    key_fields = process.contract.natural_key
    if isinstance(spec, InboxSource):
        report.files = take_inbox(
            store, process.name, key_fields, spec, folder=data_dir / spec.path, run_id=report.run_id
        )
        for item in report.files:
            report.new += item.new
            report.revised += item.revised
            report.unchanged += item.unchanged
        return
    where = f"process {process.name}, source {spec.name}"
    if isinstance(spec, SqlSource):
        url = expand(spec.url, data_dir=data_dir, variables=variables, where=f"{where}: url")
        rows = query_rows(spec, url)
    else:
        assert isinstance(spec, HttpSource)
        url = expand(spec.url, data_dir=data_dir, variables=variables, where=f"{where}: url")
        headers = {
            name: expand(value, data_dir=data_dir, variables=variables, where=f"{where}: {name}")
            for name, value in spec.headers.items()
        }
        rows = fetch_rows(spec, url=url, headers=headers)
    records, report.rejected = to_incoming(
        rows,
        mapping=spec.fields,
        key_fields=key_fields,
        source=f"{spec.kind}:{spec.name}",
        captured_at=store.now(),
    )
    if records:
        result = store.ingest(process.name, records, run_id=report.run_id)
        report.new, report.revised, report.unchanged = result.new, result.revised, result.unchanged
